import NIOConcurrencyHelpers
import Storage

/// Whether the durable log takes writes, shared by every room of a server.
///
/// The first failed append marks the store failed; from then on rooms
/// refuse updates at once (``CloseReason/storageUnavailable(_:)``) instead
/// of trying the disk for every batch, until the server's timer finds that
/// a write works again (``DurableLog/probe()``). `/readyz` says not ready
/// meanwhile.
final class StorageHealth: Sendable {
    private let state = NIOLockedValueBox<StorageError?>(nil)

    /// What made the store fail, while it is failed.
    var fault: StorageError? { state.withLockedValue { $0 } }

    /// Notes a failed write.
    /// - Returns: Whether the store was healthy until now (log it once).
    func markFailed(_ error: StorageError) -> Bool {
        state.withLockedValue { fault in
            defer { fault = error }
            return fault == nil
        }
    }

    /// Notes that writes work again.
    /// - Returns: Whether the store was failed until now.
    func markHealthy() -> Bool {
        state.withLockedValue { fault in
            defer { fault = nil }
            return fault != nil
        }
    }
}
