import Foundation
import OMSMySQL
import OMSRPCCore

/// All SQL of the inventory service. Prepared statements with bound parameters only; the only text built at
/// run time is the number of `?` placeholders (IN lists and multi-row inserts), never caller data.
///
/// Locking (docs/inventory.md, "Locking"): a transaction locks reservation rows first (by primary key,
/// sorted), then stock rows (by primary key, sorted), and makes no remote call while it holds them.
struct InventoryRepository: Sendable {
    let database: MySQLDatabase

    // MARK: Placeholders

    /// `(?, ?, …)` for `count` values, padded up to a power of two with repeats of the last value so few
    /// distinct statement texts reach the statement cache.
    static func inList(_ values: [String]) -> (sql: String, binds: [MySQLValue]) {
        precondition(!values.isEmpty)
        var n = 1
        while n < values.count { n <<= 1 }
        var binds = values.map { MySQLValue.string($0) }
        while binds.count < n { binds.append(binds[binds.count - 1]) }
        return ("(" + Array(repeating: "?", count: n).joined(separator: ", ") + ")", binds)
    }

    /// Inserts rows in chunks whose sizes are powers of two (at most 64 rows per statement).
    static func insertRows(
        _ tx: MySQLBatchedTransaction, _ head: String, columns: Int, rows: [[MySQLValue]], template: String? = nil
    ) throws {
        let row = template ?? "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        var i = 0
        while i < rows.count {
            var chunk = 64
            while chunk > rows.count - i { chunk >>= 1 }
            let sql = head + Array(repeating: row, count: chunk).joined(separator: ", ")
            try tx.execute(sql, rows[i..<(i + chunk)].flatMap { $0 })
            i += chunk
        }
    }

    private static let reservationColumns =
        "id, state, tombstone, reference, order_id, gate_token, lines_digest, expires_at, created_at, version"

    private static func reservation(from row: MySQLRow, lines: [StockLine]) throws -> ReservationRecord {
        guard let status = ReservationStatus(rawValue: try row.string("state")) else {
            throw MySQLError(kind: .decoding, message: "unknown reservation state")
        }
        return ReservationRecord(
            id: try row.string("id"), status: status, isTombstone: try row.int64("tombstone") == 1,
            reference: try row.string("reference"), orderID: try row.optionalString("order_id"),
            gateToken: try row.optionalString("gate_token"), digest: try row.string("lines_digest"),
            expiresAt: try row.date("expires_at"), createdAt: try row.date("created_at"),
            version: try row.int64("version"), lines: lines)
    }

    private static func lockReservations(_ tx: MySQLBatchedTransaction, ids: [String]) throws -> [String: ReservationRecord] {
        guard !ids.isEmpty else { return [:] }
        let sorted = Array(Set(ids)).sorted()
        let (list, binds) = inList(sorted)
        let rows = try tx.query(
            "SELECT \(reservationColumns) FROM reservations WHERE id IN \(list) ORDER BY id FOR UPDATE", binds)
        guard !rows.isEmpty else { return [:] }
        let found = try rows.map { try $0.string("id") }
        let (lineList, lineBinds) = inList(found)
        var lines: [String: [StockLine]] = [:]
        for r in try tx.query(
            "SELECT reservation_id, sku, quantity FROM reservation_lines WHERE reservation_id IN \(lineList) "
                + "ORDER BY reservation_id, sku", lineBinds)
        {
            lines[try r.string("reservation_id"), default: []].append(
                StockLine(sku: try r.string("sku"), quantity: try r.int64("quantity")))
        }
        var out: [String: ReservationRecord] = [:]
        for r in rows {
            let id = try r.string("id")
            out[id] = try reservation(from: r, lines: lines[id] ?? [])
        }
        return out
    }

