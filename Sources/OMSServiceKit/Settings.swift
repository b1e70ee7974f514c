import ArgumentParser
import Foundation
import NIOConcurrencyHelpers
import OMSClient
import OMSCore

/// Why a service refuses to start: one line naming the cause (printed, then exit 1).
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Runs `body`, turning a `ConfigurationError` into the argument parser's usage error, for checks
    /// made in `ParsableArguments.validate()` (exit status 64, like a malformed flag).
    /// - Throws: `ValidationError` with the same message, or what `body` throws otherwise.
    public static func asUsageError<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as ConfigurationError { throw ValidationError(error.message) }
    }
}

/// The settings of one service executable: the ones every service shares (`ServiceOptions`) and the
/// service's own (`Own`), each declared once as an `@Option(setting:…)` or `@Flag(setting:)`.
///
/// A setting `reservation-ttl` of `oms-inventory` is read from, in order: the flag
/// (`--reservation-ttl 900` or `--reservation-ttl=900`), the service's variable
/// (`OMS_INVENTORY_RESERVATION_TTL`), the suite-wide variable (`OMS_RESERVATION_TTL`), then its default.
/// Empty variables count as unset. An unknown flag, a stray argument or an `OMS_INVENTORY_…` variable that
/// names no setting is a usage error; the suite-wide names that only share the prefix (`OMS_INVENTORY_ADDR`,
/// the peer address other processes read, and `OMS_INVENTORY_DB_PASSWORD`, the Compose secret) are let be.
public struct ServiceSettings<Own: ParsableArguments & Sendable>: Sendable {
    public let service: SuiteService
    public let common: ServiceOptions
    public let own: Own

    /// Parses the command line over the environment.
    /// - Parameters:
    ///   - service: the service; names its variables and its default ports.
    ///   - arguments: command-line arguments without the program name.
    ///   - environment: the process environment.
    /// - Throws: the argument parser's errors (`--help` included): report them with `report(_:service:)`.
    public static func parse(
        service: SuiteService, arguments: [String], environment: [String: String]
    ) throws -> ServiceSettings {
        let catalog = SettingCatalog()
        return try SettingContext.$current.withValue(SettingContext(service: service, catalog: catalog)) {
            _ = ServiceOptions()
            _ = Own()
            let declared = catalog.settings
            try refuseUnknownVariables(environment, declared: declared, service: service)
            // The command line comes last so that it wins: of an option given twice, the parser keeps the last.
            let fromEnvironment = try environmentArguments(environment, declared: declared, service: service)
            let parsed = try ServiceCommandLine<Own>.parse(fromEnvironment + arguments)
            return ServiceSettings(service: service, common: parsed.common, own: parsed.own)
        }
    }

    /// What to print for an error of `parse` and the exit status: the help text and 0 for `--help`; for a
    /// usage error one line `oms-<svc>: error: <cause>`, a pointer to `--help`, and 64 (EX_USAGE).
    public static func report(_ error: any Error, service: SuiteService) -> (message: String, status: Int32) {
        SettingContext.$current.withValue(SettingContext(service: service, catalog: nil)) {
            let command = ServiceCommandLine<Own>.self
            let status = command.exitCode(for: error).rawValue
            guard status != 0 else { return (command.fullMessage(for: error), 0) }
            let message = command.message(for: error)
            return ("oms-\(service): error: \(message)\nsee 'oms-\(service) --help' for every setting", status)
        }
    }

    /// The `--help` text: every setting with its flag, environment names and default.
    public static func helpText(service: SuiteService) -> String {
        SettingContext.$current.withValue(SettingContext(service: service, catalog: nil)) {
            ServiceCommandLine<Own>.helpMessage(columns: 120)
        }
    }

    /// The `OMS_<SVC>_…` variables that name no setting.
    static func refuseUnknownVariables(
        _ environment: [String: String], declared: [DeclaredSetting], service: SuiteService
    ) throws {
        let known = Set(declared.map { SettingNames.serviceVariable($0.key, service: service) })
        let suiteWide = Set(
            SuiteService.allCases.map(\.addressVariable) + [service.environmentPrefix + "DB_PASSWORD"])
        let unknown = environment.keys.filter {
            $0.hasPrefix(service.environmentPrefix) && !known.contains($0) && !suiteWide.contains($0)
        }
        guard unknown.isEmpty else {
            throw ValidationError(
                "unknown environment variable\(unknown.count == 1 ? "" : "s") \(unknown.sorted().joined(separator: ", ")) "
                    + "(no setting of oms-\(service) has that name; see oms-\(service) --help)")
        }
    }

