import Foundation

/// The suite's configuration as the tools see it: the process environment over `.oms/env`
/// (`$OMS_HOME/env`, else `./.oms/env`), the file written by `tools/oms-env.sh`. Variables already set in the
/// environment win, as in `tools/oms-suite.sh`. Shared by `omsctl`, `oms-loadgen` and the test kit.
public struct SuiteEnvironment: Sendable {
    /// The merged variables.
    public var values: [String: String]
    /// The env file that was read, if any.
    public var file: String?

    /// Loads the environment.
    /// - Parameter processEnvironment: the process's variables.
    public static func load(_ processEnvironment: [String: String] = ProcessInfo.processInfo.environment) -> SuiteEnvironment {
        let cwd = FileManager.default.currentDirectoryPath
        let home = processEnvironment["OMS_HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? cwd + "/.oms"
        let path = home + "/env"
        var merged: [String: String] = [:]
        var file: String?
        if let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) {
            file = path
            merged = parse(text)
        }
        for (k, v) in processEnvironment { merged[k] = v }
        if merged["OMS_AUTH_TOKEN"] == nil && merged["OMS_AUTH_TOKEN_FILE"] == nil {
            merged["OMS_AUTH_TOKEN_FILE"] = home + "/auth-token"
        }
        return SuiteEnvironment(values: merged, file: file)
    }

    public init(values: [String: String], file: String? = nil) {
        self.values = values
        self.file = file
    }

    /// Parses `KEY=VALUE` lines; blank lines and `#` comments are skipped, surrounding quotes removed.
    public static func parse(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for raw in text.split(whereSeparator: \.isNewline) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            guard !line.isEmpty, !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
            var key = String(line[..<eq]).trimmingCharacters(in: .whitespaces)
            if key.hasPrefix("export ") { key = String(key.dropFirst(7)).trimmingCharacters(in: .whitespaces) }
            var value = String(line[line.index(after: eq)...])
            if value.count >= 2, let f = value.first, f == value.last, f == "\"" || f == "'" {
                value = String(value.dropFirst().dropLast())
            }
            out[key] = value
        }
        return out
    }

    public subscript(_ key: String) -> String? {
        values[key].flatMap { $0.isEmpty ? nil : $0 }
    }
}
