import Foundation
import NIOCore
import NIOEmbedded
import NIOTestUtils
import NetworkSimulator
import Scuttlebutt
import Testing
import Whiteboard
import Wire

typealias Message = GossipMessage<BoardAction>

let alice = PeerID(0xA11CE)
let bob = PeerID(0xB0B)

/// One message of every kind, with updates that exercise every delta path.
let everyMessage: [Message] = {
    let stamp = Timestamp(milliseconds: 1_764_316_800_000, counter: 0)
    let stroke = UpdateID(origin: alice, seq: 7)
    return [
        .hello(
            Hello(
                protocolVersion: 1, peer: alice, name: "Alice ✎", room: "design-review", role: .editor,
                credentials: "s3cret", digest: Digest([alice: 6, bob: 41]), clock: stamp)),
        .hello(
            Hello(
                protocolVersion: 1, peer: bob, name: "", room: "r", role: .server, credentials: nil, digest: Digest(),
                clock: .zero)),
        .updates([
            Update(
                origin: alice, seq: 7, timestamp: stamp, action: .beginStroke(at: Point(10, 20), style: Style(color: 9))
            ),
            Update(
                origin: alice, seq: 8, timestamp: Timestamp(stamp.rawValue + 1),
                action: .extendStroke(stroke, points: [Point(11, 21), Point(12, 21)])),
            Update(
                origin: bob, seq: 42, timestamp: Timestamp(milliseconds: 1_764_316_800_005, counter: 3), action: .undo),
        ]),
        .updates([
            // Same ms (counter delta), next ms (ms delta + counter), and back
            // in time with a lower seq (a rebase resend): absolute.
            Update(
                origin: alice, seq: 9, timestamp: Timestamp(stamp.rawValue + 5),
                action: .extendStroke(stroke, points: [Point(13, 22)])),
            Update(
                origin: alice, seq: 10, timestamp: Timestamp(milliseconds: 1_764_316_800_016, counter: 0),
                action: .endStroke(stroke)),
            Update(
                origin: alice, seq: 3, timestamp: Timestamp(milliseconds: 1_764_316_700_000, counter: 0), action: .clear
            ),
        ]),
        .ack(batches: 2, clock: stamp),
        .ack(batches: 0, clock: .zero),
        .synced,
        .frontier(Timestamp(milliseconds: 1_764_316_790_000, counter: 0)),
        .reject(.sequenceGap(origin: bob, expected: 3, received: 5)),
        .reject(.nonMonotonicTimestamp(UpdateID(origin: bob, seq: 2), timestamp: Timestamp(5), previous: Timestamp(6))),
        .reject(.farFuture(UpdateID(origin: bob, seq: 2), timestamp: Timestamp(UInt64.max))),
        .reject(.stale(UpdateID(origin: alice, seq: 3), timestamp: Timestamp(10), frontier: Timestamp(20))),
        .reject(.invalid(UpdateID(origin: alice, seq: 4), reason: "text is 0 characters long")),
        .presence(Presence(origin: bob, payload: [1, 2, 3])),
        .presenceGone(bob),
        .ping(99),
        .pong(UInt64.max),
        .goodbye(.normal),
        .goodbye(.protocolViolation("peer sent an update authored by someone else")),
        .goodbye(.updateRejected(.farFuture(UpdateID(origin: bob, seq: 1), timestamp: Timestamp(1)))),
        .goodbye(.versionMismatch(local: 1, remote: 2)),
        .goodbye(.unauthorized("room \"x\" needs an editor token")),
        .goodbye(.timeout), .goodbye(.slowConsumer), .goodbye(.snapshotRequired), .goodbye(.shuttingDown),
        .goodbye(.limitExceeded("more than 500 updates per second")),
        .snapshot(
            SnapshotHeader(
                horizon: OrderKey(timestamp: Timestamp(milliseconds: 1_764_316_790_000, counter: 3), origin: bob),
                digest: Digest([alice: 10, bob: 2]), byteCount: 5)),
        .snapshotChunk([1, 2, 3]),
        .snapshotChunk([4, 5]),
        // Appended before v1's release, like the snapshot messages above.
        .reject(.notAuthor(UpdateID(origin: alice, seq: 5))),
        .goodbye(.storageUnavailable("cannot store updates: database or disk is full (SQLite 13)")),
        // Added with clusters (docs/PROTOCOL.md, "Redirects").
        .goodbye(.redirect(node: "node-b", address: "10.0.0.2:7070")),
    ]
}()

