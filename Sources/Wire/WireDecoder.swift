import NIOCore
import Scuttlebutt
import Whiteboard

/// Reads protocol v1 frames for one direction of one link; the counterpart of
/// ``WireEncoder``, with the same delta context. Every length, count and
/// value is checked: malformed input throws a ``WireError``, never traps.
public struct WireDecoder<Codec: WireActionCodec> {
    /// The largest payload accepted.
    public let maxFrameSize: Int
    private var context = LinkDeltaContext()

    /// A fresh decoder for a new connection.
    public init(maxFrameSize: Int = WireFormat.defaultMaxFrameSize) {
        self.maxFrameSize = maxFrameSize
    }

    /// Takes one whole frame off the front of `buffer`.
    /// - Returns: The frame's payload, or nil when the frame is not complete
    ///   yet (nothing is consumed then).
    /// - Throws: ``WireError/frameTooLarge(length:limit:)`` as soon as the
    ///   length prefix is read, before the payload arrives.
    public func nextFrame(from buffer: inout ByteBuffer) throws(WireError) -> ByteBuffer? {
        var peek = buffer
        let length: UInt64
        do {
            length = try peek.readVarint("frame length")
        } catch .truncated {
            return nil
        }
        guard length <= UInt64(maxFrameSize) else { throw .frameTooLarge(length: length, limit: maxFrameSize) }
        guard let payload = peek.readSlice(length: Int(length)) else { return nil }
        buffer = peek
        return payload
    }

    /// Decodes one frame payload into a message.
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public mutating func decode(payload: ByteBuffer) throws(WireError) -> GossipMessage<Codec.Action> {
        var payload = payload
        let typeByte = try payload.readByte("message type")
        guard let type = WireFormat.MessageType(rawValue: typeByte) else { throw .unknownMessageType(typeByte) }
        let message: GossipMessage<Codec.Action>
        switch type {
        case .hello: message = .hello(try Self.readHello(&payload))
        case .updates:
            let count = try payload.readCount("update count", limit: WireFormat.maxUpdatesPerFrame)
            guard count > 0 else { throw .outOfRange("update count") }
            var updates: [Update<Codec.Action>] = []
            updates.reserveCapacity(min(count, 1_024))
            for _ in 0..<count { updates.append(try readUpdate(&payload)) }
            message = .updates(updates)
        case .ack:
            let batches = try payload.readVarint("ack batches")
            guard batches <= UInt64(UInt32.max) else { throw .outOfRange("ack batches") }
            message = .ack(batches: UInt32(batches), clock: Timestamp(try payload.readVarint("ack clock")))
        case .synced: message = .synced
        case .frontier: message = .frontier(Timestamp(try payload.readVarint("frontier")))
        case .reject: message = .reject(try Self.readRejection(&payload))
        case .presence:
            let origin = try payload.readPeer("presence origin")
            let bytes = try payload.readLengthPrefixed("presence payload", limit: WireFormat.maxPresenceBytes)
            message = .presence(Presence(origin: origin, payload: bytes))
        case .presenceGone: message = .presenceGone(try payload.readPeer("presence origin"))
        case .ping: message = .ping(try payload.readVarint("ping nonce"))
        case .pong: message = .pong(try payload.readVarint("pong nonce"))
        case .goodbye: message = .goodbye(try Self.readCloseReason(&payload))
        case .snapshot:
            let horizon = OrderKey(
                timestamp: Timestamp(try payload.readVarint("snapshot horizon stamp")),
                origin: try payload.readPeer("snapshot horizon origin"))
            let digest = try payload.readDigest("snapshot digest")
            let byteCount = try payload.readVarint("snapshot length")
            guard byteCount <= UInt64(Int.max) else { throw .outOfRange("snapshot length") }
            message = .snapshot(SnapshotHeader(horizon: horizon, digest: digest, byteCount: Int(byteCount)))
        case .snapshotChunk:
            message = .snapshotChunk(try payload.readLengthPrefixed("snapshot chunk", limit: maxFrameSize))
        }
        guard payload.readableBytes == 0 else { throw .trailingBytes(payload.readableBytes) }
        return message
    }

    /// Decodes the whole frames at the start of `bytes`, for a caller that
    /// reads its own socket and keeps no `ByteBuffer`.
    /// - Returns: The messages, and how many bytes they took: what follows
    ///   is the start of a frame still arriving; keep it, append what comes
    ///   next, and call again.
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public mutating func decodeFrames(_ bytes: [UInt8]) throws(WireError) -> (
        messages: [GossipMessage<Codec.Action>], consumed: Int
    ) {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        var messages: [GossipMessage<Codec.Action>] = []
        while let payload = try nextFrame(from: &buffer) { messages.append(try decode(payload: payload)) }
        return (messages, bytes.count - buffer.readableBytes)
    }

