import Foundation

/// The suite's shared bearer token, read the same way by the services and by their callers.
public enum SuiteToken {
    /// The token given directly, else the contents of `file` (default `.oms/auth-token` under
    /// `workingDirectory`) with surrounding white space removed.
    /// - Parameters:
    ///   - token: a token given directly (`OMS_AUTH_TOKEN`, `--auth-token`); empty counts as none.
    ///   - file: the token file (`OMS_AUTH_TOKEN_FILE`, `--auth-token-file`); empty counts as none.
    ///   - workingDirectory: where the default `.oms/auth-token` is looked for.
    /// - Returns: the token.
    /// - Throws: `OMSClientError` when no token is found, or it is shorter than 16 characters or not
    ///   printable ASCII without spaces.
    public static func load(
        token: String?, file: String?, workingDirectory: String = FileManager.default.currentDirectoryPath
    ) throws -> String {
        if let token, !token.isEmpty { return try validated(token, source: "OMS_AUTH_TOKEN") }
        let path = file.flatMap { $0.isEmpty ? nil : $0 } ?? workingDirectory + "/.oms/auth-token"
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8)
        else {
            throw OMSClientError("no auth token: set OMS_AUTH_TOKEN or OMS_AUTH_TOKEN_FILE (looked for \(path))")
        }
        return try validated(text.trimmingCharacters(in: .whitespacesAndNewlines), source: path)
    }

    private static func validated(_ token: String, source: String) throws -> String {
        guard token.count >= 16, token.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else {
            throw OMSClientError("auth token from \(source) must be at least 16 printable ASCII characters")
        }
        return token
    }
}