@Suite struct WireCodecTests {
    @Test func everyMessageRoundTripsThroughOneLink() throws {
        var encoder = WireEncoder<BoardActionCodec>()
        let bytes = everyMessage.flatMap { encoder.encode($0) }
        var decoder = WireDecoder<BoardActionCodec>()
        #expect(try decoder.decodeAll(bytes) == everyMessage)
    }

    @Test func aFreshDecoderCannotResolveAnotherLinksOriginIndices() throws {
        var encoder = WireEncoder<BoardActionCodec>()
        _ = encoder.encode(everyMessage[2])
        let second = encoder.encode(everyMessage[3])
        var decoder = WireDecoder<BoardActionCodec>()
        #expect(throws: WireError.unknownOrigin(index: 0)) { try decoder.decodeAll(second) }
    }

    @Test func aLiveStrokeExtendCostsFewBytesOnTheWire() {
        // One frame per update (the worst case: no batching), a stroke drawn
        // at ~60 Hz with 1–3 points per extend.
        var random = SeededGenerator(seed: 3)
        var encoder = WireEncoder<BoardActionCodec>()
        let stroke = UpdateID(origin: alice, seq: 1)
        var point = Point(1_500, 800)
        var milliseconds: UInt64 = 1_764_316_800_000
        var total = 0
        let count = 5_000
        for seq in UInt64(2)..<UInt64(count + 2) {
            milliseconds += UInt64.random(in: 10...20, using: &random)
            let points = (0..<Int.random(in: 1...3, using: &random)).map { _ in
                point = Point(
                    point.x + Int32.random(in: -3...3, using: &random),
                    point.y + Int32.random(in: -2...2, using: &random))
                return point
            }
            let update = Update(
                origin: alice, seq: seq, timestamp: Timestamp(milliseconds: milliseconds, counter: 0),
                action: BoardAction.extendStroke(stroke, points: points))
            total += encoder.encode(.updates([update])).count
        }
        let mean = Double(total) / Double(count)
        #expect(mean <= 24, "mean stroke-extend frame is \(mean) bytes")
        #expect(mean >= 10, "suspiciously small: \(mean)")
    }

    @Test func theNIOCodersRoundTripInAPipeline() throws {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(GossipFrameDecoder<BoardActionCodec>()))
        try channel.pipeline.syncOperations.addHandler(MessageToByteHandler(GossipFrameEncoder<BoardActionCodec>()))
        for message in everyMessage { try channel.writeOutbound(message) }
        while let bytes = try channel.readOutbound(as: ByteBuffer.self) { try channel.writeInbound(bytes) }
        var received: [Message] = []
        while let message = try channel.readInbound(as: Message.self) { received.append(message) }
        #expect(received == everyMessage)
        #expect(try channel.finish().isClean)
    }

    @Test func contextFreeMessagesPassTheNIODecoderVerifier() throws {
        // The verifier shuffles and repeats inputs on one decoder, which
        // assumes no state between messages: true of everything but
        // `updates`, whose frames depend on the link's delta context.
        let independent = everyMessage.filter { if case .updates = $0 { false } else { true } }
        var encoder = WireEncoder<BoardActionCodec>()
        let pairs = independent.map { (ByteBuffer(bytes: encoder.encode($0)), [$0]) }
        try ByteToMessageDecoderVerifier.verifyDecoder(inputOutputPairs: pairs) {
            GossipFrameDecoder<BoardActionCodec>()
        }
    }

    @Test(arguments: [1, 2, 3, 7, 64, 10_000])
    func theOrderedStreamDecodesInAnyChunking(chunk: Int) throws {
        var encoder = WireEncoder<BoardActionCodec>()
        let stream = everyMessage.flatMap { encoder.encode($0) }
        var random = SeededGenerator(seed: UInt64(chunk))
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(GossipFrameDecoder<BoardActionCodec>()))
        var offset = 0
        while offset < stream.count {
            // Chunks of 1…chunk bytes, so frame boundaries fall anywhere.
            let size = min(stream.count - offset, Int.random(in: 1...chunk, using: &random))
            try channel.writeInbound(ByteBuffer(bytes: stream[offset..<(offset + size)]))
            offset += size
        }
        var received: [Message] = []
        while let message = try channel.readInbound(as: Message.self) { received.append(message) }
        #expect(received == everyMessage)
        #expect(try channel.finish().isClean)
    }

    @Test func aStreamCutInsideAFrameIsAnErrorAtTheEnd() throws {
        var encoder = WireEncoder<BoardActionCodec>()
        let frame = encoder.encode(everyMessage[0])
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(GossipFrameDecoder<BoardActionCodec>()))
        try channel.writeInbound(ByteBuffer(bytes: frame.dropLast(3)))
        #expect(throws: WireError.truncated("frame at end of stream")) { try channel.finish() }
    }
}

