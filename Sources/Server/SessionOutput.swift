import NIOConcurrencyHelpers
import NIOCore
import Scuttlebutt
import Storage
import Whiteboard

/// Where a ``Room`` sends one session's messages: a connection, or, for
/// peers in the same process (benchmarks), a stream.
public protocol SessionOutput: Sendable {
    /// Queues one room turn's messages for the peer, in order.
    /// - Returns: False when the peer reads too slowly for more to be
    ///   queued: the room then ends the session as a slow consumer.
    func send(_ messages: [GossipMessage<BoardAction>]) -> Bool
    /// Ends the output once everything queued before has gone.
    func finish()
    /// Where a peer on this output's transport reaches `node`.
    func address(of node: ClusterNode) -> String
}

extension SessionOutput {
    /// The node's protocol address (`HOST:PORT`), for peers over TCP.
    public func address(of node: ClusterNode) -> String { node.address }
}

extension AsyncStream.Continuation: SessionOutput where Element == [GossipMessage<BoardAction>] {
    /// Yields the messages; false when the stream's buffer is full.
    public func send(_ messages: [GossipMessage<BoardAction>]) -> Bool {
        if case .dropped = yield(messages) { return false }
        return true
    }

    /// The node's HTTP address, where WebSocket peers (the only users of
    /// this output) reach it; its protocol address when it serves no HTTP.
    public func address(of node: ClusterNode) -> String { node.webAddress ?? node.address }
}

/// A session's messages written straight to its connection, every message
/// of a room turn written and flushed once: inline when the room runs on the
/// channel's event loop, one hop to that loop otherwise. (Before, each turn went through a bounded `AsyncStream`,
/// a task of the connection's and `NIOAsyncChannel`'s writer: two thread
/// hand-offs more per turn and receiver.)
///
/// A peer that stops reading leaves its turns queued in the channel (the
/// socket's buffer is full); at `limit` turns queued and not yet written to
/// the socket, ``send(_:)`` refuses, and the room cuts the peer off.
final class ChannelOutput: SessionOutput {
    typealias Message = GossipMessage<BoardAction>

    private let channel: any Channel
    private let limit: Int
    /// Turns handed to the event loop and not yet written to the socket.
    private let queued = NIOLockedValueBox(0)

    /// Writes to `channel`, refusing beyond `limit` turns queued.
    init(channel: any Channel, limit: Int) {
        self.channel = channel
        self.limit = limit
    }

    func send(_ messages: [Message]) -> Bool {
        guard let last = messages.last else { return true }
        let admitted = queued.withLockedValue { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
        guard admitted else { return false }
        let (channel, queued) = (channel, queued)
        let write: @Sendable () -> Void = {
            for message in messages.dropLast() { channel.write(message, promise: nil) }
            let written = channel.eventLoop.makePromise(of: Void.self)
            written.futureResult.whenComplete { _ in queued.withLockedValue { $0 -= 1 } }
            channel.writeAndFlush(last, promise: written)
        }
        if channel.eventLoop.inEventLoop { write() } else { channel.eventLoop.execute(write) }
        return true
    }

    /// Closes our side once what is queued has been written (so a goodbye
    /// arrives), and the whole connection 2 s later whether or not the peer
    /// closes its side.
    func finish() {
        let channel = channel
        channel.eventLoop.execute {
            channel.close(mode: .output, promise: nil)
            channel.eventLoop.scheduleTask(in: .seconds(2)) { channel.close(promise: nil) }
        }
    }
}