    /// The settings the environment sets, as `--key=value` arguments (flags as `--key` when true).
    static func environmentArguments(
        _ environment: [String: String], declared: [DeclaredSetting], service: SuiteService
    ) throws -> [String] {
        var arguments: [String] = []
        for setting in declared {
            let names = SettingNames.variables(setting.key, service: service)
            guard let name = names.first(where: { !(environment[$0] ?? "").isEmpty }), let value = environment[name]
            else { continue }
            if setting.isFlag {
                if try SettingValue.bool(value, name: name) { arguments.append("--\(setting.key)") }
            } else {
                arguments.append("--\(setting.key)=\(value)")
            }
        }
        return arguments
    }
}

/// The environment names of settings.
public enum SettingNames {
    /// `OMS_<SVC>_<KEY>` then `OMS_<KEY>`: `reservation-ttl` of inventory →
    /// `OMS_INVENTORY_RESERVATION_TTL`, `OMS_RESERVATION_TTL`.
    public static func variables(_ key: String, service: SuiteService) -> [String] {
        [serviceVariable(key, service: service), "OMS_" + suffix(key)]
    }

    /// `OMS_<SVC>_<KEY>`.
    public static func serviceVariable(_ key: String, service: SuiteService) -> String {
        service.environmentPrefix + suffix(key)
    }

    static func suffix(_ key: String) -> String { key.uppercased().replacingOccurrences(of: "-", with: "_") }
}

