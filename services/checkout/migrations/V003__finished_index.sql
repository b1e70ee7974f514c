-- Finished checkouts by end time, for the retention job (CheckoutRepository.purgeFinished).
CREATE INDEX ix_checkouts_finished ON checkouts (is_open, finished_at);
