import ArgumentParser
import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// The crash points of one service, declared once as an enum whose raw values are the names the
/// `failpoint` setting uses (`after-intent`, `outbox-after-delivery`, …).
public protocol FailpointName: RawRepresentable<String>, CaseIterable, Hashable, Sendable {}

/// TEST-ONLY crash injection: the points of a service at which its process kills itself with SIGKILL, read
/// from the `failpoint` setting (docs/operations.md, "Failpoints"). Unset in production; a process started
/// with one armed logs a `TEST-ONLY failpoint set` warning at start-up (`ServiceRunner`).
///
/// The setting is a comma-separated list of
/// - `crash-at:<point>`: crash the first time the point is reached (the process does not survive it);
/// - `crash-at:<point>@<probability>`: crash with that probability (0 < p ≤ 1) each time it is reached;
/// - `crash-after:<step>`: the same as `crash-at:after-<step>` (the spelling checkout's tests always used).
///
/// A point fires by logging at critical level and `kill(getpid(), SIGKILL)`: the process ends like `kill -9`
/// at exactly that moment, with no drain, no deferred cleanup and no buffered write.
public struct Failpoints<Point: FailpointName>: Sendable, Hashable, CustomStringConvertible {
    /// When an armed point fires.
    public enum Trigger: Sendable, Hashable {
        /// The first time the point is reached.
        case first
        /// Each time it is reached, with this probability.
        case probability(Double)
    }

    /// The armed points; empty when the setting is unset.
    public let armed: [Point: Trigger]

    /// Nothing armed (the default).
    public static var off: Failpoints { Failpoints(armed: [:]) }

    public init(armed: [Point: Trigger]) { self.armed = armed }

    /// Whether any point is armed.
    public var isArmed: Bool { !armed.isEmpty }

    /// Parses the `failpoint` setting (see the type); an empty text arms nothing.
    /// - Throws: `ConfigurationError` naming the service's points when an item is malformed, names no point of
    ///   `Point`, has a probability outside 0 < p ≤ 1, or arms a point twice.
    public init(parsing text: String) throws(ConfigurationError) {
        var armed: [Point: Trigger] = [:]
        let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        for item in items where !item.isEmpty {
            let (point, trigger) = try Self.parseItem(item)
            guard armed.updateValue(trigger, forKey: point) == nil else {
                throw ConfigurationError("failpoint \(point.rawValue) is armed twice")
            }
        }
        self.armed = armed
    }

    private static func parseItem(_ item: String) throws(ConfigurationError) -> (Point, Trigger) {
        let spec: String
        if item.hasPrefix("crash-at:") {
            spec = String(item.dropFirst("crash-at:".count))
        } else if item.hasPrefix("crash-after:") {
            spec = "after-" + item.dropFirst("crash-after:".count)
        } else {
            throw usage("'\(item)' is not crash-at:<point>[@<probability>] or crash-after:<step>")
        }
        let parts = spec.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false)
        guard let point = Point(rawValue: String(parts[0])) else { throw usage("no point \(parts[0])") }
        guard parts.count == 2 else { return (point, .first) }
        guard let p = Double(parts[1]), p > 0, p <= 1 else {
            throw ConfigurationError("failpoint \(point.rawValue): the probability must be in (0, 1], got '\(parts[1])'")
        }
        return (point, p == 1 ? .first : .probability(p))
    }

    private static func usage(_ problem: String) -> ConfigurationError {
        ConfigurationError("\(problem) (TEST ONLY: crash-at:<point>[@<probability>],…; points: \(pointList))")
    }

    /// The names of `Point`, as `--help` and the errors list them.
    public static var pointList: String { Point.allCases.map(\.rawValue).sorted().joined(separator: ", ") }

    /// The setting's text: what `init(parsing:)` reads back to the same value ("" when off).
    public var description: String {
        armed.sorted { $0.key.rawValue < $1.key.rawValue }.map { point, trigger in
            switch trigger {
            case .first: "crash-at:\(point.rawValue)"
            case .probability(let p): "crash-at:\(point.rawValue)@\(p)"
            }
        }.joined(separator: ",")
    }

    /// Whether reaching `point` crashes, given a uniform `roll` in 0..<1.
    public func fires(at point: Point, roll: Double) -> Bool {
        switch armed[point] {
        case nil: false
        case .first: true
        case .probability(let p): roll < p
        }
    }

    /// Kills the process with SIGKILL here when `point` is armed (and its probability roll says so); does
    /// nothing otherwise. Unset, this is one check of an empty dictionary.
    /// - Parameters:
    ///   - point: the point the caller has reached.
    ///   - logger: where the critical line goes before the process dies.
    @inlinable
    public func reach(_ point: Point, logger: Logger) {
        guard isArmed, fires(at: point, roll: Double.random(in: 0..<1)) else { return }
        Self.crash(at: point, logger: logger)
    }

    @usableFromInline
    static func crash(at point: Point, logger: Logger) -> Never {
        logger.critical(
            "failpoint: crashing with SIGKILL (test-only setting)", metadata: ["failpoint": "\(point.rawValue)"])
        kill(getpid(), SIGKILL)
        fatalError("SIGKILL did not stop the process")
    }
}

/// A service's own settings that carry the `failpoint` setting: `ServiceRunner` warns at start-up when a point
/// is armed.
public protocol FailpointSettings {
    associatedtype Point: FailpointName
    /// The parsed `failpoint` setting.
    var failpoint: Failpoints<Point> { get }
}

extension FailpointSettings {
    /// The armed points as the setting spells them; nil when none is.
    public var armedFailpoints: String? { failpoint.isArmed ? failpoint.description : nil }
}

extension Option {
    /// The TEST-ONLY `failpoint` setting of a service whose crash points are `Point` (see `Failpoints`);
    /// `--help` lists the points. Off by default.
    /// - Parameter failpoints: the service's points.
    public init<Point: FailpointName>(failpoints: Point.Type) where Value == Failpoints<Point> {
        self.init(
            wrappedValue: .off, setting: "failpoint",
            help: "TEST ONLY: crash-at:<point>[@<probability>],… kills the process with SIGKILL at that point; "
                + "points: \(Failpoints<Point>.pointList).",
            defaultText: "off"
        ) { text in
            try ConfigurationError.asUsageError { try Failpoints(parsing: text) }
        }
    }
}
