-- oms_orders: orders, their lines and audit trail (partitioned by month through time-ordered ids),
-- plus the unpartitioned side tables that carry the unique keys a partitioned table cannot.
-- Portable between MySQL 8 and MariaDB 10.11. See docs/orders.md.

-- Orders. `id` is a time-ordered 64-bit id (docs/orders.md), so RANGE partitions by id are months.
-- Partitioned InnoDB tables take no foreign keys and every unique key must contain `id`:
-- uniqueness of checkout ids lives in `order_checkouts`, integrity is kept by the service's
-- transactions. The maintenance job splits `pmax` into monthly partitions ahead of time.
CREATE TABLE IF NOT EXISTS orders (
    id BIGINT NOT NULL,
    checkout_id VARCHAR(128) NOT NULL,
    customer_id VARCHAR(64) NOT NULL,
    customer_name VARCHAR(200) NOT NULL,
    customer_email VARCHAR(254) NOT NULL,
    status VARCHAR(20) NOT NULL,
    currency CHAR(3) NOT NULL,
    total_minor BIGINT NOT NULL,
    paid_minor BIGINT NOT NULL DEFAULT 0,
    refunded_minor BIGINT NOT NULL DEFAULT 0,
    payment_reference VARCHAR(128) NULL,
    reservation_id VARCHAR(128) NULL,
    cancel_reason VARCHAR(500) NULL,
    shipping_address JSON NOT NULL,
    metadata JSON NOT NULL,
    is_gift TINYINT GENERATED ALWAYS AS (
        CASE WHEN JSON_UNQUOTE(JSON_EXTRACT(metadata, '$.gift')) = 'true' THEN 1 ELSE 0 END) STORED,
    delivery_preference VARCHAR(32) GENERATED ALWAYS AS (
        JSON_UNQUOTE(JSON_EXTRACT(metadata, '$.delivery_preference'))) STORED,
    version INT NOT NULL DEFAULT 1,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    KEY ix_orders_customer (customer_id, id),
    KEY ix_orders_delivery (delivery_preference, id),
    KEY ix_orders_gift (is_gift, id),
    CONSTRAINT ck_orders_status CHECK (status IN ('pending_payment', 'confirmed', 'partially_shipped', 'shipped',
        'delivered', 'cancelled', 'partially_returned', 'returned')),
    CONSTRAINT ck_orders_currency CHECK (CHAR_LENGTH(currency) = 3),
    CONSTRAINT ck_orders_total CHECK (total_minor >= 0),
    CONSTRAINT ck_orders_paid CHECK (paid_minor >= 0 AND paid_minor <= total_minor),
    CONSTRAINT ck_orders_refunded CHECK (refunded_minor >= 0 AND refunded_minor <= paid_minor),
    CONSTRAINT ck_orders_version CHECK (version >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
PARTITION BY RANGE (id) (PARTITION pmax VALUES LESS THAN MAXVALUE);

-- Order lines; same partitioning as `orders` (by order id), so a month archives as one unit.
CREATE TABLE IF NOT EXISTS order_items (
    order_id BIGINT NOT NULL,
    line_no SMALLINT NOT NULL,
    sku VARCHAR(64) NOT NULL,
    product_name VARCHAR(200) NOT NULL,
    quantity INT NOT NULL,
    unit_price_minor BIGINT NOT NULL,
    line_total_minor BIGINT NOT NULL,
    shipped_qty INT NOT NULL DEFAULT 0,
    returned_qty INT NOT NULL DEFAULT 0,
    attributes JSON NOT NULL,
    attr_size VARCHAR(32) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.size'))) STORED,
    attr_colour VARCHAR(32) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(attributes, '$.colour'))) STORED,
    PRIMARY KEY (order_id, line_no),
    KEY ix_items_attributes (attr_colour, attr_size, order_id),
    KEY ix_items_sku (sku, order_id),
    CONSTRAINT ck_items_line CHECK (line_no >= 1),
    CONSTRAINT ck_items_quantity CHECK (quantity > 0),
    CONSTRAINT ck_items_price CHECK (unit_price_minor >= 0),
    CONSTRAINT ck_items_total CHECK (line_total_minor = quantity * unit_price_minor),
    CONSTRAINT ck_items_shipped CHECK (shipped_qty >= 0 AND shipped_qty <= quantity),
    CONSTRAINT ck_items_returned CHECK (returned_qty >= 0 AND returned_qty <= shipped_qty)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
PARTITION BY RANGE (order_id) (PARTITION pmax VALUES LESS THAN MAXVALUE);

-- Audit trail: one row per transition, `seq` = the order's version after it (1 = created).
CREATE TABLE IF NOT EXISTS order_events (
    order_id BIGINT NOT NULL,
    seq INT NOT NULL,
    event VARCHAR(32) NOT NULL,
    from_status VARCHAR(20) NULL,
    to_status VARCHAR(20) NOT NULL,
    detail JSON NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (order_id, seq),
    CONSTRAINT ck_events_seq CHECK (seq >= 1)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci
PARTITION BY RANGE (order_id) (PARTITION pmax VALUES LESS THAN MAXVALUE);

-- CreateOrder idempotency and the lookup by checkout id (a unique key `orders` cannot hold).
CREATE TABLE IF NOT EXISTS order_checkouts (
    checkout_id VARCHAR(128) NOT NULL,
    order_id BIGINT NOT NULL,
    request_hash CHAR(64) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (checkout_id),
    KEY ix_checkouts_order (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Shipments reported by the shipments service; RecordShipment is idempotent per shipment id.
CREATE TABLE IF NOT EXISTS order_shipments (
    shipment_id VARCHAR(128) NOT NULL,
    order_id BIGINT NOT NULL,
    status VARCHAR(16) NOT NULL,
    shipped_lines JSON NOT NULL,
    created_at DATETIME(6) NOT NULL,
    updated_at DATETIME(6) NOT NULL,
    PRIMARY KEY (shipment_id),
    KEY ix_shipments_order (order_id),
    CONSTRAINT ck_shipments_status CHECK (status IN ('shipped', 'delivered'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Returns (written by the oms_request_return procedure only).
CREATE TABLE IF NOT EXISTS order_returns (
    id BIGINT NOT NULL AUTO_INCREMENT,
    order_id BIGINT NOT NULL,
    request_key VARCHAR(128) NOT NULL,
    currency CHAR(3) NOT NULL,
    refund_minor BIGINT NOT NULL,
    reason VARCHAR(500) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_returns_request (request_key),
    KEY ix_returns_order (order_id, id),
    CONSTRAINT ck_returns_refund CHECK (refund_minor >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE IF NOT EXISTS order_return_lines (
    return_id BIGINT NOT NULL,
    line_no SMALLINT NOT NULL,
    sku VARCHAR(64) NOT NULL,
    quantity INT NOT NULL,
    value_minor BIGINT NOT NULL,
    PRIMARY KEY (return_id, line_no),
    CONSTRAINT ck_return_lines_quantity CHECK (quantity > 0),
    CONSTRAINT ck_return_lines_value CHECK (value_minor >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Transactional outbox: refunds (payments) and restocks (inventory) written in the same transaction
-- as the return, delivered at least once by the relay job to idempotent receivers.
CREATE TABLE IF NOT EXISTS order_outbox (
    id BIGINT NOT NULL AUTO_INCREMENT,
    kind VARCHAR(16) NOT NULL,
    dedupe_key VARCHAR(200) NOT NULL,
    order_id BIGINT NOT NULL,
    payload JSON NOT NULL,
    attempts INT NOT NULL DEFAULT 0,
    lease_until DATETIME(6) NULL,
    delivered_at DATETIME(6) NULL,
    last_error VARCHAR(500) NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uq_outbox_dedupe (dedupe_key),
    KEY ix_outbox_pending (delivered_at, id),
    CONSTRAINT ck_outbox_kind CHECK (kind IN ('refund', 'restock')),
    CONSTRAINT ck_outbox_attempts CHECK (attempts >= 0)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Search read model (InnoDB FULLTEXT is not allowed on partitioned tables, hence a separate table),
-- written in the same transaction as every change of the order it describes.
CREATE TABLE IF NOT EXISTS order_search (
    order_id BIGINT NOT NULL,
    customer_id VARCHAR(64) NOT NULL,
    status VARCHAR(20) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (order_id),
    KEY ix_search_status (status, order_id),
    FULLTEXT KEY ft_search_doc (doc)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