    private static func lockStock(_ tx: MySQLBatchedTransaction, skus: [String]) throws -> [String: StockRecord] {
        guard !skus.isEmpty else { return [:] }
        let (list, binds) = inList(Array(Set(skus)).sorted())
        var out: [String: StockRecord] = [:]
        for r in try tx.query(
            "SELECT sku, on_hand, reserved FROM stock WHERE sku IN \(list) ORDER BY sku FOR UPDATE", binds)
        {
            let s = StockRecord(sku: try r.string("sku"), onHand: try r.int64("on_hand"), reserved: try r.int64("reserved"))
            out[s.sku] = s
        }
        return out
    }

    private struct LedgerRow {
        var sku: String
        var deltaOnHand: Int64
        var deltaReserved: Int64
        var after: StockRecord
        var kind: String
        var reason: String
        var reference: String
    }

    private static func writeStock(
        _ tx: MySQLBatchedTransaction, _ stock: [String: StockRecord], changed: Set<String>, ledger: [LedgerRow], now: Date
    ) throws {
        // One statement per power-of-two chunk of rows (already locked, so absolute values are safe).
        let rows = changed.sorted().compactMap { stock[$0] }
        var i = 0
        while i < rows.count {
            var n = 64
            while n > rows.count - i { n >>= 1 }
            let chunk = rows[i..<(i + n)]
            i += n
            if n == 1, let s = chunk.first {
                try tx.execute(
                    "UPDATE stock SET on_hand = ?, reserved = ?, version = version + 1, updated_at = ? WHERE sku = ?",
                    [.int64(s.onHand), .int64(s.reserved), .datetime(now), .string(s.sku)])
                continue
            }
            let cases = Array(repeating: "WHEN ? THEN ?", count: n).joined(separator: " ")
            let list = Array(repeating: "?", count: n).joined(separator: ", ")
            var binds: [MySQLValue] = []
            for s in chunk { binds += [.string(s.sku), .int64(s.onHand)] }
            for s in chunk { binds += [.string(s.sku), .int64(s.reserved)] }
            binds.append(.datetime(now))
            binds += chunk.map { .string($0.sku) }
            let r = try tx.execute(
                "UPDATE stock SET on_hand = CASE sku \(cases) END, reserved = CASE sku \(cases) END, "
                    + "version = version + 1, updated_at = ? WHERE sku IN (\(list))", binds)
            guard r.affectedRows == UInt64(n) else {
                throw MySQLError(kind: .other, message: "stock update changed \(r.affectedRows) of \(n) rows")
            }
        }
        guard !ledger.isEmpty else { return }
        try insertRows(
            tx,
            "INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, on_hand_after, reserved_after, kind, "
                + "reason, reference, created_at) VALUES ",
            columns: 9,
            rows: ledger.map {
                [
                    .string($0.sku), .int64($0.deltaOnHand), .int64($0.deltaReserved), .int64($0.after.onHand),
                    .int64($0.after.reserved), .string($0.kind), .text($0.reason), .text($0.reference),
                    .datetime(now),
                ]
            }, template: "(?, ?, ?, ?, ?, ?, COALESCE(?, ''), COALESCE(?, ''), ?)")
    }

    // MARK: Reserve (one transaction for a batch of reservations)

