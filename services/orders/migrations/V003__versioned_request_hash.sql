-- Request fingerprints are stored versioned ("v2:" and 64 hex digits, RequestFingerprint) instead of
-- the FNV-based 64-character digest; rows written before keep their value and are checked by the old
-- computation.
ALTER TABLE order_checkouts MODIFY request_hash VARCHAR(80) NOT NULL;
