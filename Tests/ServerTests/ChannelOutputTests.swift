import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Scuttlebutt
import Testing
import Whiteboard
import Wire

@testable import Server

/// The room's writes straight to a connection, over a real loopback socket.
@Suite struct ChannelOutputTests {
    typealias Message = GossipMessage<BoardAction>

    /// A listener whose accepted connection has the server's frame coders,
    /// and a client connected to it that reads only when told to.
    func connectedPair() async throws -> (server: any Channel, client: any Channel, listener: any Channel) {
        let accepted = NIOLockedValueBox<(any Channel)?>(nil)
        let listener = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 = channel }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addGossipFrameCoders(BoardActionCodec.self)
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(host: "127.0.0.1", port: listener.localAddress!.port!).get()
        try await eventually(10, "the connection accepted") { accepted.withLockedValue { $0 } != nil }
        return (accepted.withLockedValue { $0 }!, client, listener)
    }

    @Test func aPeerThatNeverReadsIsRefusedOnceTheLimitOfTurnsIsQueued() async throws {
        let (server, client, listener) = try await connectedPair()
        let output = ChannelOutput(channel: server, limit: 3)
        // 512 KiB a turn: the kernel's buffers fill within a few turns, and
        // then every turn stays queued in the channel.
        let turn: [Message] = [.snapshotChunk(Array(repeating: 7, count: 512 * 1_024))]
        var accepted = 0
        while accepted < 1_000, output.send(turn) {
            accepted += 1
            // Let the event loop try each write before the next turn comes.
            try await Task.sleep(for: .milliseconds(5))
        }
        #expect(accepted < 1_000, "a peer that never reads is refused at last")
        #expect(accepted >= 3, "the first turns are queued, not refused")
        #expect(!output.send([.ping(1)]), "and stays refused while nothing drains")
        try? await client.close()
        try? await server.close()
        try? await listener.close()
    }

    @Test func everyTurnArrivesInOrderAndFinishClosesOurSideAfterIt() async throws {
        let (server, client, listener) = try await connectedPair()
        let received = NIOLockedValueBox<[UInt8]>([])
        let closed = NIOLockedValueBox(false)
        try await client.pipeline.addHandler(ByteCollector(received: received, inputClosed: closed)).get()
        client.read()
        let output = ChannelOutput(channel: server, limit: 16)
        #expect(output.send([.ping(1), .ping(2)]))
        #expect(output.send([.goodbye(.normal)]))
        output.finish()
        try await eventually(10, "our side closed after the goodbye") { closed.withLockedValue { $0 } }
        var expected = ByteBuffer()
        var encoder = WireEncoder<BoardActionCodec>()
        for message in [Message.ping(1), .ping(2), .goodbye(.normal)] { encoder.encode(message, into: &expected) }
        #expect(received.withLockedValue { $0 } == Array(expected.readableBytesView))
        try? await client.close()
        try? await server.close()
        try? await listener.close()
    }
}

/// Collects every byte a channel reads, and notes when its input closes.
private final class ByteCollector: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let received: NIOLockedValueBox<[UInt8]>
    let inputClosed: NIOLockedValueBox<Bool>

    init(received: NIOLockedValueBox<[UInt8]>, inputClosed: NIOLockedValueBox<Bool>) {
        self.received = received
        self.inputClosed = inputClosed
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        received.withLockedValue { $0 += Array(buffer.readableBytesView) }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case ChannelEvent.inputClosed = event { inputClosed.withLockedValue { $0 = true } }
    }
}