    /// Reserves a batch in one transaction (READ COMMITTED: row locks without gap locks). Each command is
    /// all-or-nothing on its own; one command's shortage does not affect the others.
    /// - Throws: `MySQLError` (a duplicate id inserted concurrently surfaces as `.duplicateKey`; rerun).
    func reserveBatch(_ commands: [ReserveCommand]) async throws -> [ReserveDecision] {
        try await database.batchedTransaction(isolation: .readCommitted, retryable: true) { tx in
            let now = Date()
            var known = try Self.lockReservations(tx, ids: commands.map(\.id))
            var stock = try Self.lockStock(tx, skus: commands.flatMap { $0.lines.map(\.sku) })
            var changed = Set<String>()
            var ledger: [LedgerRow] = []
            var created: [ReservationRecord] = []
            var decisions: [ReserveDecision] = []
            for cmd in commands {
                if let e = known[cmd.id] {
                    do {
                        try e.machine.reserveAgain(sameLines: e.lines == cmd.lines)
                        decisions.append(.existing(e))
                    } catch let error as RPCError {
                        decisions.append(.refused(error))
                    }
                    continue
                }
                let unknown = cmd.lines.filter { stock[$0.sku] == nil }.map(\.sku)
                if !unknown.isEmpty {
                    decisions.append(.unknownSKUs(unknown))
                    continue
                }
                let short = cmd.lines.compactMap { l -> Shortage? in
                    let a = stock[l.sku]!.available
                    return a < l.quantity ? Shortage(sku: l.sku, requested: l.quantity, available: max(0, a)) : nil
                }
                if !short.isEmpty {
                    decisions.append(.outOfStock(short))
                    continue
                }
                for l in cmd.lines {
                    stock[l.sku]!.reserved += l.quantity
                    changed.insert(l.sku)
                    ledger.append(
                        LedgerRow(
                            sku: l.sku, deltaOnHand: 0, deltaReserved: l.quantity, after: stock[l.sku]!, kind: "reserve",
                            reason: "", reference: cmd.id))
                }
                let record = ReservationRecord(
                    id: cmd.id, status: .held, isTombstone: false, reference: cmd.reference, orderID: nil,
                    gateToken: cmd.token, digest: cmd.digest, expiresAt: now.adding(cmd.ttl), createdAt: now, version: 1,
                    lines: cmd.lines)
                known[cmd.id] = record
                created.append(record)
                decisions.append(.reserved(record))
            }
            try Self.writeStock(tx, stock, changed: changed, ledger: ledger, now: now)
            if !created.isEmpty {
                try Self.insertRows(
                    tx,
                    "INSERT INTO reservations (id, state, tombstone, reference, gate_token, lines_digest, expires_at, "
                        + "version, created_at, updated_at) VALUES ",
                    columns: 10,
                    rows: created.map {
                        [
                            .string($0.id), .string("held"), .int32(0), .text($0.reference),
                            .optional($0.gateToken) { .string($0) }, .string($0.digest), .datetime($0.expiresAt),
                            .int64(1), .datetime(now), .datetime(now),
                        ]
                    }, template: "(?, ?, ?, COALESCE(?, ''), ?, ?, ?, ?, ?, ?)")
                try Self.insertRows(
                    tx, "INSERT INTO reservation_lines (reservation_id, sku, quantity) VALUES ", columns: 3,
                    rows: created.flatMap { r in r.lines.map { [.string(r.id), .string($0.sku), .int64($0.quantity)] } })
            }
            return decisions
        }
    }

    // MARK: Transitions of one reservation

    /// The result of a transition.
    struct TransitionResult: Sendable {
        /// The reservation after the transition (nil when the id is unknown).
        var record: ReservationRecord?
        /// What happened to the stock.
        var effect: ReservationStockEffect
    }

    /// Runs a state-machine transition of one reservation in one transaction: locks the reservation, then
    /// its stock rows in SKU order, applies the effect, writes the ledger, and bumps the version.
    /// - Parameters:
    ///   - id: reservation id.
    ///   - kind: ledger kind (`commit`, `release`, `expire`, `extend`).
    ///   - orderID: recorded on commit.
    ///   - reason: recorded on release.
    ///   - tombstoneWhenMissing: insert a tombstone when the id is unknown (ReleaseReservation).
    ///   - transition: the state-machine step; throwing rolls back and changes nothing.
    /// - Throws: `RPCError` from `transition`, `MySQLError`.
    func transition(
        id: String, kind: String, orderID: String? = nil, reason: String? = nil, tombstoneWhenMissing: Bool = false,
        _ transition: @escaping @Sendable (inout ReservationStateMachine, Date) throws -> ReservationStockEffect
    ) async throws -> TransitionResult {
        // A concurrent Reserve may insert the id first: the next run decides on its row.
        try await retryingOnDuplicateKey {
            try await transitionOnce(
                id: id, kind: kind, orderID: orderID, reason: reason, tombstoneWhenMissing: tombstoneWhenMissing,
                transition)
        }
    }

