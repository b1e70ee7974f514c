-- Request fingerprints are stored versioned ("v2:" and 64 hex digits, RequestFingerprint) instead of
-- 64 bare hex digits; rows written before keep their value and are checked by the old computation.
ALTER TABLE payment_intents MODIFY request_hash VARCHAR(80) NOT NULL;
ALTER TABLE payment_operations MODIFY request_hash VARCHAR(80) NOT NULL;
