/// Runs `body` with a resource taken by `acquire`, and gives the resource back with `release` whether `body`
/// returns or throws (the pools' lease-use-release step, written once).
/// - Parameters:
///   - acquire: takes the resource (a pooled connection); when it throws, nothing is released.
///   - release: gives the resource back; runs exactly once after `body`.
///   - isolation: the caller's actor (filled in automatically).
///   - body: work with the resource; it must not keep the resource after returning.
/// - Returns: what `body` returns.
/// - Throws: what `acquire` or `body` throws.
public func withScopedLease<Resource, R>(
    acquire: () async throws -> Resource,
    release: (Resource) async -> Void,
    isolation: isolated (any Actor)? = #isolation,
    _ body: (Resource) async throws -> R
) async throws -> R {
    let resource = try await acquire()
    do {
        let result = try await body(resource)
        await release(resource)
        return result
    } catch {
        await release(resource)
        throw error
    }
}
