-- Authorizations withdrawn by their idempotency key (CancelAuthorization). Inserting the intent
-- and inserting a cancellation each lock their own key and then read the other table with a
-- locking read, so whichever commits first wins and the other sees it: an Authorize that arrives
-- after its cancellation is refused without calling the provider.
CREATE TABLE IF NOT EXISTS authorization_cancellations (
    idempotency_key VARCHAR(255) NOT NULL,
    reason          VARCHAR(500) NOT NULL,
    created_at      DATETIME(6)  NOT NULL,
    PRIMARY KEY (idempotency_key)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_bin;
