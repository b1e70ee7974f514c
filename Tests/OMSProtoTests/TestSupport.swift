import Foundation

/// Helpers shared by the OMSProto tests.
enum TestSupport {
    /// The repository root (this file is Tests/OMSProtoTests/TestSupport.swift).
    static let repositoryRoot: URL = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct ProcessResult {
        var status: Int32
        var stdout: Data
        var stderr: String
    }

    /// Runs a program from the repository root, feeding `input` on stdin.
    static func run(_ executable: String, _ arguments: [String], input: Data = Data()) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.currentDirectoryURL = repositoryRoot
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Drain the pipes on other threads so a large output never blocks the child.
        let outBox = DataBox()
        let errBox = DataBox()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { outBox.data = stdout.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errBox.data = stderr.fileHandleForReading.readDataToEndOfFile() }
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        process.waitUntilExit()
        group.wait()
        return ProcessResult(
            status: process.terminationStatus, stdout: outBox.data, stderr: String(decoding: errBox.data, as: UTF8.self))
    }

    /// `protoc --decode=<type>` of `bytes`, as text.
    static func protocDecode(_ type: String, file: String, _ bytes: [UInt8]) throws -> String {
        let result = try run("protoc", ["--decode=\(type)", "-I", "proto", "proto/\(file)"], input: Data(bytes))
        guard result.status == 0 else { throw ProtocFailure(message: result.stderr) }
        return String(decoding: result.stdout, as: UTF8.self)
    }

    /// `protoc --encode=<type>` of text format.
    static func protocEncode(_ type: String, file: String, _ text: String) throws -> [UInt8] {
        let result = try run("protoc", ["--encode=\(type)", "-I", "proto", "proto/\(file)"], input: Data(text.utf8))
        guard result.status == 0 else { throw ProtocFailure(message: result.stderr) }
        return [UInt8](result.stdout)
    }

    struct ProtocFailure: Error { var message: String }

    private final class DataBox: @unchecked Sendable {
        // Written by one dispatch block, read after group.wait().
        var data = Data()
    }
}

/// A small deterministic PRNG (SplitMix64) so fuzz inputs are reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
