import Foundation
import Logging
import OMSMySQL

/// Keeps monthly RANGE partitions of `orders`, `order_items` and `order_events` ahead of time.
///
/// The tables start with one `pmax` (MAXVALUE) partition. Each run splits `pmax` with
/// `ALTER TABLE … REORGANIZE PARTITION pmax INTO (…, pmax)` (MySQL 8 and MariaDB alike) so that the
/// current month and the next `monthsAhead` months have their own partitions; the first run also
/// creates `phistory` for ids before the current month. Since `pmax` is kept empty the split moves no
/// rows. Boundaries are `OrderID.firstID(at: first instant of the next month)`.
public struct PartitionMaintenance: Sendable {
    /// The partitioned tables.
    public static let tables = ["orders", "order_items", "order_events"]
    let database: MySQLDatabase
    let monthsAhead: Int
    let logger: Logger

    /// - Parameters:
    ///   - database: the orders database.
    ///   - monthsAhead: months after the current one that must exist.
    ///   - logger: logger.
    public init(database: MySQLDatabase, monthsAhead: Int = 3, logger: Logger) {
        self.database = database
        self.monthsAhead = max(1, monthsAhead)
        self.logger = logger
    }

    /// Adds the missing partitions.
    /// - Parameter now: the current time.
    /// - Returns: the partitions added, as `table.partition`.
    /// - Throws: `MySQLError`.
    @discardableResult
    public func run(now: Date = Date()) async throws -> [String] {
        var added: [String] = []
        for table in Self.tables {
            added += try await ensure(table: table, now: now)
        }
        return added
    }

    /// The monthly partitions (name, upper bound) wanted from `start`'s month up to `monthsAhead` later.
    func wantedMonths(now: Date) -> [(name: String, lessThan: Int64, start: Date)] {
        var result: [(String, Int64, Date)] = []
        var month = OrderID.monthBounds(containing: now)
        for _ in 0...monthsAhead {
            result.append((OrderID.partitionName(monthStart: month.start), OrderID.firstID(at: month.next), month.start))
            month = OrderID.monthBounds(containing: month.next)
        }
        return result
    }

    func ensure(table: String, now: Date) async throws -> [String] {
        precondition(Self.tables.contains(table))
        let rows = try await database.primary.query(
            """
            SELECT PARTITION_NAME AS name, PARTITION_DESCRIPTION AS bound FROM information_schema.PARTITIONS
            WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND PARTITION_NAME IS NOT NULL
            ORDER BY PARTITION_ORDINAL_POSITION
            """, [.string(table)])
        var highest: Int64?
        var names = Set<String>()
        for row in rows {
            let name = try row.string("name")
            names.insert(name)
            if name != "pmax", let bound = Int64(try row.string("bound")) { highest = max(highest ?? bound, bound) }
        }
        guard names.contains("pmax") else {
            logger.error("partition maintenance: no pmax partition", metadata: ["table": "\(table)"])
            return []
        }
        var parts: [String] = []
        var added: [String] = []
        let wanted = wantedMonths(now: now)
        if highest == nil {
            parts.append("PARTITION phistory VALUES LESS THAN (\(OrderID.firstID(at: wanted[0].start)))")
        }
        for month in wanted where month.lessThan > (highest ?? Int64.min) && !names.contains(month.name) {
            parts.append("PARTITION \(month.name) VALUES LESS THAN (\(month.lessThan))")
            added.append("\(table).\(month.name)")
        }
        guard !added.isEmpty else { return [] }
        // Names and bounds are computed here, never taken from callers.
        let ddl = "ALTER TABLE \(table) REORGANIZE PARTITION pmax INTO (\(parts.joined(separator: ", ")), "
            + "PARTITION pmax VALUES LESS THAN MAXVALUE)"
        try await database.primary.withConnection { try await $0.executeScript(ddl) }
        logger.info("partitions added", metadata: ["table": "\(table)", "partitions": "\(added)"])
        return added
    }
}
