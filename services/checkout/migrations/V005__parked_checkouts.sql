-- Recovery gives up on a checkout after `max-attempts` passes and parks it: it stays open but is
-- no longer claimed until an operator resumes it (ResumeCheckout, `omsctl checkout resume`).
ALTER TABLE checkouts
  ADD COLUMN parked_at DATETIME(6) NULL,
  ADD COLUMN parked_reason VARCHAR(500) NULL;
CREATE INDEX ix_checkouts_parked ON checkouts (parked_at);
