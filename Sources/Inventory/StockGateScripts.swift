import OMSRedis

/// The Redis Lua scripts of the stock gate: versioned resources run with EVALSHA (reloaded on NOSCRIPT).
/// Bump `version` whenever a source changes. Key layout and semantics: docs/inventory.md, "The gate".
///
/// Keys (prefix `P`, default `oms:inv:`):
/// - `P{sku}:avail`: units the gate may still hand out = MySQL available − in-flight holds.
/// - `P{sku}:holds`: hash reservation id → `qty:token:unixSeconds`, one field per gate take not yet
///   settled against MySQL (the in-flight holds).
/// - `Pres:{id}`: hash `state` (`gate` | `db` | `released` | `tomb`), `token`, `digest`, `at`; expires after
///   the reservation's time to live plus a grace period.
enum StockGateScripts {
    /// All lines or none. KEYS: res, then (avail, holds) per line. ARGV: id, token, res TTL seconds, lines
    /// digest, then the quantity of each line.
    /// Replies `{'OK'}`, `{'DUP', state, token, digest}`, `{'MISSING', {line numbers}}` or
    /// `{'SHORT', {line number, units, ...}}`.
    static let reserve = RedisScript(
        name: "oms.inventory.gate.reserve", version: 1,
        source: """
            local st = redis.call('HMGET', KEYS[1], 'state', 'token', 'digest')
            if st[1] then
              return {'DUP', st[1], st[2] or '', st[3] or ''}
            end
            local n = (#KEYS - 1) / 2
            local missing = {}
            local short = {}
            for k = 1, n do
              local v = redis.call('GET', KEYS[2 * k])
              if not v then
                missing[#missing + 1] = k
              elseif tonumber(v) < tonumber(ARGV[4 + k]) then
                short[#short + 1] = k
                short[#short + 1] = tonumber(v)
              end
            end
            if #missing > 0 then return {'MISSING', missing} end
            if #short > 0 then return {'SHORT', short} end
            local now = redis.call('TIME')[1]
            for k = 1, n do
              redis.call('DECRBY', KEYS[2 * k], ARGV[4 + k])
              redis.call('HSET', KEYS[2 * k + 1], ARGV[1], ARGV[4 + k] .. ':' .. ARGV[2] .. ':' .. now)
            end
            redis.call('HSET', KEYS[1], 'state', 'gate', 'token', ARGV[2], 'digest', ARGV[4], 'at', now)
            redis.call('EXPIRE', KEYS[1], ARGV[3])
            return {'OK'}
            """)

    /// After MySQL wrote the reservation with `gate_token` = ARGV[2]: a take with that token is confirmed
    /// (holds dropped, units stay taken); a take with another token was redundant (its units go back).
    /// KEYS: res, then (avail, holds) per line. ARGV: id, database token. Replies 0 (nothing to do), 1
    /// (confirmed) or 2 (redundant take returned).
    static let settle = RedisScript(
        name: "oms.inventory.gate.settle", version: 1,
        source: """
            local st = redis.call('HMGET', KEYS[1], 'state', 'token')
            if st[1] ~= 'gate' then return 0 end
            local n = (#KEYS - 1) / 2
            if st[2] == ARGV[2] then
              for k = 1, n do redis.call('HDEL', KEYS[2 * k + 1], ARGV[1]) end
              redis.call('HSET', KEYS[1], 'state', 'db')
              return 1
            end
            for k = 1, n do
              local v = redis.call('HGET', KEYS[2 * k + 1], ARGV[1])
              if v then
                redis.call('HDEL', KEYS[2 * k + 1], ARGV[1])
                if redis.call('EXISTS', KEYS[2 * k]) == 1 then
                  redis.call('INCRBY', KEYS[2 * k], tonumber(string.match(v, '^%d+')))
                end
              end
            end
            redis.call('HSET', KEYS[1], 'state', 'db', 'token', ARGV[2])
            return 2
            """)

