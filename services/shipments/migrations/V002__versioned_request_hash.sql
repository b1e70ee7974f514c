-- Request fingerprints are stored versioned ("v2:" and 64 hex digits, RequestFingerprint) instead of
-- the SHA-256 hex of the joined request text; rows written before keep their value and are checked
-- by the old computation.
ALTER TABLE shipments MODIFY request_hash VARCHAR(80) NULL;