@Suite struct WireHostileInputTests {
    func decode(_ bytes: [UInt8], maxFrameSize: Int = 1 << 20) throws(WireError) -> [Message] {
        var decoder = WireDecoder<BoardActionCodec>(maxFrameSize: maxFrameSize)
        return try decoder.decodeAll(bytes)
    }

    @Test func anOversizedFrameIsRefusedFromItsLengthAlone() {
        // Announces 2 MiB; only the length prefix has arrived.
        #expect(throws: WireError.frameTooLarge(length: 2 << 20, limit: 1 << 20)) {
            try decode([0x80, 0x80, 0x80, 0x01])
        }
        #expect(throws: WireError.frameTooLarge(length: 9, limit: 8)) {
            try decode([9] + Array(repeating: 0, count: 9), maxFrameSize: 8)
        }
    }

    @Test func malformedFramesGetNamedErrors() {
        #expect(throws: WireError.malformedVarint) {
            try decode([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
        }
        #expect(throws: WireError.unknownMessageType(77)) { try decode([1, 77]) }
        #expect(throws: WireError.trailingBytes(1)) { try decode([2, 4, 0]) }
        #expect(throws: WireError.truncated("frame")) { try decode([5, 1]) }
        #expect(throws: WireError.unknownOrigin(index: 4)) { try decode([4, 2, 1, 5, 0]) }
        #expect(throws: WireError.invalidValue("rejection code")) { try decode([2, 6, 9]) }
        // A hello whose name is not UTF-8.
        var hello: [UInt8] = [1, 1] + Array(repeating: 0, count: 8) + [2, 0xC3, 0x28]
        hello = [UInt8(hello.count)] + hello
        #expect(throws: WireError.invalidUTF8("name")) { try decode(hello) }
        // An update whose action bytes the board codec refuses.
        let badAction: [UInt8] = [2, 1, 0] + Array(repeating: 1, count: 8) + [1, 1, 1, 99]
        #expect(throws: WireError.invalidAction("unknown action tag 99")) {
            try decode([UInt8(badAction.count)] + badAction)
        }
    }

    @Test func everyTruncationOfEveryMessageIsRefused() {
        var encoder = WireEncoder<BoardActionCodec>()
        for message in everyMessage {
            let frame = encoder.encode(message)
            // Remove the length prefix's claim: cut the payload short but keep
            // the announced length consistent, as a lying peer would.
            for cut in 1..<(frame.count - 1) {
                let payload = Array(frame.dropFirst(frame[0] < 0x80 ? 1 : 2).prefix(cut))
                var decoder = WireDecoder<BoardActionCodec>()
                var buffer = ByteBuffer(bytes: payload)
                #expect(throws: WireError.self) {
                    _ = try decoder.decode(payload: buffer.readSlice(length: payload.count)!)
                }
            }
        }
    }

    @Test func randomBytesNeverTrapAndWhatDecodesRoundTrips() {
        var random = SeededGenerator(seed: 77)
        var (decoded, refused) = (0, 0)
        for _ in 0..<30_000 {
            let length = Int.random(in: 0...40, using: &random)
            var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &random) }
            if bytes.count > 1 {
                bytes[0] = UInt8(min(bytes.count - 1, 127))
                bytes[1] = bytes[1] % 12
            }
            // Either a named error, or messages that survive a round trip.
            do {
                let messages = try decode(bytes)
                decoded += 1
                var encoder = WireEncoder<BoardActionCodec>()
                let again = try decode(messages.flatMap { encoder.encode($0) })
                #expect(again == messages, "\(bytes)")
            } catch {
                refused += 1
            }
        }
        #expect(decoded > 100 && refused > 100, "both paths are reached: \(decoded) decoded, \(refused) refused")
    }
}

