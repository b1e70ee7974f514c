/// A reply from Redis (RESP2).
public enum RedisValue: Sendable, Hashable {
    /// A status reply such as `OK` or `PONG`.
    case simpleString(String)
    /// An error reply, e.g. `WRONGTYPE Operation against a key holding the wrong kind of value`.
    case error(String)
    /// An integer reply.
    case integer(Int64)
    /// A bulk string (binary-safe).
    case bulk([UInt8])
    /// The null bulk string or null array.
    case null
    /// An array reply.
    case array([RedisValue])

    /// The reply as text: simple strings and UTF-8 bulk strings; integers in decimal.
    public var string: String? {
        switch self {
        case .simpleString(let s): return s
        case .bulk(let b): return String(validating: b, as: UTF8.self)
        case .integer(let i): return String(i)
        default: return nil
        }
    }

    /// The reply as bytes (bulk or simple strings).
    public var bytes: [UInt8]? {
        switch self {
        case .bulk(let b): return b
        case .simpleString(let s): return Array(s.utf8)
        default: return nil
        }
    }

    /// The reply as an integer (integer replies and decimal bulk strings).
    public var int: Int64? {
        switch self {
        case .integer(let i): return i
        case .bulk, .simpleString: return string.flatMap { Int64($0) }
        default: return nil
        }
    }

    /// The elements of an array reply.
    public var array: [RedisValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Whether the reply is null.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }
}

/// A value usable as a command argument; encoded as bytes (binary-safe).
public protocol RedisArgument: Sendable {
    /// The argument's bytes on the wire.
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Substring: RedisArgument {
    public var redisBytes: [UInt8] { Array(utf8) }
}

extension Array: RedisArgument where Element == UInt8 {
    public var redisBytes: [UInt8] { self }
}

extension Int: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Int64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension UInt64: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

extension Double: RedisArgument {
    public var redisBytes: [UInt8] { Array(String(self).utf8) }
}

/// One command: the name and its arguments as bytes.
public struct RedisCommand: Sendable, Hashable {
    /// Every word of the command, name first.
    public var arguments: [[UInt8]]

    /// Creates a command from a name and arguments: `RedisCommand("SET", key, value)`.
    /// - Parameters:
    ///   - name: command name.
    ///   - arguments: arguments, each sent as a separate binary-safe string.
    public init(_ name: String, _ arguments: any RedisArgument...) {
        self.init(name, arguments)
    }

    /// Creates a command from a name and an argument array.
    /// - Parameters:
    ///   - name: command name.
    ///   - arguments: arguments.
    public init(_ name: String, _ arguments: [any RedisArgument]) {
        self.arguments = [Array(name.utf8)] + arguments.map(\.redisBytes)
    }

    /// Creates a command from raw words.
    /// - Parameter arguments: the words, name first.
    public init(arguments: [[UInt8]]) {
        self.arguments = arguments
    }
}

/// A Lua script resource, run with `RedisClient.evalScript` (EVALSHA, loading it when Redis lost it).
public struct RedisScript: Sendable, Hashable {
    /// Name of the script (for logs and the client's SHA cache).
    public var name: String
    /// Version of the script; bump it when the source changes.
    public var version: Int
    /// Lua source.
    public var source: String

    /// Creates a script.
    /// - Parameters:
    ///   - name: name.
    ///   - version: version.
    ///   - source: Lua source.
    public init(name: String, version: Int, source: String) {
        self.name = name
        self.version = version
        self.source = source
    }
}

/// A failure talking to Redis.
public struct RedisError: Error, Sendable, CustomStringConvertible {
    /// Classification of a failure.
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Could not connect, or the connection broke (it is reopened on next use).
        public static let connection = Kind("connection")
        /// The command did not complete within its timeout (the connection is reopened on next use).
        public static let timeout = Kind("timeout")
        /// The server answered with an error reply; see `message` and `code`.
        public static let server = Kind("server")
        /// The reply could not be parsed.
        public static let `protocol` = Kind("protocol")
        /// Misuse of the API, e.g. a malformed URL.
        public static let invalidArgument = Kind("invalidArgument")
        /// The client was shut down.
        public static let closed = Kind("closed")
    }

    /// The classification.
    public var kind: Kind
    /// Detail; for `.server`, the full error reply.
    public var message: String

    /// Creates an error.
    /// - Parameters:
    ///   - kind: classification.
    ///   - message: detail.
    public init(kind: Kind, message: String) {
        self.kind = kind
        self.message = message
    }

    /// For server errors, the first word of the reply (`WRONGTYPE`, `NOSCRIPT`, `ERR`, …).
    public var code: String? {
        guard kind == .server else { return nil }
        return message.split(separator: " ", maxSplits: 1).first.map(String.init)
    }

    public var description: String { "RedisError(\(kind)): \(message)" }
}