/// Readers of setting values, shared by the declarations; their messages become the parser's
/// "The value '…' is invalid for '--key': …".
public enum SettingValue {
    /// `500ms`, `30s`, `5m`, `1h`, or a bare number of milliseconds; not negative.
    /// - Throws: `ValidationError`.
    public static func duration(_ raw: String) throws -> Duration {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000)]
        for (suffix, factor) in units where raw.hasSuffix(suffix) {
            if let n = Int64(raw.dropLast(suffix.count)), n >= 0 { return .milliseconds(n * factor) }
        }
        if let n = Int64(raw), n >= 0 { return .milliseconds(n) }
        throw ValidationError("must be a duration such as 500ms, 30s or 5m")
    }

    /// A duration as the settings write it: the largest unit that divides it (`15m`, `500ms`).
    public static func format(_ duration: Duration) -> String {
        let ms = duration.wholeMilliseconds
        let units: [(String, Int64)] = [("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        for (suffix, factor) in units where ms != 0 && ms % factor == 0 {
            return "\(ms / factor)\(suffix)"
        }
        return "\(ms)ms"
    }

    /// An integer in `range`.
    /// - Throws: `ValidationError`.
    public static func integer(_ raw: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(raw), range.contains(value) else {
            throw ValidationError("must be an integer in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// `true`/`false`, `1`/`0`, `yes`/`no`, `on`/`off`.
    /// - Parameter name: what to name in the error, when it is not the flag being parsed.
    /// - Throws: `ValidationError`.
    public static func bool(_ raw: String, name: String? = nil) throws -> Bool {
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw ValidationError("\(name.map { "\($0) " } ?? "")must be true or false, got '\(raw)'")
        }
    }
}

extension Option {
    /// A setting read by `parse`, declared once: its flag `--<key>`, its environment names
    /// (`SettingNames.variables`) and its default appear in `--help`.
    /// - Parameters:
    ///   - key: the flag without dashes, e.g. `reservation-ttl`.
    ///   - help: one line on what it does.
    ///   - defaultText: the default as `--help` shows it.
    public init(
        wrappedValue: Value, setting key: String, help: String, defaultText: String,
        parse: @escaping @Sendable (String) throws -> Value
    ) {
        let help = SettingContext.declare(key, isFlag: false, help: help, defaultText: defaultText)
        self.init(wrappedValue: wrappedValue, name: .customLong(key), help: help, transform: parse)
    }

    /// An optional setting read by `parse` (nil when neither flag nor variable is set).
    public init<T>(
        setting key: String, help: String, defaultText: String = "none",
        parse: @escaping @Sendable (String) throws -> T
    ) where Value == T? {
        let help = SettingContext.declare(key, isFlag: false, help: help, defaultText: defaultText)
        self.init(name: .customLong(key), help: help, transform: parse)
    }
}

extension Option where Value == String {
    /// A text setting.
    public init(wrappedValue: String, setting key: String, help: String) {
        self.init(wrappedValue: wrappedValue, setting: key, help: help, defaultText: wrappedValue) { $0 }
    }
}

extension Option where Value == String? {
    /// An optional text setting.
    public init(setting key: String, help: String, defaultText: String = "none") {
        self.init(setting: key, help: help, defaultText: defaultText) { $0 }
    }
}

extension Option where Value == Int {
    /// An integer setting that must lie in `range`.
    public init(wrappedValue: Int, setting key: String, range: ClosedRange<Int>, help: String) {
        self.init(wrappedValue: wrappedValue, setting: key, help: help, defaultText: "\(wrappedValue)") {
            try SettingValue.integer($0, in: range)
        }
    }
}

extension Option where Value == Int {
    /// `write-batch-size`: the most concurrent callers' writes one group commit takes together
    /// (`BatchCoalescer`; docs/architecture.md, "Batching"). 1 commits every write alone.
    public init(writeBatchSize wrappedValue: Int) {
        self.init(
            wrappedValue: wrappedValue, setting: "write-batch-size", range: 1...1024,
            help: "Most concurrent callers' writes committed together (group commit); 1 commits each alone.")
    }
}

extension Option where Value == Duration {
    /// A duration setting (`500ms`, `30s`, `5m`, `1h` or milliseconds).
    public init(wrappedValue: Duration, setting key: String, help: String) {
        self.init(
            wrappedValue: wrappedValue, setting: key, help: help, defaultText: SettingValue.format(wrappedValue),
            parse: SettingValue.duration)
    }
}

extension Option where Value == Bool {
    /// A true/false setting given with a value (`--gate-enabled false`).
    public init(wrappedValue: Bool, setting key: String, help: String) {
        self.init(wrappedValue: wrappedValue, setting: key, help: help, defaultText: "\(wrappedValue)") {
            try SettingValue.bool($0)
        }
    }
}

extension Flag where Value == Bool {
    /// A setting that is off unless given as the bare flag `--<key>` (or a true variable).
    public init(setting key: String, help: String) {
        let help = SettingContext.declare(key, isFlag: true, help: help, defaultText: "off")
        self.init(wrappedValue: false, name: .customLong(key), help: help)
    }
}

/// The parser's root: the shared settings and the service's own. Its name and the environment names in
/// its help come from the `SettingContext` it is parsed in.
struct ServiceCommandLine<Own: ParsableArguments & Sendable>: ParsableCommand {
    static var configuration: CommandConfiguration {
        CommandConfiguration(
            commandName: SettingContext.current.service.map { "oms-\($0)" },
            abstract: "A service of the order-management suite.",
            discussion: """
                Every setting is a flag, the service's environment variable, or the suite-wide one, in that \
                order (see each setting's env names). Durations are 500ms, 30s, 5m, 1h or milliseconds.
                """)
    }

    @OptionGroup var common: ServiceOptions
    @OptionGroup var own: Own
}

/// One declared setting, as the environment layer needs it.
struct DeclaredSetting: Sendable, Hashable {
    var key: String
    var isFlag: Bool
}

/// The service the declarations are read for, and where they are collected. Declarations read it while the
/// option structs are built, which `ServiceSettings` does inside `$current.withValue`.
struct SettingContext: Sendable {
    @TaskLocal static var current = SettingContext(service: nil, catalog: nil)

    var service: SuiteService?
    var catalog: SettingCatalog?

    /// Records a declaration and returns its help: the text, then its environment names and default.
    static func declare(_ key: String, isFlag: Bool, help: String, defaultText: String) -> ArgumentHelp {
        let context = current
        context.catalog?.record(DeclaredSetting(key: key, isFlag: isFlag))
        let names = context.service.map { SettingNames.variables(key, service: $0) }
            ?? ["OMS_<SVC>_" + SettingNames.suffix(key), "OMS_" + SettingNames.suffix(key)]
        return ArgumentHelp("\(help) (env: \(names.joined(separator: ", ")); default: \(defaultText))")
    }
}

/// The declarations seen while the option structs were built.
final class SettingCatalog: Sendable {
    private let declared = NIOLockedValueBox<[String: DeclaredSetting]>([:])

    func record(_ setting: DeclaredSetting) { declared.withLockedValue { $0[setting.key] = setting } }

    var settings: [DeclaredSetting] { declared.withLockedValue { $0.values.sorted { $0.key < $1.key } } }
}
