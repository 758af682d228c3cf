import NIOConcurrencyHelpers

/// Holds elements back by an ``AddedLatency`` and hands them on in the
/// order they came: each is due at its arrival plus the latency plus a
/// random jitter, but never before the one ahead of it.
final class DelayLine<Element: Sendable>: Sendable {
    private let latency: AddedLatency
    private let lastDue = NIOLockedValueBox(ContinuousClock.now)
    private let stream: AsyncStream<(due: ContinuousClock.Instant, element: Element)>
    private let continuation: AsyncStream<(due: ContinuousClock.Instant, element: Element)>.Continuation

    init(_ latency: AddedLatency) {
        self.latency = latency
        (stream, continuation) = AsyncStream.makeStream()
    }

    /// Takes an element in, due after the latency and jitter.
    func push(_ element: Element) {
        let delay = latency.milliseconds + UInt64.random(in: 0...latency.jitter)
        let due = lastDue.withLockedValue { last in
            last = max(last, ContinuousClock.now + .milliseconds(delay))
            return last
        }
        continuation.yield((due, element))
    }

    /// No more elements: ``drain(_:)`` returns once it has handed on the rest.
    func finish() {
        continuation.finish()
    }

    /// Hands every element on when it is due, until ``finish()`` or
    /// cancellation, or until `body` returns false or throws.
    func drain(_ body: @Sendable (Element) async throws -> Bool) async throws {
        for await (due, element) in stream {
            try await Task.sleep(until: due, clock: .continuous)
            guard try await body(element) else { return }
        }
    }
}
