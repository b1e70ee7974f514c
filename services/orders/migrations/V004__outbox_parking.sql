-- The outbox relay retries a failed delivery with a growing delay and parks the row after
-- `outbox-max-attempts` deliveries: it is no longer delivered until an operator resumes it.
ALTER TABLE order_outbox ADD COLUMN parked_at DATETIME(6) NULL;
CREATE INDEX ix_outbox_parked ON order_outbox (parked_at);
