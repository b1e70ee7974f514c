-- AdjustStock honours the protocol's idempotency-key metadata: the same key applies once and
-- returns the first result; the same key with a different request is refused. One row per key,
-- written in the adjustment's own transaction, so a repeat can never add the stock twice.
CREATE TABLE IF NOT EXISTS stock_adjustments (
    idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    fingerprint VARCHAR(80) CHARACTER SET ascii NOT NULL,
    sku VARCHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL,
    ledger_id BIGINT NOT NULL,
    delta_on_hand BIGINT NOT NULL,
    on_hand_after BIGINT NOT NULL,
    reserved_after BIGINT NOT NULL,
    created_at DATETIME(6) NOT NULL,
    PRIMARY KEY (idempotency_key),
    KEY stock_adjustments_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
