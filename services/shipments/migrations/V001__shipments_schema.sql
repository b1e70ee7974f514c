-- oms_shipments: shipments, their lines and tracking events, per-order-line allocations, and the
-- transactional outbox to payments (captures) and orders (shipped / delivered records).
-- Portable between MySQL 8 and MariaDB 10.11. See docs/shipments.md.
-- Identifiers and keys compare byte-wise (utf8mb4_bin): "K1" and "k1" are different keys.

-- One row per shipment. State changes use optimistic locking on `version`
-- (UPDATE ... SET ..., version = version + 1 WHERE id = ? AND version = ?).
-- The carrier label is a JSON document; carrier and tracking number are generated from it and indexed,
-- so a carrier webhook can find its shipment by tracking number.
CREATE TABLE IF NOT EXISTS shipments (
    id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    warehouse VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    status VARCHAR(16) NOT NULL,
    payment_id VARCHAR(128) COLLATE utf8mb4_bin NOT NULL,
    currency CHAR(3) NOT NULL,
    -- The shipped share: sum of quantity * unit price over the shipment's lines.
    amount_minor BIGINT NOT NULL,
    idempotency_key VARCHAR(128) COLLATE utf8mb4_bin NULL,
    request_hash CHAR(64) NULL,
    label JSON NULL,
    carrier VARCHAR(64) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(label, '$.carrier'))) STORED,
    tracking_number VARCHAR(64) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(label, '$.tracking_number'))) STORED,
    cancel_reason VARCHAR(512) NULL,
    version BIGINT NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    shipped_at DATETIME(6) NULL,
    delivered_at DATETIME(6) NULL,
    cancelled_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_shipments_idempotency (idempotency_key),
    KEY ix_shipments_order (order_id, id),
    KEY ix_shipments_tracking (tracking_number),
    KEY ix_shipments_status (status, updated_at),
    CONSTRAINT ck_shipments_status CHECK (status IN ('pending', 'label_created', 'shipped', 'delivered', 'cancelled')),
    CONSTRAINT ck_shipments_label CHECK (status IN ('pending', 'cancelled') OR label IS NOT NULL),
    CONSTRAINT ck_shipments_amount CHECK (amount_minor >= 0),
    CONSTRAINT ck_shipments_currency CHECK (CHAR_LENGTH(currency) = 3),
    CONSTRAINT ck_shipments_order CHECK (order_id > 0),
    CONSTRAINT ck_shipments_version CHECK (version >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- The order lines in a shipment, with the unit price copied from the order at creation.
CREATE TABLE IF NOT EXISTS shipment_lines (
    shipment_id BIGINT NOT NULL,
    line_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    position SMALLINT NOT NULL,
    sku VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    quantity BIGINT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    PRIMARY KEY (shipment_id, line_id),
    CONSTRAINT fk_shipment_lines_shipment FOREIGN KEY (shipment_id) REFERENCES shipments (id),
    CONSTRAINT ck_shipment_lines_quantity CHECK (quantity > 0),
    CONSTRAINT ck_shipment_lines_price CHECK (unit_price_minor >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every state a shipment entered, oldest first (by id), written in the transaction of the move.
CREATE TABLE IF NOT EXISTS shipment_tracking_events (
    id BIGINT NOT NULL AUTO_INCREMENT,
    shipment_id BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    detail VARCHAR(600) NOT NULL,
    at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_tracking_events_shipment (shipment_id, id),
    CONSTRAINT fk_tracking_events_shipment FOREIGN KEY (shipment_id) REFERENCES shipments (id),
    CONSTRAINT ck_tracking_events_status CHECK (
        status IN ('pending', 'label_created', 'shipped', 'delivered', 'cancelled'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Per order line: units ordered, allocated to live (not cancelled) shipments, shipped, delivered.
-- Seeded from the order the first time one of its lines is shipped. Writers lock these rows with
-- SELECT ... FOR UPDATE by primary key in ascending (order_id, line_id) order, so concurrent
-- shipments of one order serialise per line and never deadlock on each other; the CHECKs make an
-- over-allocation impossible even if the code were wrong.
CREATE TABLE IF NOT EXISTS order_line_allocations (
    order_id BIGINT NOT NULL,
    line_id VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    sku VARCHAR(64) COLLATE utf8mb4_bin NOT NULL,
    ordered_quantity BIGINT NOT NULL,
    allocated_quantity BIGINT NOT NULL DEFAULT 0,
    shipped_quantity BIGINT NOT NULL DEFAULT 0,
    delivered_quantity BIGINT NOT NULL DEFAULT 0,
    unit_price_minor BIGINT NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (order_id, line_id),
    CONSTRAINT ck_allocations_ordered CHECK (ordered_quantity > 0),
    CONSTRAINT ck_allocations_allocated CHECK (allocated_quantity >= 0 AND allocated_quantity <= ordered_quantity),
    CONSTRAINT ck_allocations_shipped CHECK (shipped_quantity >= 0 AND shipped_quantity <= allocated_quantity),
    CONSTRAINT ck_allocations_delivered CHECK (delivered_quantity >= 0 AND delivered_quantity <= shipped_quantity)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Transactional outbox: cross-service effects written in the transaction of the state change and
-- relayed at least once by the outbox relay job to idempotent receivers (payments Capture keyed
-- `shipment:<id>`, orders RecordShipment keyed by shipment id and kind). One row per (shipment, kind).
CREATE TABLE IF NOT EXISTS outbox (
    id BIGINT NOT NULL AUTO_INCREMENT,
    shipment_id BIGINT NOT NULL,
    order_id BIGINT NOT NULL,
    target VARCHAR(16) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    idempotency_key VARCHAR(160) COLLATE utf8mb4_bin NOT NULL,
    payload JSON NOT NULL,
    payment_id VARCHAR(128) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(payload, '$.payment_id'))) STORED,
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    attempts INT NOT NULL DEFAULT 0,
    next_attempt_at DATETIME(6) NOT NULL,
    lease_owner VARCHAR(128) NULL,
    lease_until DATETIME(6) NULL,
    last_error VARCHAR(512) NULL,
    result VARCHAR(128) NULL,
    created_at DATETIME(6) NOT NULL,
    done_at DATETIME(6) NULL,
    PRIMARY KEY (id),
    UNIQUE KEY ux_outbox_kind (shipment_id, kind),
    UNIQUE KEY ux_outbox_idempotency (idempotency_key),
    KEY ix_outbox_due (status, next_attempt_at, id),
    KEY ix_outbox_lease (lease_owner),
    KEY ix_outbox_payment (payment_id),
    CONSTRAINT ck_outbox_target CHECK (target IN ('payments', 'orders')),
    CONSTRAINT ck_outbox_kind CHECK (kind IN ('capture', 'order_shipped', 'order_delivered')),
    CONSTRAINT ck_outbox_status CHECK (status IN ('pending', 'done', 'failed')),
    CONSTRAINT ck_outbox_attempts CHECK (attempts >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
