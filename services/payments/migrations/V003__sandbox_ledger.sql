-- The built-in sandbox provider's own records, so that it remembers its authorizations across
-- restarts of the service like a real processor does (a capture after a restart used to be
-- refused as "unknown authorization"). Written only by SandboxPaymentProvider; a real provider
-- adapter keeps its state at the provider and does not use these tables.
CREATE TABLE IF NOT EXISTS sandbox_authorizations (
    idempotency_key VARCHAR(255) NOT NULL,
    -- What makes a repeated request the same request (amount, currency, card brand/last4/expiry).
    fingerprint     VARCHAR(255) NOT NULL,
    amount          BIGINT       NOT NULL,
    -- 'approved' or the decline code.
    outcome         VARCHAR(32)  NOT NULL,
    reference       VARCHAR(64)  NULL,
    captured        BIGINT       NOT NULL DEFAULT 0,
    refunded        BIGINT       NOT NULL DEFAULT 0,
    voided          TINYINT      NOT NULL DEFAULT 0,
    created_at      DATETIME(6)  NOT NULL,
    PRIMARY KEY (idempotency_key),
    UNIQUE KEY uq_sandbox_authorizations_reference (reference),
    CONSTRAINT ck_sandbox_amounts CHECK (captured >= 0 AND refunded >= 0 AND refunded <= captured AND captured <= amount)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Capture, void and refund requests by their idempotency key.
CREATE TABLE IF NOT EXISTS sandbox_operations (
    idempotency_key VARCHAR(255) NOT NULL,
    fingerprint     VARCHAR(255) NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    PRIMARY KEY (idempotency_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