    /// One update from the bytes of ``WireEncoder/encode(update:)``.
    /// - Throws: ``WireError`` when they are not exactly one such update.
    /// - Complexity: The action's own allocations only: the fields are read
    ///   in place and the action decodes from a slice of `bytes`; no
    ///   buffer, message array or link context, which a receiver of one
    ///   update per action (the shared workloads' remote apply) would pay
    ///   for each.
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public static func decodeUpdate(_ bytes: [UInt8]) throws(WireError) -> Update<Codec.Action> {
        let notOne = WireError.invalidValue("a single self-contained update")
        let maxFrameSize = WireFormat.defaultMaxFrameSize
        var reader = ArrayFieldReader(bytes)
        let length: UInt64
        do {
            length = try reader.varint("frame length")
        } catch .truncated {
            throw .truncated("frame")
        }
        guard length <= UInt64(maxFrameSize) else { throw .frameTooLarge(length: length, limit: maxFrameSize) }
        guard UInt64(reader.remaining) >= length else { throw .truncated("frame") }
        guard UInt64(reader.remaining) == length else { throw notOne }
        guard try reader.byte("message type") == WireFormat.MessageType.updates.rawValue,
            try reader.varint("update count") == 1
        else { throw notOne }
        guard try reader.varint("origin reference") == 0 else { throw .unknownOrigin(index: 0) }
        let origin = try reader.peer("update origin")
        let seq = try reader.varint("update seq")
        let timestamp = try reader.varint("update timestamp")
        guard seq > 0 else { throw .outOfRange("update seq") }
        let actionBytes = try reader.lengthPrefixed("update action", limit: maxFrameSize)
        let update: Update<Codec.Action>
        do {
            let action = try Codec.decode(actionBytes, context: UpdateID(origin: origin, seq: seq))
            update = Update(origin: origin, seq: seq, timestamp: Timestamp(timestamp), action: action)
        } catch {
            throw .invalidAction(String(describing: error))
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        return update
    }

    /// Decodes every whole frame in `bytes` (for tests and tools).
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public mutating func decodeAll(_ bytes: [UInt8]) throws(WireError) -> [GossipMessage<Codec.Action>] {
        var buffer = ByteBufferAllocator().buffer(bytes: bytes)
        var messages: [GossipMessage<Codec.Action>] = []
        while let payload = try nextFrame(from: &buffer) { messages.append(try decode(payload: payload)) }
        guard buffer.readableBytes == 0 else { throw .truncated("frame") }
        return messages
    }

    private mutating func readUpdate(_ buffer: inout ByteBuffer) throws(WireError) -> Update<Codec.Action> {
        let reference = try buffer.readVarint("origin reference")
        let index: Int
        let seq: UInt64
        let raw: UInt64
        if reference == 0 {
            guard context.origins.count < WireFormat.maxOriginsPerLink else {
                throw .countTooLarge("origins on one link", limit: WireFormat.maxOriginsPerLink)
            }
            let origin = try buffer.readPeer("update origin")
            guard context.index(of: origin) == nil else { throw .invalidValue("origin defined twice") }
            index = context.define(origin)
            seq = try buffer.readVarint("update seq")
            raw = try buffer.readVarint("update timestamp")
        } else {
            guard reference - 1 < UInt64(context.origins.count) else { throw .unknownOrigin(index: reference - 1) }
            index = Int(reference - 1)
            let previous = context.previous(index)
            let zigzag = try buffer.readVarint("update seq delta")
            let delta = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            seq = previous.seq &+ UInt64(bitPattern: delta)
            let tag = try buffer.readVarint("update timestamp")
            switch tag & 3 {
            case 0:
                let (sum, overflow) = previous.timestamp.addingReportingOverflow(tag >> 2)
                guard !overflow else { throw .outOfRange("update timestamp") }
                raw = sum
            case 1:
                let counter = try buffer.readVarint("update timestamp counter")
                guard counter <= 0xFFFF else { throw .outOfRange("update timestamp counter") }
                let milliseconds = (previous.timestamp >> 16) + (tag >> 2)
                guard milliseconds < 1 << 48 else { throw .outOfRange("update timestamp") }
                raw = milliseconds << 16 | counter
            case 2:
                raw = try buffer.readVarint("update timestamp")
            default:
                throw .invalidValue("timestamp tag")
            }
        }
        let origin = context.origins[index]
        context.record(index, seq: seq, timestamp: raw)
        return try Self.readAction(&buffer, origin: origin, seq: seq, timestamp: raw, maxFrameSize: maxFrameSize)
    }

    /// The rest of an update whose origin, seq and stamp were read: its
    /// length-prefixed action.
    private static func readAction(
        _ buffer: inout ByteBuffer, origin: PeerID, seq: UInt64, timestamp: UInt64,
        maxFrameSize: Int = WireFormat.defaultMaxFrameSize
    ) throws(WireError) -> Update<Codec.Action> {
        guard seq > 0 else { throw .outOfRange("update seq") }
        let bytes = try buffer.readLengthPrefixed("update action", limit: maxFrameSize)
        do {
            let action = try Codec.decode(bytes[...], context: UpdateID(origin: origin, seq: seq))
            return Update(origin: origin, seq: seq, timestamp: Timestamp(timestamp), action: action)
        } catch {
            throw .invalidAction(String(describing: error))
        }
    }

    static func readHello(_ buffer: inout ByteBuffer) throws(WireError) -> Hello {
        // A version beyond 16 bits is some future version all the same: it
        // reads as the largest one, so that the answer is a version
        // mismatch rather than a malformed hello.
        let version = min(try buffer.readVarint("protocol version"), UInt64(UInt16.max))
        let peer = try buffer.readPeer("peer id")
        let name = try buffer.readWireString("name", limit: WireFormat.StringLimit.name)
        let room = try buffer.readWireString("room", limit: WireFormat.StringLimit.room)
        guard let role = PeerRole(rawValue: try buffer.readByte("role")) else { throw .invalidValue("role") }
        let credentials: String?
        switch try buffer.readByte("credentials flag") {
        case 0: credentials = nil
        case 1: credentials = try buffer.readWireString("credentials", limit: WireFormat.StringLimit.credentials)
        default: throw .invalidValue("credentials flag")
        }
        let digest = try buffer.readDigest("digest")
        let clock = Timestamp(try buffer.readVarint("clock"))
        return Hello(
            protocolVersion: UInt16(version), peer: peer, name: name, room: room, role: role, credentials: credentials,
            digest: digest, clock: clock)
    }

    static func readID(_ buffer: inout ByteBuffer) throws(WireError) -> UpdateID {
        UpdateID(origin: try buffer.readPeer("update origin"), seq: try buffer.readVarint("update seq"))
    }

    static func readRejection(_ buffer: inout ByteBuffer) throws(WireError) -> UpdateRejection {
        switch try buffer.readByte("rejection code") {
        case 0:
            return .sequenceGap(
                origin: try buffer.readPeer("origin"), expected: try buffer.readVarint("expected seq"),
                received: try buffer.readVarint("received seq"))
        case 1:
            return .nonMonotonicTimestamp(
                try readID(&buffer), timestamp: Timestamp(try buffer.readVarint("timestamp")),
                previous: Timestamp(try buffer.readVarint("previous timestamp")))
        case 2:
            return .farFuture(try readID(&buffer), timestamp: Timestamp(try buffer.readVarint("timestamp")))
        case 3:
            return .stale(
                try readID(&buffer), timestamp: Timestamp(try buffer.readVarint("timestamp")),
                frontier: Timestamp(try buffer.readVarint("frontier")))
        case 4:
            return .invalid(
                try readID(&buffer), reason: try buffer.readWireString("reason", limit: WireFormat.StringLimit.reason))
        case 5:
            return .notAuthor(try readID(&buffer))
        default:
            throw .invalidValue("rejection code")
        }
    }

    static func readCloseReason(_ buffer: inout ByteBuffer) throws(WireError) -> CloseReason {
        func text() throws(WireError) -> String {
            try buffer.readWireString("reason", limit: WireFormat.StringLimit.reason)
        }
        switch try buffer.readByte("close reason") {
        case 0: return .normal
        case 1: return .protocolViolation(try text())
        case 2: return .updateRejected(try readRejection(&buffer))
        case 3:
            let local = try buffer.readVarint("local version")
            let remote = try buffer.readVarint("remote version")
            guard local <= UInt64(UInt16.max), remote <= UInt64(UInt16.max) else { throw .outOfRange("version") }
            return .versionMismatch(local: UInt16(local), remote: UInt16(remote))
        case 4: return .unauthorized(try text())
        case 5: return .timeout
        case 6: return .slowConsumer
        case 7: return .snapshotRequired
        case 8: return .shuttingDown
        case 9: return .limitExceeded(try text())
        case 10: return .storageUnavailable(try text())
        case 11:
            let node = try text()
            return .redirect(node: node, address: try text())
        default: throw .invalidValue("close reason")
        }
    }
}

/// Reads wire fields from an array in place, with the checks and errors of
/// the `ByteBuffer` readers (`ByteBuffer+Wire.swift`).
struct ArrayFieldReader {
    private let bytes: [UInt8]
    private var index: Int

