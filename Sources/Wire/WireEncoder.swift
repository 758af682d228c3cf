import NIOCore
import Scuttlebutt
import Whiteboard

/// Writes gossip messages as protocol v1 frames for one direction of one
/// link. Stateful: `updates` are delta-encoded against what this link
/// carried before, so use one encoder per connection, in send order.
public struct WireEncoder<Codec: WireActionCodec> {
    private var context = LinkDeltaContext()

    /// A fresh encoder for a new connection.
    public init() {}

    /// Appends one frame (length prefix and payload) to `buffer`.
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public mutating func encode(_ message: GossipMessage<Codec.Action>, into buffer: inout ByteBuffer) {
        var payload = ByteBufferAllocator().buffer(capacity: 64)
        writePayload(message, into: &payload)
        buffer.writeVarint(UInt64(payload.readableBytes))
        buffer.writeBuffer(&payload)
    }

    /// One frame as bytes.
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public mutating func encode(_ message: GossipMessage<Codec.Action>) -> [UInt8] {
        var buffer = ByteBufferAllocator().buffer(capacity: 64)
        encode(message, into: &buffer)
        return buffer.readBytes(length: buffer.readableBytes) ?? []
    }

    private mutating func writePayload(_ message: GossipMessage<Codec.Action>, into buffer: inout ByteBuffer) {
        typealias Type = WireFormat.MessageType
        switch message {
        case .hello(let hello):
            buffer.writeInteger(Type.hello.rawValue)
            buffer.writeVarint(UInt64(hello.protocolVersion))
            buffer.writePeer(hello.peer)
            buffer.writeWireString(hello.name)
            buffer.writeWireString(hello.room)
            buffer.writeInteger(hello.role.rawValue)
            if let credentials = hello.credentials {
                buffer.writeInteger(1 as UInt8)
                buffer.writeWireString(credentials)
            } else {
                buffer.writeInteger(0 as UInt8)
            }
            buffer.writeDigest(hello.digest)
            buffer.writeVarint(hello.clock.rawValue)
        case .updates(let updates):
            buffer.writeInteger(Type.updates.rawValue)
            buffer.writeVarint(UInt64(updates.count))
            for update in updates { writeUpdate(update, into: &buffer) }
        case .ack(let batches, let clock):
            buffer.writeInteger(Type.ack.rawValue)
            buffer.writeVarint(UInt64(batches))
            buffer.writeVarint(clock.rawValue)
        case .synced:
            buffer.writeInteger(Type.synced.rawValue)
        case .frontier(let frontier):
            buffer.writeInteger(Type.frontier.rawValue)
            buffer.writeVarint(frontier.rawValue)
        case .reject(let rejection):
            buffer.writeInteger(Type.reject.rawValue)
            Self.writeRejection(rejection, into: &buffer)
        case .presence(let presence):
            buffer.writeInteger(Type.presence.rawValue)
            buffer.writePeer(presence.origin)
            buffer.writeLengthPrefixed(presence.payload)
        case .presenceGone(let origin):
            buffer.writeInteger(Type.presenceGone.rawValue)
            buffer.writePeer(origin)
        case .ping(let nonce):
            buffer.writeInteger(Type.ping.rawValue)
            buffer.writeVarint(nonce)
        case .pong(let nonce):
            buffer.writeInteger(Type.pong.rawValue)
            buffer.writeVarint(nonce)
        case .goodbye(let reason):
            buffer.writeInteger(Type.goodbye.rawValue)
            Self.writeCloseReason(reason, into: &buffer)
        case .snapshot(let header):
            buffer.writeInteger(Type.snapshot.rawValue)
            buffer.writeVarint(header.horizon.timestamp.rawValue)
            buffer.writePeer(header.horizon.origin)
            buffer.writeDigest(header.digest)
            buffer.writeVarint(UInt64(header.byteCount))
        case .snapshotChunk(let bytes):
            buffer.writeInteger(Type.snapshotChunk.rawValue)
            buffer.writeLengthPrefixed(bytes)
        }
    }

