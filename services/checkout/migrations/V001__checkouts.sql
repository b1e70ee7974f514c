-- Checkout coordinator (oms_checkout): the saga log. Portable between MySQL 8 and MariaDB 10.11.
-- See docs/checkout.md for the meaning of every column and the life of a row.

CREATE TABLE IF NOT EXISTS checkouts (
  -- Time-ordered 64-bit id (decimal string on the wire); also the reservation id, the order's
  -- checkout id and the payment's Authorize idempotency key.
  checkout_id BIGINT NOT NULL,
  -- The caller's key; binary collation so keys differing in case are different keys.
  idempotency_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  -- SHA-256 (hex) of the canonical request (no card number or CVC in it).
  request_hash CHAR(64) CHARACTER SET ascii NOT NULL,
  -- The saga phase (CheckoutPhase) and the whole saga value (CheckoutSaga as JSON).
  phase VARCHAR(32) CHARACTER SET ascii NOT NULL,
  saga JSON NOT NULL,
  -- The request as stored: the order draft with catalog prices, and the card's last four digits.
  request JSON NOT NULL,
  customer_id VARCHAR(255) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(request, '$.draft.customer.customerID'))) VIRTUAL,
  order_id VARCHAR(64) NULL,
  payment_id VARCHAR(64) NULL,
  -- The final answer (CheckoutOutcome as JSON), set when the checkout ends.
  result JSON NULL,
  outcome VARCHAR(32) GENERATED ALWAYS AS (JSON_UNQUOTE(JSON_EXTRACT(result, '$.kind'))) VIRTUAL,
  is_open TINYINT NOT NULL DEFAULT 1,
  -- Drive passes (the first by the handler, then one per recovery claim).
  attempts INT NOT NULL DEFAULT 0,
  -- Earliest time recovery may try again (backoff while a service is down).
  next_attempt_at DATETIME(6) NOT NULL,
  -- Which coordinator instance drives the checkout, and until when.
  lease_owner VARCHAR(128) NULL,
  lease_expires_at DATETIME(6) NOT NULL,
  -- Optimistic lock: every change is UPDATE ... WHERE checkout_id = ? AND version = ?.
  version BIGINT NOT NULL DEFAULT 0,
  created_at DATETIME(6) NOT NULL,
  updated_at DATETIME(6) NOT NULL,
  finished_at DATETIME(6) NULL,
  PRIMARY KEY (checkout_id),
  UNIQUE KEY uq_checkouts_idempotency_key (idempotency_key),
  KEY ix_checkouts_recovery (is_open, lease_expires_at),
  KEY ix_checkouts_customer (customer_id),
  KEY ix_checkouts_outcome (outcome, checkout_id),
  CONSTRAINT ck_checkouts_phase CHECK (phase IN (
    'recorded', 'reserving', 'reserved', 'creatingOrder', 'orderCreated', 'authorizing', 'authorized',
    'confirmingOrder', 'orderConfirmed', 'committingReservation', 'completed',
    'voidingPayment', 'cancellingOrder', 'releasingReservation', 'compensated')),
  CONSTRAINT ck_checkouts_open CHECK (is_open IN (0, 1)),
  CONSTRAINT ck_checkouts_final CHECK ((is_open = 0) = (phase IN ('completed', 'compensated'))),
  CONSTRAINT ck_checkouts_result CHECK ((is_open = 1) OR (result IS NOT NULL)),
  CONSTRAINT ck_checkouts_attempts CHECK (attempts >= 0),
  CONSTRAINT ck_checkouts_version CHECK (version >= 0),
  CONSTRAINT ck_checkouts_saga CHECK (JSON_VALID(saga)),
  CONSTRAINT ck_checkouts_request CHECK (JSON_VALID(request))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- The step log: one row per transition, written in the same transaction as the checkouts row.
-- An `intent` row is written before a step's call, its `result`/`unknown` row after it.
CREATE TABLE IF NOT EXISTS checkout_events (
  event_id BIGINT NOT NULL AUTO_INCREMENT,
  checkout_id BIGINT NOT NULL,
  -- checkouts.version after the change.
  version BIGINT NOT NULL,
  kind VARCHAR(32) CHARACTER SET ascii NOT NULL,
  step VARCHAR(32) CHARACTER SET ascii NULL,
  from_phase VARCHAR(32) CHARACTER SET ascii NULL,
  to_phase VARCHAR(32) CHARACTER SET ascii NOT NULL,
  detail JSON NULL,
  owner VARCHAR(128) NULL,
  created_at DATETIME(6) NOT NULL,
  PRIMARY KEY (event_id),
  KEY ix_checkout_events_checkout (checkout_id, event_id),
  CONSTRAINT fk_checkout_events_checkout FOREIGN KEY (checkout_id) REFERENCES checkouts (checkout_id),
  CONSTRAINT ck_checkout_events_kind CHECK (kind IN (
    'recorded', 'intent', 'result', 'unknown', 'resolved', 'compensation', 'claimed', 'deferred', 'finished')),
  CONSTRAINT ck_checkout_events_detail CHECK (detail IS NULL OR JSON_VALID(detail))
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
