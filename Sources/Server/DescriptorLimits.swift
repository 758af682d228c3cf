import Glibc
import NIOCore

/// The process's file descriptor limit, and how many connections fit under
/// it: every connection is a descriptor, and the database (its file, its
/// write-ahead log, its readers), the event loops and the runtime need some
/// too. Running out crashes libraries that cannot report it, so the server
/// never lets connections take the last ones.
struct DescriptorLimits {
    /// Descriptors the process may open now (`ulimit -n`).
    let soft: Int

    /// Descriptors kept free for everything but connections: 64, or half
    /// the limit when it is lower than 128.
    var headroom: Int { min(64, soft / 2) }

    /// The limit now, after raising the soft limit to the hard one (the
    /// soft limit is only a default; servers are expected to raise it).
    static func current() -> DescriptorLimits {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return DescriptorLimits(soft: .max) }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return DescriptorLimits(soft: limit.rlim_cur >= rlim_t(Int.max) ? .max : Int(limit.rlim_cur))
    }

    /// The sessions and handshakes requested, or fewer, so that both
    /// together leave the headroom free: handshakes get at most a quarter
    /// of what is left.
    func caps(sessions: Int, handshakes: Int) -> (sessions: Int, handshakes: Int) {
        guard soft != .max else { return (sessions, handshakes) }
        let budget = max(2, soft - headroom)
        let handshakes = max(1, min(handshakes, budget / 4))
        return (max(1, min(sessions, budget - handshakes)), handshakes)
    }
}

/// Sees accept failures on the listening socket before NIO's backoff
/// handler swallows them (it pauses accepting for a second), so that
/// running out of descriptors is logged and counted.
final class AcceptFailureObserver: ChannelInboundHandler, Sendable {
    typealias InboundIn = Any

    private let onExhaustion: @Sendable (IOError) -> Void

    init(onExhaustion: @escaping @Sendable (IOError) -> Void) {
        self.onExhaustion = onExhaustion
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, [EMFILE, ENFILE].contains(error.errnoCode) { onExhaustion(error) }
        context.fireErrorCaught(error)
    }
}