    init(_ bytes: [UInt8]) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    /// Bytes not read yet.
    var remaining: Int { bytes.endIndex - index }

    mutating func byte(_ field: String) throws(WireError) -> UInt8 {
        guard index < bytes.endIndex else { throw .truncated(field) }
        defer { index += 1 }
        return bytes[index]
    }

    mutating func varint(_ field: String) throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            let byte = try byte(field)
            guard shift < 63 || (shift == 63 && byte <= 1) else { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// A peer id: 8 bytes, little-endian.
    mutating func peer(_ field: String) throws(WireError) -> PeerID {
        guard remaining >= 8 else { throw .truncated(field) }
        var raw: UInt64 = 0
        for offset in 0..<8 { raw |= UInt64(bytes[index + offset]) << (8 * offset) }
        index += 8
        return PeerID(raw)
    }

    /// A varint length, then that many bytes, as a slice of the array.
    mutating func lengthPrefixed(_ field: String, limit: Int) throws(WireError) -> ArraySlice<UInt8> {
        let length = try varint(field)
        guard length <= UInt64(limit) else { throw .fieldTooLong(field, limit: limit) }
        guard UInt64(remaining) >= length else { throw .truncated(field) }
        defer { index += Int(length) }
        return bytes[index..<(index + Int(length))]
    }
}
