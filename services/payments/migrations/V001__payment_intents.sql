-- Payments schema (oms_payments): payment intents, their captures/voids/refunds, and the event log.
-- Portable between MySQL 8 and MariaDB 10.11. Only brand and last four digits of a card are kept.

CREATE TABLE IF NOT EXISTS payment_intents (
    id                 BIGINT UNSIGNED NOT NULL,             -- time-ordered 64-bit id
    idempotency_key    VARCHAR(255)    NOT NULL,             -- the caller's key (checkout id)
    request_hash       CHAR(64)        NOT NULL,             -- SHA-256 (hex) of the canonical request
    order_id           VARCHAR(64)     NOT NULL,             -- the orders service's id (decimal text)
    currency           CHAR(3)         NOT NULL,
    amount             BIGINT          NOT NULL,             -- minor units requested / authorized
    captured_amount    BIGINT          NOT NULL DEFAULT 0,
    refunded_amount    BIGINT          NOT NULL DEFAULT 0,
    status             VARCHAR(24)     NOT NULL,
    card_brand         VARCHAR(16)     NOT NULL,
    card_last4         CHAR(4)         NOT NULL,
    card_exp_month     TINYINT UNSIGNED NOT NULL,
    card_exp_year      SMALLINT UNSIGNED NOT NULL,
    provider           VARCHAR(32)     NOT NULL,
    provider_key       VARCHAR(320)    NOT NULL,             -- idempotency key sent to the provider
    provider_reference VARCHAR(128)    NULL,                 -- the provider's authorization id
    failure_code       VARCHAR(32)     NULL,
    claimed_until      DATETIME(6)     NULL,                 -- lease of the call talking to the provider
    result_code        INT             NULL,                 -- final Authorize answer (status code) ...
    result             BLOB            NULL,                 -- ... and its encoded reply, replayed on retries
    metadata           JSON            NOT NULL,
    checkout_id        VARCHAR(64) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(metadata, '$.checkout_id'))) VIRTUAL,
    version            INT UNSIGNED    NOT NULL DEFAULT 0,   -- optimistic lock
    created_at         DATETIME(6)     NOT NULL,
    updated_at         DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_payment_intents_idempotency_key (idempotency_key),
    KEY ix_payment_intents_order (order_id, id),
    KEY ix_payment_intents_pending (status, claimed_until),
    KEY ix_payment_intents_checkout (checkout_id),
    CONSTRAINT ck_payment_intents_ledger CHECK (
        amount > 0 AND amount <= 999999999999999
        AND captured_amount >= 0 AND captured_amount <= amount
        AND refunded_amount >= 0 AND refunded_amount <= captured_amount),
    CONSTRAINT ck_payment_intents_status CHECK (status IN
        ('pending', 'authorized', 'partially_captured', 'captured', 'voided',
         'partially_refunded', 'refunded', 'failed')),
    CONSTRAINT ck_payment_intents_no_capture_unless_authorized CHECK (
        status NOT IN ('pending', 'authorized', 'voided', 'failed') OR captured_amount = 0),
    CONSTRAINT ck_payment_intents_card CHECK (
        card_last4 REGEXP '^[0-9]{4}$' AND card_exp_month BETWEEN 1 AND 12),
    CONSTRAINT ck_payment_intents_currency CHECK (currency REGEXP '^[A-Z]{3}$'),
    CONSTRAINT ck_payment_intents_metadata CHECK (JSON_VALID(metadata))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Captures, voids and refunds: one row per caller idempotency key and kind. The ledger move is
-- applied to the intent in the same transaction that inserts the row; `state` says whether the
-- provider has confirmed it.
CREATE TABLE IF NOT EXISTS payment_operations (
    id              BIGINT UNSIGNED NOT NULL,
    payment_id      BIGINT UNSIGNED NOT NULL,
    kind            VARCHAR(8)      NOT NULL,
    idempotency_key VARCHAR(255)    NOT NULL,
    request_hash    CHAR(64)        NOT NULL,
    amount          BIGINT          NOT NULL,
    state           VARCHAR(16)     NOT NULL,
    claimed_until   DATETIME(6)     NULL,
    attempts        INT UNSIGNED    NOT NULL DEFAULT 0,
    result_code     INT             NULL,
    result          BLOB            NULL,
    version         INT UNSIGNED    NOT NULL DEFAULT 0,
    created_at      DATETIME(6)     NOT NULL,
    completed_at    DATETIME(6)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_payment_operations_key (kind, idempotency_key),
    KEY ix_payment_operations_payment (payment_id, id),
    KEY ix_payment_operations_state (state, claimed_until),
    CONSTRAINT fk_payment_operations_intent FOREIGN KEY (payment_id) REFERENCES payment_intents (id),
    CONSTRAINT ck_payment_operations_kind CHECK (kind IN ('capture', 'void', 'refund')),
    CONSTRAINT ck_payment_operations_amount CHECK (amount >= 0 AND amount <= 999999999999999),
    CONSTRAINT ck_payment_operations_state CHECK (state IN ('pending', 'succeeded'))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;

-- Every move of an intent, written in the transaction that makes the move.
CREATE TABLE IF NOT EXISTS payment_events (
    id             BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    payment_id     BIGINT UNSIGNED NOT NULL,
    event          VARCHAR(32)     NOT NULL,
    amount         BIGINT          NOT NULL DEFAULT 0,
    from_status    VARCHAR(24)     NULL,
    to_status      VARCHAR(24)     NOT NULL,
    intent_version INT UNSIGNED    NOT NULL,
    operation_id   BIGINT UNSIGNED NULL,
    details        JSON            NULL,
    created_at     DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY ix_payment_events_payment (payment_id, id),
    CONSTRAINT fk_payment_events_intent FOREIGN KEY (payment_id) REFERENCES payment_intents (id),
    CONSTRAINT ck_payment_events_amount CHECK (amount >= 0),
    CONSTRAINT ck_payment_events_details CHECK (details IS NULL OR JSON_VALID(details))
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
