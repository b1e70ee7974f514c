import Foundation
import OMSCore
import OMSMySQL

/// One authorization as the sandbox provider remembers it.
struct SandboxAuthorization: Sendable, Hashable {
    var fingerprint: String
    var amount: Int64
    var outcome: ProviderAuthorizationOutcome
    var captured: Int64 = 0
    var refunded: Int64 = 0
    var voided = false
}

/// Where the sandbox provider keeps its records: in memory (unit tests of the payments engine) or in
/// the payments database (the service), so that authorizations outlive a restart like a real
/// processor's.
protocol SandboxLedger: Sendable {
    /// Records `authorization` under `key` unless a record exists; returns the record that holds.
    func record(key: String, _ authorization: SandboxAuthorization) async throws -> SandboxAuthorization
    /// The record under `key`.
    func authorization(key: String) async throws -> SandboxAuthorization?
    /// Applies a capture, void or refund once per operation key: a repeat whose fingerprint matches the
    /// stored one does nothing, another one throws `idempotencyMismatch`; an unknown reference throws
    /// `rejected`. New operations store `fingerprint.value`.
    func move(
        operationKey: String, fingerprint: FingerprintVerifier, reference: String,
        _ apply: @escaping @Sendable (inout SandboxAuthorization) throws -> Void
    ) async throws
}

/// The sandbox's records in process memory.
actor InMemorySandboxLedger: SandboxLedger {
    private var authorizations: [String: SandboxAuthorization] = [:]
    private var references: [String: String] = [:]  // reference → authorization key
    private var operations: [String: String] = [:]  // operation key → fingerprint

    func record(key: String, _ authorization: SandboxAuthorization) -> SandboxAuthorization {
        if let existing = authorizations[key] { return existing }
        authorizations[key] = authorization
        if case .approved(let reference) = authorization.outcome { references[reference] = key }
        return authorization
    }

    func authorization(key: String) -> SandboxAuthorization? { authorizations[key] }

    func move(
        operationKey: String, fingerprint: FingerprintVerifier, reference: String,
        _ apply: @escaping @Sendable (inout SandboxAuthorization) throws -> Void
    ) throws {
        if let seen = operations[operationKey] {
            guard fingerprint.matches(seen) else { throw PaymentProviderError.idempotencyMismatch }
            return
        }
        guard let key = references[reference], var a = authorizations[key] else {
            throw PaymentProviderError.rejected("unknown authorization")
        }
        try apply(&a)
        authorizations[key] = a
        operations[operationKey] = fingerprint.value
    }
}

/// The sandbox's records in the payments database (`sandbox_authorizations`, `sandbox_operations`;
/// services/payments/migrations/V003). READ COMMITTED: the locking reads of keys that do not exist
/// yet take no gap locks; two first requests with one key are decided by its primary key.
struct MySQLSandboxLedger: SandboxLedger {
    let database: MySQLDatabase

    private static let columns = "fingerprint, amount, outcome, reference, captured, refunded, voided"

    private static func authorization(_ row: MySQLRow) throws -> SandboxAuthorization {
        let outcome: ProviderAuthorizationOutcome
        let text = try row.string("outcome")
        if text == "approved" {
            outcome = .approved(reference: try row.optionalString("reference") ?? "")
        } else {
            outcome = .declined(DeclineCode(rawValue: text) ?? .processingError)
        }
        return SandboxAuthorization(
            fingerprint: try row.string("fingerprint"), amount: try row.int64("amount"), outcome: outcome,
            captured: try row.int64("captured"), refunded: try row.int64("refunded"), voided: try row.int64("voided") == 1)
    }

    func record(key: String, _ a: SandboxAuthorization) async throws -> SandboxAuthorization {
        let (outcome, reference): (String, String?) =
            switch a.outcome {
            case .approved(let r): ("approved", r)
            case .declined(let code): (code.rawValue, nil)
            }
        // One autocommit statement in the usual case: 1 row affected = this call recorded it; 0 = a
        // record existed (a repeat, or a concurrent first request that won), which is then read.
        let inserted = try await database.write { c in
            try await c.execute(
                """
                INSERT INTO sandbox_authorizations (idempotency_key, fingerprint, amount, outcome, reference, created_at)
                VALUES (?, ?, ?, ?, ?, NOW(6)) ON DUPLICATE KEY UPDATE idempotency_key = idempotency_key
                """,
                [.string(key), .string(a.fingerprint), .int64(a.amount), .string(outcome), .optional(reference) { .string($0) }])
        }.affectedRows == 1
        if inserted { return a }
        guard let existing = try await authorization(key: key) else {
            throw MySQLError(kind: .other, message: "sandbox authorization \(key) vanished")
        }
        return existing
    }

    func authorization(key: String) async throws -> SandboxAuthorization? {
        try await database.write { c in
            try await c.queryOne(
                "SELECT \(Self.columns) FROM sandbox_authorizations WHERE idempotency_key = ?", [.string(key)])
        }.map(Self.authorization)
    }

    func move(
        operationKey: String, fingerprint: FingerprintVerifier, reference: String,
        _ apply: @escaping @Sendable (inout SandboxAuthorization) throws -> Void
    ) async throws {
        // The same operation key may commit first elsewhere: the next run finds its row.
        try await retryingOnDuplicateKey {
            try await moveOnce(operationKey: operationKey, fingerprint: fingerprint, reference: reference, apply)
        }
    }

    private func moveOnce(
        operationKey: String, fingerprint: FingerprintVerifier, reference: String,
        _ apply: @escaping @Sendable (inout SandboxAuthorization) throws -> Void
    ) async throws {
        try await database.batchedTransaction(isolation: .readCommitted, retryable: true) { tx in
            if let seen = try tx.queryOne(
                "SELECT fingerprint FROM sandbox_operations WHERE idempotency_key = ? FOR UPDATE", [.string(operationKey)])
            {
                guard try fingerprint.matches(seen.string("fingerprint")) else {
                    throw PaymentProviderError.idempotencyMismatch
                }
                return
            }
            guard let row = try tx.queryOne(
                "SELECT idempotency_key, \(Self.columns) FROM sandbox_authorizations WHERE reference = ? FOR UPDATE",
                [.string(reference)])
            else { throw PaymentProviderError.rejected("unknown authorization") }
            var a = try Self.authorization(row)
            try apply(&a)
            try tx.execute(
                "UPDATE sandbox_authorizations SET captured = ?, refunded = ?, voided = ? WHERE idempotency_key = ?",
                [.int64(a.captured), .int64(a.refunded), .bool(a.voided), .string(try row.string("idempotency_key"))])
            try tx.execute(
                "INSERT INTO sandbox_operations (idempotency_key, fingerprint, created_at) VALUES (?, ?, NOW(6))",
                [.string(operationKey), .string(fingerprint.value)])
        }
    }
}