    private func transitionOnce(
        id: String, kind: String, orderID: String?, reason: String?, tombstoneWhenMissing: Bool,
        _ transition: @escaping @Sendable (inout ReservationStateMachine, Date) throws -> ReservationStockEffect
    ) async throws -> TransitionResult {
        // READ COMMITTED: a locking read of an id that does not exist takes no gap lock. Under REPEATABLE
        // READ every release of a never-reserved id locked the gap at the end of the (time-ordered) id
        // index and the tombstone inserts queued behind each other's gap locks (a flash sale's losers
        // convoyed there). Two inserts of one id are still decided by the primary key (duplicate → retry
        // on the winner's row).
        try await database.batchedTransaction(isolation: .readCommitted, retryable: true) { tx in
            let now = Date()
            guard let before = try Self.lockReservations(tx, ids: [id])[id] else {
                if tombstoneWhenMissing {
                    try tx.execute(
                        "INSERT INTO reservations (id, state, tombstone, reference, release_reason, lines_digest, "
                            + "expires_at, version, created_at, updated_at) VALUES (?, 'released', 1, '', COALESCE(?, ''), '', ?, 1, ?, ?)",
                        [.string(id), .text(reason ?? ""), .datetime(now), .datetime(now), .datetime(now)])
                }
                return TransitionResult(record: nil, effect: .none)
            }
            var machine = before.machine
            let effect = try transition(&machine, now)
            guard effect != .none else { return TransitionResult(record: before, effect: .none) }
            if effect == .commitUnits || effect == .releaseUnits {
                var stock = try Self.lockStock(tx, skus: before.lines.map(\.sku))
                var ledger: [LedgerRow] = []
                for l in before.lines {
                    guard var s = stock[l.sku] else { throw MySQLError(kind: .other, message: "stock row missing") }
                    let dOnHand: Int64 = effect == .commitUnits ? -l.quantity : 0
                    s.onHand += dOnHand
                    s.reserved -= l.quantity
                    stock[l.sku] = s
                    ledger.append(
                        LedgerRow(
                            sku: l.sku, deltaOnHand: dOnHand, deltaReserved: -l.quantity, after: s, kind: kind,
                            reason: reason ?? "", reference: id))
                }
                try Self.writeStock(tx, stock, changed: Set(before.lines.map(\.sku)), ledger: ledger, now: now)
            }
            let r = try tx.execute(
                "UPDATE reservations SET state = ?, expires_at = ?, order_id = COALESCE(?, order_id), "
                    + "release_reason = COALESCE(?, release_reason), version = version + 1, updated_at = ? "
                    + "WHERE id = ? AND version = ?",
                [
                    .string(machine.status.rawValue), .datetime(machine.expiresAt), .optional(orderID) { .string($0) },
                    .optional(reason) { .string($0) }, .datetime(now), .string(id), .int64(before.version),
                ])
            guard r.affectedRows == 1 else {
                throw RPCError(.aborted, "reservation changed concurrently; retry")
            }
            var after = before
            after.status = machine.status
            after.expiresAt = machine.expiresAt
            after.version += 1
            if let orderID { after.orderID = orderID }
            return TransitionResult(record: after, effect: effect)
        }
    }

    /// One CommitReservation as the commit coalescer runs it.
    struct CommitCommand: Sendable {
        var id: String
        var orderID: String?
    }

