/// A failure reported by the server, the client library, or this module.
///
/// `kind` classifies the failure so callers can react (retry a deadlock, map a duplicate key to
/// ALREADY_EXISTS); `number`, `sqlState` and `message` keep the original detail.
public struct MySQLError: Error, Sendable, CustomStringConvertible {
    /// Classification of a failure. Compare with the static members (`error.kind == .deadlock`).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// ER_LOCK_DEADLOCK (1213): the transaction was rolled back by the server.
        public static let deadlock = Kind("deadlock")
        /// ER_LOCK_WAIT_TIMEOUT (1205).
        public static let lockWaitTimeout = Kind("lockWaitTimeout")
        /// ER_DUP_ENTRY (1062) and ER_DUP_ENTRY_WITH_KEY_NAME (1586).
        public static let duplicateKey = Kind("duplicateKey")
        /// Foreign key violations (1216, 1217, 1451, 1452).
        public static let foreignKeyViolation = Kind("foreignKeyViolation")
        /// CHECK constraint violated: 3819 (MySQL 8), 4025 (MariaDB).
        public static let checkViolation = Kind("checkViolation")
        /// NOT NULL column set to NULL (1048), value out of range (1264), data too long (1406) and similar.
        public static let dataError = Kind("dataError")
        /// Syntax or access-to-unknown-object errors (1064, 1146, 1054, ...).
        public static let syntax = Kind("syntax")
        /// Access denied (1044, 1045, 1142, 1143).
        public static let accessDenied = Kind("accessDenied")
        /// The connection broke during use (2006, 2013, 2055, 1927, 4031); it is reopened on next use.
        public static let connectionLost = Kind("connectionLost")
        /// The server could not be reached (2002, 2003, 2005, ...).
        public static let connectionFailed = Kind("connectionFailed")
        /// The statement ran past its timeout: 1969 (MariaDB max_statement_time), 3024 (MySQL
        /// max_execution_time), or the client read/write timeout.
        public static let timeout = Kind("timeout")
        /// A value in a result could not be decoded as the requested type.
        public static let decoding = Kind("decoding")
        /// Misuse of the API (wrong number of binds, bad URL, ...).
        public static let invalidArgument = Kind("invalidArgument")
        /// The pool was shut down.
        public static let poolClosed = Kind("poolClosed")
        /// A migration could not be applied or was changed after it was applied.
        public static let migration = Kind("migration")
        /// Anything else; see `number` and `message`.
        public static let other = Kind("other")
    }

    /// The classification.
    public var kind: Kind
    /// The server or client error number (0 when the error comes from this module).
    public var number: UInt32
    /// The five-character SQLSTATE (`HY000` when unknown).
    public var sqlState: String
    /// Human-readable detail.
    public var message: String

    /// Creates an error; `kind` defaults to the classification of `number`.
    /// - Parameters:
    ///   - kind: the classification, or `nil` to derive it from `number`.
    ///   - number: server or client error number.
    ///   - sqlState: SQLSTATE.
    ///   - message: detail.
    public init(kind: Kind? = nil, number: UInt32 = 0, sqlState: String = "HY000", message: String) {
        self.kind = kind ?? Self.classify(number)
        self.number = number
        self.sqlState = sqlState
        self.message = message
    }

    public var description: String {
        "MySQLError(\(kind), \(number), \(sqlState)): \(message)"
    }

    /// Whether a transaction body that failed with this error may be run again from the start.
    public var isTransient: Bool {
        kind == .deadlock || kind == .lockWaitTimeout
    }

    /// Maps a server or client error number to a kind.
    /// - Parameter number: the error number.
    public static func classify(_ number: UInt32) -> Kind {
        switch number {
        case 1213: return .deadlock
        case 1205: return .lockWaitTimeout
        case 1062, 1586: return .duplicateKey
        case 1216, 1217, 1451, 1452: return .foreignKeyViolation
        case 3819, 4025: return .checkViolation
        case 1048, 1264, 1265, 1292, 1366, 1406, 1690, 3140: return .dataError
        case 1054, 1064, 1146, 1149, 1049, 1305, 1210: return .syntax
        case 1044, 1045, 1142, 1143, 1227, 1370: return .accessDenied
        case 2006, 2013, 2055, 1927, 4031, 1053: return .connectionLost
        case 2002, 2003, 2005, 2026, 2059, 1040, 1129, 1203: return .connectionFailed
        case 1969, 3024: return .timeout
        default: return .other
        }
    }
}