/// Entry points for callers without NIO buffers or a link.
@Suite struct WireEntryPointTests {
    @Test func anUpdateEncodesOnItsOwnAndBackWhateverCameBefore() throws {
        let update = Update<BoardAction>(
            origin: PeerID(0xA11CE), seq: 7, timestamp: Timestamp(milliseconds: 1_764_316_800_000, counter: 2),
            action: .eraseArea(Rect(minX: 0, minY: 0, maxX: 3, maxY: 3)))
        let bytes = WireEncoder<BoardActionCodec>.encode(update: update)
        #expect(try WireDecoder<BoardActionCodec>.decodeUpdate(bytes) == update)
        #expect(bytes == WireEncoder<BoardActionCodec>.encode(update: update), "the same bytes every time")
        #expect(throws: WireError.self) { try WireDecoder<BoardActionCodec>.decodeUpdate(bytes + bytes) }
    }

    @Test func onlyExactlyOneSelfContainedUpdateDecodesAsOne() throws {
        let update = Update<BoardAction>(
            origin: PeerID(5), seq: 1, timestamp: Timestamp(milliseconds: 9, counter: 0),
            action: .extendStroke(ElementID(origin: PeerID(5), seq: 1), points: [Point(1, 2)]))
        let bytes = WireEncoder<BoardActionCodec>.encode(update: update)
        var encoder = WireEncoder<BoardActionCodec>()
        let two = encoder.encode(.updates([update, update]))
        var linked = WireEncoder<BoardActionCodec>()
        _ = linked.encode(.updates([update]))
        let byReference = linked.encode(.updates([update]))
        var pinging = WireEncoder<BoardActionCodec>()
        for bad in [two, byReference, pinging.encode(.ping(3)), Array(bytes.dropLast()), []] {
            #expect(throws: WireError.self, "\(bad)") { try WireDecoder<BoardActionCodec>.decodeUpdate(bad) }
        }
        var trailing = bytes
        trailing[0] += 1
        trailing.append(0)
        #expect(throws: WireError.trailingBytes(1)) { try WireDecoder<BoardActionCodec>.decodeUpdate(trailing) }
    }

    /// `decodeUpdate` reads fields in place rather than through a buffer:
    /// on valid bytes with one to three bytes changed, it decodes exactly
    /// what the general decoder decodes as one update in one frame, and
    /// refuses the rest.
    @Test func decodingOneUpdateInPlaceAgreesWithTheGeneralDecoder() {
        var random = SeededGenerator(seed: 23)
        let valid = [
            BoardAction.extendStroke(ElementID(origin: PeerID(5), seq: 1), points: [Point(1, 2), Point(-300, 4)]),
            .addText(at: Point(3, 3), text: "hé", style: Style(color: 9)),
            .erase([ElementID(origin: PeerID(7), seq: 2)]),
        ].enumerated().map { index, action in
            WireEncoder<BoardActionCodec>.encode(
                update: Update(
                    origin: PeerID(0x1_0000_0005), seq: UInt64(index + 1),
                    timestamp: Timestamp(milliseconds: 9, counter: 0), action: action))
        }
        var (agreed, decoded) = (0, 0)
        for round in 0..<6_000 {
            var bytes = valid[round % valid.count]
            if round >= valid.count {
                for _ in 0..<Int.random(in: 1...3, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            }
            let inPlace = try? WireDecoder<BoardActionCodec>.decodeUpdate(bytes)
            var general = WireDecoder<BoardActionCodec>()
            var one: Update<BoardAction>?
            if let messages = try? general.decodeAll(bytes), messages.count == 1,
                case .updates(let updates) = messages[0], updates.count == 1
            {
                one = updates[0]
            }
            #expect(inPlace == one, "\(bytes)")
            agreed += inPlace == one ? 1 : 0
            decoded += inPlace == nil ? 0 : 1
        }
        #expect(agreed == 6_000 && decoded > 100 && decoded < 5_000, "\(decoded) of 6,000 decoded")
    }

    @Test func framesDecodeFromPlainBytesInAnyChunking() throws {
        var encoder = WireEncoder<BoardActionCodec>()
        let stream = everyMessage.flatMap { encoder.encode($0) }
        var decoder = WireDecoder<BoardActionCodec>()
        var pending: [UInt8] = []
        var decoded: [Message] = []
        for chunk in stream.chunks(ofCount: 7) {
            pending += chunk
            let (messages, consumed) = try decoder.decodeFrames(pending)
            decoded += messages
            pending.removeFirst(consumed)
        }
        #expect(pending.isEmpty)
        #expect(decoded == everyMessage)
    }
}

extension Array {
    fileprivate func chunks(ofCount count: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: self.count, by: count).map { self[$0..<Swift.min($0 + count, self.count)] }
    }
}