    /// Commits a batch of reservations in one transaction (reservation rows, then stock rows, both sorted).
    /// Each command is decided on its own by the state machine.
    /// - Returns: per command, the transition or the RPC error that refused it (nothing changed for it).
    func commitBatch(_ commands: [CommitCommand]) async throws -> [Swift.Result<TransitionResult, RPCError>] {
        try await database.batchedTransaction(isolation: .readCommitted, retryable: true) { tx in
            let now = Date()
            var known = try Self.lockReservations(tx, ids: commands.map(\.id))
            var stock = try Self.lockStock(tx, skus: known.values.filter { $0.status == .held }.flatMap { $0.lines.map(\.sku) })
            var changed = Set<String>()
            var ledger: [LedgerRow] = []
            var updates: [(id: String, orderID: String?, version: Int64)] = []
            var results: [Swift.Result<TransitionResult, RPCError>] = []
            for cmd in commands {
                guard let before = known[cmd.id] else {
                    results.append(.success(TransitionResult(record: nil, effect: .none)))
                    continue
                }
                var machine = before.machine
                let effect: ReservationStockEffect
                do {
                    effect = try machine.commit(now: now)
                } catch let e as RPCError {
                    results.append(.failure(e))
                    continue
                }
                guard effect == .commitUnits else {
                    results.append(.success(TransitionResult(record: before, effect: .none)))
                    continue
                }
                for l in before.lines {
                    guard var row = stock[l.sku] else { throw MySQLError(kind: .other, message: "stock row missing") }
                    row.onHand -= l.quantity
                    row.reserved -= l.quantity
                    stock[l.sku] = row
                    changed.insert(l.sku)
                    ledger.append(
                        LedgerRow(
                            sku: l.sku, deltaOnHand: -l.quantity, deltaReserved: -l.quantity, after: row, kind: "commit",
                            reason: "", reference: cmd.id))
                }
                var after = before
                after.status = machine.status
                after.version += 1
                if let o = cmd.orderID { after.orderID = o }
                known[cmd.id] = after
                updates.append((cmd.id, cmd.orderID, before.version))
                results.append(.success(TransitionResult(record: after, effect: effect)))
            }
            try Self.writeStock(tx, stock, changed: changed, ledger: ledger, now: now)
            // Rows are locked; the version check still guards against a bug elsewhere. One statement per
            // power-of-two chunk.
            var i = 0
            while i < updates.count {
                var n = 64
                while n > updates.count - i { n >>= 1 }
                let chunk = updates[i..<(i + n)]
                i += n
                let cases = Array(repeating: "WHEN ? THEN COALESCE(?, order_id)", count: n).joined(separator: " ")
                let pairs = Array(repeating: "(id = ? AND version = ?)", count: n).joined(separator: " OR ")
                var binds: [MySQLValue] = []
                for u in chunk { binds += [.string(u.id), .optional(u.orderID) { .string($0) }] }
                binds.append(.datetime(now))
                for u in chunk { binds += [.string(u.id), .int64(u.version)] }
                let r = try tx.execute(
                    "UPDATE reservations SET state = 'committed', order_id = CASE id \(cases) END, "
                        + "version = version + 1, updated_at = ? WHERE \(pairs)", binds)
                guard r.affectedRows == UInt64(n) else {
                    throw RPCError(.aborted, "reservation changed concurrently; retry")
                }
            }
            return results
        }
    }

    /// Reads one reservation (no lock).
    func reservation(id: String) async throws -> ReservationRecord? {
        try await database.write { c in
            guard let row = try await c.queryOne(
                "SELECT \(Self.reservationColumns) FROM reservations WHERE id = ?", [.string(id)])
            else { return nil }
            let lines = try await c.query(
                "SELECT sku, quantity FROM reservation_lines WHERE reservation_id = ? ORDER BY sku", [.string(id)])
            return try Self.reservation(
                from: row, lines: try lines.map { StockLine(sku: try $0.string("sku"), quantity: try $0.int64("quantity")) })
        }
    }

    /// Held reservations past their expiry, oldest first.
    func lapsedReservations(now: Date, limit: Int) async throws -> [String] {
        try await database.write { c in
            try await c.query(
                "SELECT id FROM reservations WHERE state = 'held' AND expires_at <= ? ORDER BY expires_at LIMIT ?",
                [.datetime(now), .int64(Int64(limit))]
            ).map { try $0.string("id") }
        }
    }

    // MARK: Stock