    /// origin ref · seq · stamp · action, each relative to this origin's
    /// previous update on the link (see docs/PROTOCOL.md, "updates").
    private mutating func writeUpdate(_ update: Update<Codec.Action>, into buffer: inout ByteBuffer) {
        let raw = update.timestamp.rawValue
        if let index = context.index(of: update.origin) {
            buffer.writeVarint(UInt64(index) + 1)
            let previous = context.previous(index)
            let seqDelta = Int64(bitPattern: update.seq &- previous.seq)
            buffer.writeVarint(UInt64(bitPattern: (seqDelta << 1) ^ (seqDelta >> 63)))
            if raw >> 16 == previous.timestamp >> 16 && raw >= previous.timestamp {
                buffer.writeVarint((raw - previous.timestamp) << 2)
            } else if raw >> 16 > previous.timestamp >> 16 && (raw >> 16) - (previous.timestamp >> 16) < 1 << 40 {
                buffer.writeVarint((((raw >> 16) - (previous.timestamp >> 16)) << 2) | 1)
                buffer.writeVarint(raw & 0xFFFF)
            } else {
                buffer.writeVarint(2)
                buffer.writeVarint(raw)
            }
            context.record(index, seq: update.seq, timestamp: raw)
        } else {
            let index = context.define(update.origin)
            buffer.writeVarint(0)
            buffer.writePeer(update.origin)
            buffer.writeVarint(update.seq)
            buffer.writeVarint(raw)
            context.record(index, seq: update.seq, timestamp: raw)
        }
        buffer.writeLengthPrefixed(Codec.encode(update.action, context: update.id))
    }

    static func writeID(_ id: UpdateID, into buffer: inout ByteBuffer) {
        buffer.writePeer(id.origin)
        buffer.writeVarint(id.seq)
    }

    static func writeRejection(_ rejection: UpdateRejection, into buffer: inout ByteBuffer) {
        switch rejection {
        case .sequenceGap(let origin, let expected, let received):
            buffer.writeInteger(0 as UInt8)
            buffer.writePeer(origin)
            buffer.writeVarint(expected)
            buffer.writeVarint(received)
        case .nonMonotonicTimestamp(let id, let timestamp, let previous):
            buffer.writeInteger(1 as UInt8)
            writeID(id, into: &buffer)
            buffer.writeVarint(timestamp.rawValue)
            buffer.writeVarint(previous.rawValue)
        case .farFuture(let id, let timestamp):
            buffer.writeInteger(2 as UInt8)
            writeID(id, into: &buffer)
            buffer.writeVarint(timestamp.rawValue)
        case .stale(let id, let timestamp, let frontier):
            buffer.writeInteger(3 as UInt8)
            writeID(id, into: &buffer)
            buffer.writeVarint(timestamp.rawValue)
            buffer.writeVarint(frontier.rawValue)
        case .invalid(let id, let reason):
            buffer.writeInteger(4 as UInt8)
            writeID(id, into: &buffer)
            buffer.writeWireString(truncated(reason))
        case .notAuthor(let id):
            buffer.writeInteger(5 as UInt8)
            writeID(id, into: &buffer)
        }
    }

    /// `string` cut to whole characters within the reason limit.
    static func truncated(_ string: String) -> String {
        var result = String.UnicodeScalarView()
        var bytes = 0
        for scalar in string.unicodeScalars {
            bytes += UTF8.width(scalar)
            guard bytes <= WireFormat.StringLimit.reason else { break }
            result.append(scalar)
        }
        return String(result)
    }

    static func writeCloseReason(_ reason: CloseReason, into buffer: inout ByteBuffer) {
        func text(_ string: String) -> String { truncated(string) }
        switch reason {
        case .normal: buffer.writeInteger(0 as UInt8)
        case .protocolViolation(let what):
            buffer.writeInteger(1 as UInt8)
            buffer.writeWireString(text(what))
        case .updateRejected(let rejection):
            buffer.writeInteger(2 as UInt8)
            writeRejection(rejection, into: &buffer)
        case .versionMismatch(let local, let remote):
            buffer.writeInteger(3 as UInt8)
            buffer.writeVarint(UInt64(local))
            buffer.writeVarint(UInt64(remote))
        case .unauthorized(let what):
            buffer.writeInteger(4 as UInt8)
            buffer.writeWireString(text(what))
        case .timeout: buffer.writeInteger(5 as UInt8)
        case .slowConsumer: buffer.writeInteger(6 as UInt8)
        case .snapshotRequired: buffer.writeInteger(7 as UInt8)
        case .shuttingDown: buffer.writeInteger(8 as UInt8)
        case .limitExceeded(let what):
            buffer.writeInteger(9 as UInt8)
            buffer.writeWireString(text(what))
        case .storageUnavailable(let what):
            buffer.writeInteger(10 as UInt8)
            buffer.writeWireString(text(what))
        case .redirect(let node, let address):
            buffer.writeInteger(11 as UInt8)
            buffer.writeWireString(text(node))
            buffer.writeWireString(text(address))
        }
    }
}

extension WireEncoder {
    /// One update as self-contained bytes: an `updates` frame of that
    /// update alone, with a delta context of its own (the origin in full,
    /// the raw stamp), for storing or exporting one update outside a link.
    /// ``WireDecoder/decodeUpdate(_:)`` reads it back.
    @_specialize(exported:true,where Codec == BoardActionCodec)
    public static func encode(update: Update<Codec.Action>) -> [UInt8] {
        var encoder = WireEncoder()
        return encoder.encode(.updates([update]))
    }
}
