import NIOConcurrencyHelpers
import NIOCore
import Rooms
import Scuttlebutt
import Whiteboard

/// An accepted connection: the async channel its task reads the hello and
/// the end of from, and the handler that gives the rest to its room.
///
/// A connection accepted while the listener closes is dropped by NIO before
/// anyone takes it; an async channel dropped with its writer open stops the
/// process (`NIOAsyncWriter` traps), so one never taken closes itself when
/// it goes (seen once in a full test run, at a server's stop).
final class AcceptedConnection: Sendable {
    typealias Connection = NIOAsyncChannel<GossipMessage<BoardAction>, GossipMessage<BoardAction>>

    private let channel: Connection
    private let inbound: RoomInboundHandler
    private let taken = NIOLockedValueBox(false)

    init(channel: Connection, inbound: RoomInboundHandler) {
        self.channel = channel
        self.inbound = inbound
    }

    /// The connection, for the task that serves it (which closes it).
    func take() -> (channel: Connection, inbound: RoomInboundHandler) {
        taken.withLockedValue { $0 = true }
        return (channel, inbound)
    }

    deinit {
        guard !taken.withLockedValue({ $0 }) else { return }
        // The task keeps the channel's writer alive until it is finished.
        let channel = channel
        Task { try? await channel.executeThenClose { _, _ in } }
    }
}

/// Hands a connection's messages to its room straight from the channel's
/// event loop, everything one socket read decoded in one batch: with no task,
/// stream or actor hop in between, and with no hop at all when the room runs
/// on the connection's own event loop.
///
/// The first message (the `hello`) goes on down the pipeline, to the
/// connection's task that admits the peer and finds its room; what follows
/// waits here until ``join(_:as:)``, then goes to the room as it arrives.
/// Errors and the end of the stream still go down the pipeline after the
/// messages before them have reached the room, so the connection's task
/// sees them in order.
///
/// Back-pressure: when more than ``limit`` messages wait (for the join, or
/// for a room on another event loop to take them), the handler stops asking
/// the socket for more until the room has caught up.
final class RoomInboundHandler: ChannelDuplexHandler, @unchecked Sendable {
    // Unchecked: every stored property is touched on the channel's event
    // loop only, except `flow` (a lock) and the immutable `limit`.
    typealias InboundIn = GossipMessage<BoardAction>
    typealias InboundOut = GossipMessage<BoardAction>
    typealias OutboundIn = GossipMessage<BoardAction>
    typealias OutboundOut = GossipMessage<BoardAction>
    typealias Message = GossipMessage<BoardAction>

    private enum State {
        /// Nothing read yet: the first message goes down the pipeline.
        case awaitingHello
        /// The hello went down; what follows waits for the room.
        case admitting
        /// Messages go to the room, as session `id`.
        case joined(Room, SessionID)
        /// The connection is refused or its session over: messages are
        /// dropped while it closes.
        case discarding
    }

    /// The usual ``limit``: as many as a room holds for a session while its
    /// batch is being stored.
    static let defaultLimit = 1_024

    /// Messages that may wait before reading from the socket pauses.
    let limit: Int
    private var state = State.awaitingHello
    /// Messages read and not yet handed to the room.
    private var pending: [Message] = []
    private var context: ChannelHandlerContext?
    /// Messages handed to a room on another event loop and not taken yet,
    /// and whether a read the pipeline asked for is held back meanwhile.
    private let flow = NIOLockedValueBox((inFlight: 0, readHeld: false))

    /// Pauses reading beyond `limit` messages waiting.
    init(limit: Int) {
        self.limit = limit
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .awaitingHello:
            state = .admitting
            context.fireChannelRead(data)
        case .admitting, .joined:
            pending.append(unwrapInboundIn(data))
        case .discarding:
            break
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        deliver()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        deliver()
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        deliver()
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        let pending = pending.count
        let hold = flow.withLockedValue { flow in
            flow.readHeld = pending + flow.inFlight > limit
            return flow.readHeld
        }
        if !hold { context.read() }
    }

    /// The peer joined `room` as `id`: what waited goes to the room now,
    /// and what arrives later as it arrives. Call on the channel's event loop.
    func join(_ room: Room, as id: SessionID) {
        state = .joined(room, id)
        deliver()
        resumeReadingIfCaughtUp()
    }

    /// Drops what waits and whatever arrives from now on (the peer was
    /// refused, or its session is over), and reads on so that the peer's
    /// end of the stream is seen. Call on the channel's event loop.
    func discard() {
        state = .discarding
        pending = []
        flow.withLockedValue { $0.readHeld = false }
        context?.read()
    }

    /// Hands what was read to the room, if it is known.
    private func deliver() {
        guard case .joined(let room, let id) = state, !pending.isEmpty else { return }
        let batch = pending
        pending = []
        if room.eventLoop.inEventLoop {
            room.assumeIsolated { $0.handle(batch, from: id) }
            return
        }
        flow.withLockedValue { $0.inFlight += batch.count }
        let (loop, flow, low) = (context?.eventLoop, flow, limit / 2)
        room.eventLoop.execute {
            room.assumeIsolated { $0.handle(batch, from: id) }
            let resume = flow.withLockedValue { flow in
                flow.inFlight -= batch.count
                return flow.readHeld && flow.inFlight <= low
            }
            if resume { loop?.execute { self.resumeReadingIfCaughtUp() } }
        }
    }

    /// Asks the socket for more once what waits has fallen to half the limit.
    private func resumeReadingIfCaughtUp() {
        let pending = pending.count
        let resume = flow.withLockedValue { flow in
            guard flow.readHeld, pending + flow.inFlight <= limit / 2 else { return false }
            flow.readHeld = false
            return true
        }
        if resume { context?.read() }
    }
}
