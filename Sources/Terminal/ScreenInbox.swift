import NIOConcurrencyHelpers

/// What a screen loop has to do next, gathered while it was busy: the
/// terminal's events in order, and whether anything it shows changed.
///
/// Changes from the network are a flag, not a queue: however many arrive
/// while a frame is being drawn, the next frame draws the latest state once.
/// Terminal events are kept in order (a key, a click, a drag's points), so
/// input is handled before anything is redrawn and nothing a person typed
/// is lost. A person cannot type faster than a loop reads, but a stalled
/// loop must not hoard memory either: past ``maxQueuedEvents``, the oldest
/// mouse motions are dropped (clicks, keys, resizes and termination never).
public final class ScreenInbox: Sendable {
    /// What arrived since the last ``next()``.
    public struct Batch: Sendable, Equatable {
        /// Terminal events, oldest first.
        public var events: [TerminalEvent] = []
        /// Whether what the screen shows changed (board, presence, connection).
        public var changed = false
        /// Mouse motions dropped because too many events were queued.
        public var droppedMotions = 0

        /// Whether there is nothing to do.
        public var isEmpty: Bool { events.isEmpty && !changed }
    }

    /// Events kept at most before old mouse motions are dropped.
    public static let maxQueuedEvents = 4_096

    private struct State {
        var batch = Batch()
        var waiter: CheckedContinuation<Void, Never>?

        mutating func takeWaiter() -> CheckedContinuation<Void, Never>? {
            defer { waiter = nil }
            return waiter
        }
    }

    private let state = NIOLockedValueBox(State())

    /// An empty inbox.
    public init() {}

    /// Queues a terminal event.
    public func post(_ event: TerminalEvent) {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.batch.events.append(event)
            if state.batch.events.count > Self.maxQueuedEvents,
                let motion = state.batch.events.firstIndex(where: \.isMouseMotion)
            {
                state.batch.events.remove(at: motion)
                state.batch.droppedMotions += 1
            }
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// Notes that what the screen shows changed.
    public func markChanged() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            state.batch.changed = true
            return state.takeWaiter()
        }
        waiter?.resume()
    }

    /// Everything gathered so far, without waiting (possibly nothing).
    public func take() -> Batch {
        state.withLockedValue { state in
            defer { state.batch = Batch() }
            return state.batch
        }
    }

    /// Waits until something arrives, then takes everything gathered.
    /// Only one task may wait at a time.
    public func next() async -> Batch {
        while true {
            let batch = take()
            if !batch.isEmpty { return batch }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLockedValue { state -> Bool in
                    guard state.batch.isEmpty else { return true }
                    precondition(state.waiter == nil, "only one task may wait on a ScreenInbox")
                    state.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }
}

extension TerminalEvent {
    /// Whether this is a mouse motion (with or without a button held).
    var isMouseMotion: Bool {
        if case .input(.mouse(let mouse)) = self { return mouse.action == .motion }
        return false
    }
}
