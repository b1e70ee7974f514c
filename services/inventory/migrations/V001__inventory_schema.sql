-- oms_inventory: catalog, stock, reservations, the append-only stock ledger and the
-- reconciliation log. Portable between MySQL 8 and MariaDB 10.11. See docs/inventory.md.

-- Products: the catalog is the only source of prices (integer minor units + ISO 4217 code).
CREATE TABLE IF NOT EXISTS products (
    sku VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    name VARCHAR(200) NOT NULL,
    price_minor BIGINT NOT NULL,
    currency CHAR(3) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    attributes JSON NOT NULL,
    -- Generated columns over the JSON attributes, indexed for catalog queries.
    brand VARCHAR(100) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.brand'))) VIRTUAL,
    category VARCHAR(100) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.category'))) VIRTUAL,
    active TINYINT NOT NULL DEFAULT 1,
    version BIGINT NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (sku),
    KEY products_brand (brand),
    KEY products_category (category),
    CONSTRAINT products_price_nonnegative CHECK (price_minor >= 0),
    CONSTRAINT products_currency_format CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT products_active_bool CHECK (active IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Stock per SKU: the source of truth. available = on_hand - reserved >= 0, enforced here too.
-- Rows are locked pessimistically by primary key in sorted order (SELECT ... FOR UPDATE).
CREATE TABLE IF NOT EXISTS stock (
    sku VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    on_hand BIGINT NOT NULL DEFAULT 0,
    reserved BIGINT NOT NULL DEFAULT 0,
    version BIGINT NOT NULL DEFAULT 1,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (sku),
    CONSTRAINT stock_on_hand_nonnegative CHECK (on_hand >= 0),
    CONSTRAINT stock_reserved_nonnegative CHECK (reserved >= 0),
    CONSTRAINT stock_available_nonnegative CHECK (on_hand - reserved >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Reservations. `tombstone` = 1 marks a release recorded before any Reserve with that id
-- (state 'released'); a later Reserve with the id is refused. `gate_token` names the Redis gate
-- take whose units this reservation owns (docs/inventory.md, "Gate tokens").
CREATE TABLE IF NOT EXISTS reservations (
    id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    state VARCHAR(16) CHARACTER SET ascii NOT NULL,
    tombstone TINYINT NOT NULL DEFAULT 0,
    reference VARCHAR(128) NOT NULL DEFAULT '',
    order_id VARCHAR(128) NULL,
    release_reason VARCHAR(200) NULL,
    gate_token VARCHAR(40) CHARACTER SET ascii NULL,
    lines_digest CHAR(64) CHARACTER SET ascii NOT NULL,
    expires_at DATETIME(6) NOT NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY reservations_expiry (state, expires_at),
    CONSTRAINT reservations_state_known CHECK (state IN ('held', 'committed', 'released', 'expired')),
    CONSTRAINT reservations_tombstone_bool CHECK (tombstone IN (0, 1))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS reservation_lines (
    reservation_id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    sku VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    quantity BIGINT NOT NULL,
    PRIMARY KEY (reservation_id, sku),
    KEY reservation_lines_sku (sku),
    CONSTRAINT reservation_lines_reservation FOREIGN KEY (reservation_id) REFERENCES reservations (id),
    CONSTRAINT reservation_lines_quantity_range CHECK (quantity > 0 AND quantity <= 1000000)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- Append-only: one row per change of a stock row (triggers below refuse UPDATE and DELETE).
CREATE TABLE IF NOT EXISTS stock_ledger (
    id BIGINT NOT NULL AUTO_INCREMENT,
    sku VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    delta_on_hand BIGINT NOT NULL,
    delta_reserved BIGINT NOT NULL,
    on_hand_after BIGINT NOT NULL,
    reserved_after BIGINT NOT NULL,
    kind VARCHAR(16) CHARACTER SET ascii NOT NULL,
    reason VARCHAR(200) NOT NULL DEFAULT '',
    reference VARCHAR(128) NOT NULL DEFAULT '',
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY stock_ledger_sku (sku, id),
    KEY stock_ledger_reference (reference),
    CONSTRAINT stock_ledger_kind_known CHECK (
        kind IN ('create', 'receive', 'correct', 'set', 'reserve', 'commit', 'release', 'expire')),
    CONSTRAINT stock_ledger_after_valid CHECK (
        on_hand_after >= 0 AND reserved_after >= 0 AND on_hand_after - reserved_after >= 0)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

DROP TRIGGER IF EXISTS stock_ledger_no_update;
CREATE TRIGGER stock_ledger_no_update BEFORE UPDATE ON stock_ledger FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'stock_ledger is append-only';
DROP TRIGGER IF EXISTS stock_ledger_no_delete;
CREATE TRIGGER stock_ledger_no_delete BEFORE DELETE ON stock_ledger FOR EACH ROW
    SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'stock_ledger is append-only';

-- One row per SKU whose Redis gate drifted more than the alert threshold from MySQL.
CREATE TABLE IF NOT EXISTS reconciliation_events (
    id BIGINT NOT NULL AUTO_INCREMENT,
    run_id VARCHAR(40) CHARACTER SET ascii NOT NULL,
    sku VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    redis_units BIGINT NULL,
    mysql_available BIGINT NOT NULL,
    in_flight BIGINT NOT NULL,
    drift BIGINT NOT NULL,
    repaired TINYINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY reconciliation_events_sku (sku, id),
    KEY reconciliation_events_run (run_id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
