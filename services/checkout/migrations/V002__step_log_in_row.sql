-- The step log moves into the checkouts row: each saga write becomes one autocommit UPDATE that
-- appends its entries with JSON_ARRAY_APPEND, instead of START TRANSACTION, UPDATE, INSERT INTO
-- checkout_events and COMMIT (four statements and a foreign-key check per write).
-- Entries: {"version", "kind", "step", "from", "to", "detail", "owner", "at"}; see docs/checkout.md.
-- checkout_events keeps the rows of checkouts written before this migration and is read with them.
ALTER TABLE checkouts ADD COLUMN step_log JSON NULL;
