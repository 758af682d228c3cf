import HummingbirdWebSocket
import NIOCore
import Rooms
import Scuttlebutt
import Whiteboard
import Wire

/// Protocol v1 over WebSocket (`GET /ws` on the HTTP port, upgraded): each
/// binary WebSocket message carries one or more whole protocol v1 frames,
/// both ways, exactly the bytes a TCP connection carries. The connection
/// passes the same front door as TCP (the ``Lobby``: its connection limit
/// and hello timeout) and joins the same ``Room``, so a WebSocket peer and a
/// TCP peer in one room see each other live, under the same rate and size
/// limits.
///
/// What is refused, by name (a `goodbye`, then the close): a text message
/// ("send binary"), a message that ends inside a frame, a message over the
/// frame size limit, whether in one WebSocket frame or in fragments, a peer
/// too slow to read what its room sends. A single WebSocket frame over
/// twice the limit is cut off by the WebSocket layer itself, with close
/// code 1009 (message too large), before any of it is buffered.
struct WebSocketSession {
    typealias Message = GossipMessage<BoardAction>

    let server: ScuttleboardServer
    let inbound: WebSocketInboundStream
    let outbound: WebSocketOutboundWriter
    /// A token from the upgrade request's `Authorization: Bearer`, used
    /// when the hello carries none (a browser cannot set that header on a
    /// WebSocket, a tool can).
    let bearerToken: String?

    /// How long a connection whose session has ended may take to write its
    /// last turns (the goodbye) before it is torn down regardless: a peer
    /// that stopped reading would otherwise hold it open forever.
    static let closingGrace: Duration = .seconds(2)

    /// Which part of a connection finished.
    private enum Part { case writer, conversation, watchdog }

    /// Runs the connection until either side ends it.
    func run() async {
        let configuration = server.configuration
        // Room turns queued for the peer: beyond the limit the room cuts it
        // off as a slow consumer, as it does a TCP peer.
        let (turns, output) = AsyncStream.makeStream(
            of: [Message].self, bufferingPolicy: .bufferingOldest(configuration.outboundBufferLimit))
        // The room (or the conversation) ended the output: from then on the
        // connection has the closing grace to finish.
        let (ended, endedSignal) = AsyncStream.makeStream(of: Void.self)
        output.onTermination = { _ in endedSignal.finish() }
        await withTaskGroup(of: Part.self) { group in
            group.addTask {
                await write(turns)
                return .writer
            }
            group.addTask {
                await converse(output)
                output.finish()
                return .conversation
            }
            group.addTask {
                for await _ in ended {}
                try? await Task.sleep(for: Self.closingGrace)
                return .watchdog
            }
            var running = 2
            while let finished = await group.next() {
                switch finished {
                case .watchdog:
                    // Still writing or reading after the grace: a peer that
                    // neither reads nor closes. Cancelling ends both, and
                    // the WebSocket layer closes the connection.
                    group.cancelAll()
                case .writer, .conversation:
                    running -= 1
                    if running == 0 { group.cancelAll() }
                }
            }
        }
    }

    /// Encodes each room turn into one binary message (in WebSocket frames
    /// of at most the frame size limit), until the turns end: then closes
    /// the WebSocket, which ends the peer's messages too.
    private func write(_ turns: AsyncStream<[Message]>) async {
        var encoder = WireEncoder<BoardActionCodec>()
        for await turn in turns {
            var buffer = ByteBuffer()
            for message in turn { encoder.encode(message, into: &buffer) }
            guard (try? await outbound.writeBinaryMessage(buffer)) != nil else { break }
        }
        try? await outbound.close(.normalClosure, reason: nil)
    }