    /// Gives back a take that MySQL did not accept. KEYS: res, then (avail, holds) per line. ARGV: id, token,
    /// new state (empty: delete the reservation key), TTL seconds. Replies 1 when units went back, else 0.
    static let undo = RedisScript(
        name: "oms.inventory.gate.undo", version: 1,
        source: """
            local st = redis.call('HMGET', KEYS[1], 'state', 'token')
            if st[1] ~= 'gate' or st[2] ~= ARGV[2] then return 0 end
            local n = (#KEYS - 1) / 2
            for k = 1, n do
              local v = redis.call('HGET', KEYS[2 * k + 1], ARGV[1])
              if v then
                redis.call('HDEL', KEYS[2 * k + 1], ARGV[1])
                if redis.call('EXISTS', KEYS[2 * k]) == 1 then
                  redis.call('INCRBY', KEYS[2 * k], tonumber(string.match(v, '^%d+')))
                end
              end
            end
            if ARGV[3] == '' then
              redis.call('DEL', KEYS[1])
            else
              redis.call('HSET', KEYS[1], 'state', ARGV[3])
              redis.call('EXPIRE', KEYS[1], ARGV[4])
            end
            return 1
            """)

    /// After MySQL released (or expired) a held reservation: units go back to the gate once.
    /// KEYS: res, then (avail, holds) per line. ARGV: id, TTL seconds, then the quantity of each line.
    /// Replies 1 when applied, 0 when the key already said released.
    static let release = RedisScript(
        name: "oms.inventory.gate.release", version: 1,
        source: """
            if redis.call('HGET', KEYS[1], 'state') == 'released' then return 0 end
            local n = (#KEYS - 1) / 2
            for k = 1, n do
              redis.call('HDEL', KEYS[2 * k + 1], ARGV[1])
              if redis.call('EXISTS', KEYS[2 * k]) == 1 then
                redis.call('INCRBY', KEYS[2 * k], ARGV[2 + k])
              end
            end
            redis.call('HSET', KEYS[1], 'state', 'released')
            redis.call('EXPIRE', KEYS[1], ARGV[2])
            return 1
            """)

    /// Records a release of an id never reserved, so the gate refuses a later Reserve quickly.
    /// KEYS: res. ARGV: TTL seconds. Replies 1 when recorded, 0 when the key existed.
    static let tombstone = RedisScript(
        name: "oms.inventory.gate.tombstone", version: 1,
        source: """
            if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
            redis.call('HSET', KEYS[1], 'state', 'tomb')
            redis.call('EXPIRE', KEYS[1], ARGV[1])
            return 1
            """)

    /// Applies a stock adjustment to a warm key (a missing key is warmed from MySQL later).
    /// KEYS: avail. ARGV: delta. Replies the new value, or false when the key is missing.
    static let adjust = RedisScript(
        name: "oms.inventory.gate.adjust", version: 1,
        source: """
            if redis.call('EXISTS', KEYS[1]) == 0 then return false end
            return redis.call('INCRBY', KEYS[1], ARGV[1])
            """)

    /// Reads gate units and holds of several SKUs atomically. KEYS: (avail, holds) per SKU.
    /// Replies, per SKU, the units (or nil) and the flat HGETALL of the holds.
    static let snapshot = RedisScript(
        name: "oms.inventory.gate.snapshot", version: 1,
        source: """
            local out = {}
            for k = 1, #KEYS / 2 do
              out[#out + 1] = redis.call('GET', KEYS[2 * k - 1]) or false
              out[#out + 1] = redis.call('HGETALL', KEYS[2 * k])
            end
            return out
            """)

    /// Sets the units only when they still hold the value the reconciler measured (compare and set).
    /// KEYS: avail. ARGV: measured value, repaired value. Replies 1 when set.
    static let repair = RedisScript(
        name: "oms.inventory.gate.repair", version: 1,
        source: """
            if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
            redis.call('SET', KEYS[1], ARGV[2])
            return 1
            """)

    /// Drops one stale hold. KEYS: avail, holds. ARGV: id, token, mode (`confirm`: MySQL has the take;
    /// `return`: it never reached MySQL, units go back). Replies 1 when dropped.
    static let dropHold = RedisScript(
        name: "oms.inventory.gate.drop-hold", version: 1,
        source: """
            local v = redis.call('HGET', KEYS[2], ARGV[1])
            if not v then return 0 end
            local q, t = string.match(v, '^(%d+):([^:]*):')
            if t ~= ARGV[2] then return 0 end
            redis.call('HDEL', KEYS[2], ARGV[1])
            if ARGV[3] == 'return' and redis.call('EXISTS', KEYS[1]) == 1 then
              redis.call('INCRBY', KEYS[1], tonumber(q))
            end
            return 1
            """)
}