    /// Stock rows of some SKUs from the primary (unknown SKUs are absent).
    func stock(skus: [String]) async throws -> [String: StockRecord] {
        guard !skus.isEmpty else { return [:] }
        let (list, binds) = Self.inList(Array(Set(skus)).sorted())
        return try await database.write { c in
            var out: [String: StockRecord] = [:]
            for r in try await c.query("SELECT sku, on_hand, reserved FROM stock WHERE sku IN \(list)", binds) {
                let s = StockRecord(sku: try r.string("sku"), onHand: try r.int64("on_hand"), reserved: try r.int64("reserved"))
                out[s.sku] = s
            }
            return out
        }
    }

    /// Applies an adjustment under the row lock and writes the ledger.
    /// - Returns: the new row and the ledger id; nil when the SKU is unknown.
    /// - Throws: 9 FAILED_PRECONDITION when on hand would drop below the reserved units.
    /// An adjustment's idempotency key and the fingerprint of its request.
    struct AdjustmentKey: Sendable {
        var key: String
        var fingerprint: String
    }

    /// What an adjustment did, or did the first time its key was used (`replayed`).
    struct Adjustment: Sendable {
        var stock: StockRecord
        var delta: Int64
        var ledgerID: UInt64
        var replayed: Bool
    }

    /// Receives, corrects or sets on-hand units of one SKU and writes the ledger row. With a key,
    /// the adjustment is applied once: a repeat returns the first result without applying again,
    /// and a different request under the same key is refused with 6.
    /// - Returns: nil for an unknown SKU.
    /// - Throws: `RPCError` 9 when available would go negative or on hand past the maximum, 6 for a
    ///   key reused with a different request; `MySQLError`.
    func adjust(
        sku: String, kind: String, quantity: Int64, reason: String, reference: String, key: AdjustmentKey? = nil
    ) async throws -> Adjustment? {
        try await database.batchedTransaction(retryable: true) { tx in
            let now = Date()
            guard var s = try Self.lockStock(tx, skus: [sku])[sku] else { return nil }
            if let key, let first = try Self.recordedAdjustment(tx, key: key) { return first }
            let newOnHand: Int64
            switch kind {
            case "set": newOnHand = quantity
            default: newOnHand = s.onHand + quantity
            }
            guard newOnHand >= s.reserved, newOnHand >= 0 else {
                throw RPCError.failedPrecondition(
                    "on hand would be \(newOnHand) but \(s.reserved) units are reserved (available may not go below 0)")
            }
            guard newOnHand <= InventoryLimits.maxStockQuantity else {
                throw RPCError.failedPrecondition("on hand would exceed \(InventoryLimits.maxStockQuantity)")
            }
            let delta = newOnHand - s.onHand
            s.onHand = newOnHand
            try tx.execute(
                "UPDATE stock SET on_hand = ?, version = version + 1, updated_at = ? WHERE sku = ?",
                [.int64(newOnHand), .datetime(now), .string(sku)])
            let r = try tx.execute(
                "INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, on_hand_after, reserved_after, kind, "
                    + "reason, reference, created_at) VALUES (?, ?, 0, ?, ?, ?, COALESCE(?, ''), COALESCE(?, ''), ?)",
                [
                    .string(sku), .int64(delta), .int64(s.onHand), .int64(s.reserved), .string(kind), .text(reason),
                    .text(reference), .datetime(now),
                ])
            if let key {
                try tx.execute(
                    "INSERT INTO stock_adjustments (idempotency_key, fingerprint, sku, ledger_id, delta_on_hand, "
                        + "on_hand_after, reserved_after, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        .string(key.key), .string(key.fingerprint), .string(sku), .uint64(r.lastInsertId),
                        .int64(delta), .int64(s.onHand), .int64(s.reserved), .datetime(now),
                    ])
            }
            return Adjustment(stock: s, delta: delta, ledgerID: r.lastInsertId, replayed: false)
        }
    }

    /// The first result recorded under `key`, or nil when the key is new.
    /// - Throws: 6 ALREADY_EXISTS when the key was used for a different request.
    private static func recordedAdjustment(_ tx: MySQLBatchedTransaction, key: AdjustmentKey) throws -> Adjustment? {
        guard
            let row = try tx.query(
                "SELECT fingerprint, sku, ledger_id, delta_on_hand, on_hand_after, reserved_after "
                    + "FROM stock_adjustments WHERE idempotency_key = ? FOR UPDATE", [.string(key.key)]
            ).first
        else { return nil }
        guard try row.string("fingerprint") == key.fingerprint else {
            throw RPCError(.alreadyExists, "idempotency key \(key.key) was used for a different adjustment")
        }
        return Adjustment(
            stock: StockRecord(
                sku: try row.string("sku"), onHand: try row.int64("on_hand_after"),
                reserved: try row.int64("reserved_after")),
            delta: try row.int64("delta_on_hand"), ledgerID: try row.uint64("ledger_id"), replayed: true)
    }

    /// SKUs of the stock table after `cursor`, in order.
    func skuPage(after cursor: String, limit: Int) async throws -> [String] {
        try await database.write { c in
            try await c.query(
                "SELECT sku FROM stock WHERE sku > COALESCE(?, '') ORDER BY sku LIMIT ?", [.text(cursor), .int64(Int64(limit))]
            ).map { try $0.string("sku") }
        }
    }

    /// MySQL's side of a reconciliation, from one consistent snapshot: available per SKU and the gate token
    /// recorded for each given reservation id (absent when MySQL has no such reservation).
    func measure(skus: [String], reservationIDs: [String]) async throws
        -> (available: [String: Int64], tokens: [String: String])
    {
        try await database.batchedTransaction(isolation: .repeatableRead, retryable: true) { tx in
            var available: [String: Int64] = [:]
            if !skus.isEmpty {
                let (list, binds) = Self.inList(skus)
                for r in try tx.query("SELECT sku, on_hand - reserved AS available FROM stock WHERE sku IN \(list)", binds) {
                    available[try r.string("sku")] = try r.int64("available")
                }
            }
            var tokens: [String: String] = [:]
            if !reservationIDs.isEmpty {
                let (list, binds) = Self.inList(reservationIDs)
                for r in try tx.query("SELECT id, gate_token FROM reservations WHERE id IN \(list)", binds) {
                    tokens[try r.string("id")] = try r.optionalString("gate_token") ?? ""
                }
            }
            return (available, tokens)
        }
    }

    /// Records one drift alert.
    func recordDrift(runID: String, drift: SkuDriftRecord) async throws {
        _ = try await database.write { c in
            try await c.execute(
                "INSERT INTO reconciliation_events (run_id, sku, redis_units, mysql_available, in_flight, drift, "
                    + "repaired, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .string(runID), .string(drift.sku), .optional(drift.redisUnits) { .int64($0) },
                    .int64(drift.mysqlAvailable), .int64(drift.inFlight), .int64(drift.drift), .bool(drift.repaired),
                    .datetime(Date()),
                ])
        }
    }

    // MARK: Products

    private static let productColumns =
        "sku, name, price_minor, currency, attributes, active, version, created_at, updated_at"

    private static func product(from r: MySQLRow) throws -> ProductRecord {
        ProductRecord(
            sku: try r.string("sku"), name: try r.string("name"), priceMinor: try r.int64("price_minor"),
            currency: try r.string("currency"), attributesJSON: try r.string("attributes"),
            active: try r.int64("active") == 1, version: try r.int64("version"), createdAt: try r.date("created_at"),
            updatedAt: try r.date("updated_at"))
    }

    /// Inserts or updates a product; a new product gets a stock row with zero units.
    /// - Parameter expectedVersion: when non-zero, the update applies only to that version (else 10 ABORTED).
    /// - Returns: the stored product and whether it was created.
    func upsert(_ p: ProductRecord, expectedVersion: Int64) async throws -> (ProductRecord, Bool) {
        // A concurrent upsert may create the SKU first: the next run updates its row.
        try await retryingOnDuplicateKey { try await upsertOnce(p, expectedVersion: expectedVersion) }
    }

    /// One attempt of `upsert`. READ COMMITTED: the locking read of a SKU that does not exist yet takes
    /// no gap lock, so concurrent creations of new SKUs do not deadlock on each other's gap locks (under
    /// REPEATABLE READ they did, and surfaced as 10 ABORTED after the retries); two creations of one SKU
    /// are decided by its primary key.
    private func upsertOnce(_ p: ProductRecord, expectedVersion: Int64) async throws -> (ProductRecord, Bool) {
        try await database.batchedTransaction(isolation: .readCommitted, retryable: true) { tx in
            let now = Date()
            let existing = try tx.queryOne(
                "SELECT \(Self.productColumns) FROM products WHERE sku = ? FOR UPDATE", [.string(p.sku)]
            ).map(Self.product(from:))
            var stored = p
            stored.updatedAt = now
            if let existing {
                if expectedVersion != 0, expectedVersion != existing.version {
                    throw RPCError(.aborted, "product version is \(existing.version), not \(expectedVersion)")
                }
                let r = try tx.execute(
                    "UPDATE products SET name = ?, price_minor = ?, currency = ?, attributes = ?, active = ?, "
                        + "version = version + 1, updated_at = ? WHERE sku = ? AND version = ?",
                    [
                        .string(p.name), .int64(p.priceMinor), .string(p.currency), .json(p.attributesJSON),
                        .bool(p.active), .datetime(now), .string(p.sku), .int64(existing.version),
                    ])
                guard r.affectedRows == 1 else { throw RPCError(.aborted, "product changed concurrently; retry") }
                stored.version = existing.version + 1
                stored.createdAt = existing.createdAt
                return (stored, false)
            }
            if expectedVersion != 0 { throw RPCError.notFound("product \(p.sku) does not exist (version given)") }
            try tx.execute(
                "INSERT INTO products (sku, name, price_minor, currency, attributes, active, version, created_at, "
                    + "updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
                [
                    .string(p.sku), .string(p.name), .int64(p.priceMinor), .string(p.currency), .json(p.attributesJSON),
                    .bool(p.active), .datetime(now), .datetime(now),
                ])
            try tx.execute(
                "INSERT INTO stock (sku, on_hand, reserved, version, updated_at) VALUES (?, 0, 0, 1, ?)",
                [.string(p.sku), .datetime(now)])
            try tx.execute(
                "INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, on_hand_after, reserved_after, kind, "
                    + "reason, reference, created_at) VALUES (?, 0, 0, 0, 0, 'create', 'product created', '', ?)",
                [.string(p.sku), .datetime(now)])
            stored.version = 1
            stored.createdAt = now
            return (stored, true)
        }
    }

    /// One product (replica when configured).
    func product(sku: String) async throws -> ProductRecord? {
        try await database.read { c in
            try await c.queryOne("SELECT \(Self.productColumns) FROM products WHERE sku = ?", [.string(sku)])
                .map(Self.product(from:))
        }
    }

    /// A page of products after `cursor` (replica when configured).
    func products(after cursor: String, limit: Int, includeInactive: Bool) async throws -> [ProductRecord] {
        try await database.read { c in
            try await c.query(
                "SELECT \(Self.productColumns) FROM products WHERE sku > COALESCE(?, '') AND (active = 1 OR ? = 1) "
                    + "ORDER BY sku LIMIT ?",
                [.text(cursor), .bool(includeInactive), .int64(Int64(limit))]
            ).map(Self.product(from:))
        }
    }
}

extension MySQLValue {
    /// Text bound as NULL when empty, for use as `COALESCE(?, '')`: empty strings are never bound as
    /// parameters (OMSMySQL's parameter arena under-allocates for zero-length strings; reported).
    static func text(_ s: String) -> MySQLValue { s.isEmpty ? .null : .string(s) }
}

/// One SKU's reconciliation result.
struct SkuDriftRecord: Sendable, Hashable {
    var sku: String
    var redisUnits: Int64?
    var mysqlAvailable: Int64
    var inFlight: Int64
    var drift: Int64
    var alerted: Bool
    var repaired: Bool
}