    /// The front door, then the session: messages to the room as they arrive.
    private func converse(_ output: AsyncStream<[Message]>.Continuation) async {
        let accepted = server.withLobby { door in
            guard !door.closed else { return Lobby.Acceptance.refused(.shuttingDown) }
            let accepted = door.lobby.accept(now: server.lobbyNow)
            if case .waiting(let id) = accepted {
                door.waiting[id] = { reason in
                    _ = output.send([.goodbye(reason)])
                    output.finish()
                }
            }
            return accepted
        }
        let id: ConnectionID
        switch accepted {
        case .waiting(let waiting):
            id = waiting
        case .refused(let reason):
            refuse(reason, output)
            return
        }
        var messages = inbound.messages(maxSize: configuration.maxFrameSize).makeAsyncIterator()
        var decoder = WireDecoder<BoardActionCodec>(maxFrameSize: configuration.maxFrameSize)
        let first: [Message]
        do {
            first = try await next(&messages, &decoder) ?? []
        } catch {
            _ = await admitted(id, first: .failure(error), output)
            return
        }
        guard let (room, hello) = await admitted(id, first: .success(first.first.map(withBearerToken)), output) else {
            return
        }
        let session = await room.join(hello: hello, output: output)
        defer { server.withLobby { $0.lobby.sessionEnded() } }
        do {
            if first.count > 1 { await room.handle(Array(first.dropFirst()), from: session) }
            while let batch = try await next(&messages, &decoder) {
                await room.handle(batch, from: session)
            }
        } catch let error as WireError {
            await room.close(session, reason: .protocolViolation(error.description))
        } catch let refusal as Refusal {
            await room.close(session, reason: .protocolViolation(refusal.reason))
        } catch is CancellationError {
            // Torn down after the closing grace: the session had ended.
        } catch {
            // The WebSocket layer's: a message over the size limit, a
            // malformed fragment sequence.
            await room.close(
                session,
                reason: .protocolViolation(
                    "the WebSocket layer refused a message (at most \(configuration.maxFrameSize) bytes): \(error)"))
        }
        await room.leave(session)
        await server.registry.release(room)
    }

    private var configuration: ServerConfiguration { server.configuration }

    /// The lobby's and the registry's answer to the first message; a
    /// refusal is said to the peer.
    private func admitted(
        _ id: ConnectionID, first: Result<Message?, any Error>, _ output: AsyncStream<[Message]>.Continuation
    ) async -> (Room, Hello)? {
        switch await server.admit(id, first: first, overWebSocket: true) {
        case .admitted(let room, let hello):
            return (room, hello)
        case .refused(let reason):
            refuse(reason, output)
            return nil
        case .gone:
            return nil
        }
    }

    /// Counts a refusal and says it to the peer.
    private func refuse(_ reason: CloseReason, _ output: AsyncStream<[Message]>.Continuation) {
        server.noteRefusal(reason)
        _ = output.send([.goodbye(reason)])
    }

    /// The hello with the upgrade request's token when it carries none.
    private func withBearerToken(_ message: Message) -> Message {
        guard case .hello(var hello) = message, hello.credentials == nil, let bearerToken else { return message }
        hello.credentials = bearerToken
        return .hello(hello)
    }

    /// Something a WebSocket peer sent that the protocol has no place for.
    struct Refusal: Error {
        let reason: String
    }

    /// The messages of the next WebSocket message, nil at the end.
    /// - Throws: ``Refusal`` for a text message or one ending inside a
    ///   frame; ``WireError`` for malformed frames; the WebSocket layer's
    ///   error for a message over the size limit.
    private func next(
        _ messages: inout WebSocketInboundMessageStream.AsyncIterator, _ decoder: inout WireDecoder<BoardActionCodec>
    ) async throws -> [Message]? {
        while let message = try await messages.next() {
            guard case .binary(let buffer) = message else {
                throw Refusal(reason: "a text WebSocket message; protocol v1 travels in binary messages")
            }
            guard buffer.readableBytes <= configuration.maxFrameSize else {
                throw Refusal(
                    reason:
                        "a WebSocket message of \(buffer.readableBytes) bytes; at most \(configuration.maxFrameSize)")
            }
            let bytes = Array(buffer.readableBytesView)
            let (decoded, consumed) = try decoder.decodeFrames(bytes)
            guard consumed == bytes.count else {
                throw Refusal(reason: "a WebSocket message that ends inside a frame; each must hold whole frames")
            }
            if !decoded.isEmpty { return decoded }
        }
        return nil
    }
}
