import Foundation
import Scuttlebutt
import Whiteboard
import Wire

/// The messages of the golden file in a language-neutral form, for
/// `Fixtures/wire/v1-every-message.json`: one object per frame, with a
/// `type` named as in docs/PROTOCOL.md. 64-bit values are strings, since
/// JSON numbers lose precision beyond 2⁵³: peers as 16 hex digits,
/// timestamps, nonces and clocks in decimal. A board action is written in
/// the JSON form of `scuttleboard export --format json`.
enum WireGoldenJSON {
    static func peer(_ peer: PeerID) -> String { peer.description }
    static func stamp(_ timestamp: Timestamp) -> String { String(timestamp.rawValue) }
    static func id(_ id: UpdateID) -> [String: Any] { ["origin": peer(id.origin), "seq": id.seq] }

    static func digest(_ digest: Digest) -> [[String: Any]] {
        digest.seqs.sorted { $0.key < $1.key }.map { ["origin": peer($0.key), "seq": $0.value] }
    }

    static func action(_ action: BoardAction) throws -> Any {
        try JSONSerialization.jsonObject(with: JSONEncoder().encode(action), options: [.fragmentsAllowed])
    }

    static func rejection(_ rejection: UpdateRejection) -> [String: Any] {
        switch rejection {
        case .sequenceGap(let origin, let expected, let received):
            return ["code": 0, "origin": peer(origin), "expected": expected, "received": received]
        case .nonMonotonicTimestamp(let update, let timestamp, let previous):
            return ["code": 1, "id": id(update), "timestamp": stamp(timestamp), "previous": stamp(previous)]
        case .farFuture(let update, let timestamp):
            return ["code": 2, "id": id(update), "timestamp": stamp(timestamp)]
        case .stale(let update, let timestamp, let frontier):
            return ["code": 3, "id": id(update), "timestamp": stamp(timestamp), "frontier": stamp(frontier)]
        case .invalid(let update, let reason):
            return ["code": 4, "id": id(update), "reason": reason]
        case .notAuthor(let update):
            return ["code": 5, "id": id(update)]
        }
    }

    static func reason(_ reason: CloseReason) -> [String: Any] {
        switch reason {
        case .normal: return ["code": 0]
        case .protocolViolation(let what): return ["code": 1, "what": what]
        case .updateRejected(let rejected): return ["code": 2, "rejection": rejection(rejected)]
        case .versionMismatch(let local, let remote): return ["code": 3, "local": local, "remote": remote]
        case .unauthorized(let what): return ["code": 4, "what": what]
        case .timeout: return ["code": 5]
        case .slowConsumer: return ["code": 6]
        case .snapshotRequired: return ["code": 7]
        case .shuttingDown: return ["code": 8]
        case .limitExceeded(let what): return ["code": 9, "what": what]
        case .storageUnavailable(let what): return ["code": 10, "what": what]
        case .redirect(let node, let address): return ["code": 11, "node": node, "address": address]
        }
    }

    static func render(_ message: Message) throws -> [String: Any] {
        switch message {
        case .hello(let hello):
            var object: [String: Any] = [
                "type": "hello", "version": hello.protocolVersion, "peer": peer(hello.peer), "name": hello.name,
                "room": hello.room, "role": Int(hello.role.rawValue), "digest": digest(hello.digest),
                "clock": stamp(hello.clock),
            ]
            object["credentials"] = hello.credentials ?? NSNull()
            return object
        case .updates(let updates):
            return [
                "type": "updates",
                "updates": try updates.map { update -> [String: Any] in
                    [
                        "origin": peer(update.origin), "seq": update.seq, "timestamp": stamp(update.timestamp),
                        "action": try action(update.action),
                    ]
                },
            ]
        case .ack(let batches, let clock): return ["type": "ack", "batches": batches, "clock": stamp(clock)]
        case .synced: return ["type": "synced"]
        case .frontier(let frontier): return ["type": "frontier", "timestamp": stamp(frontier)]
        case .reject(let rejected): return ["type": "reject", "rejection": rejection(rejected)]
        case .presence(let presence):
            return ["type": "presence", "origin": peer(presence.origin), "payload": presence.payload.map(Int.init)]
        case .presenceGone(let origin): return ["type": "presenceGone", "origin": peer(origin)]
        case .ping(let nonce): return ["type": "ping", "nonce": String(nonce)]
        case .pong(let nonce): return ["type": "pong", "nonce": String(nonce)]
        case .goodbye(let closing): return ["type": "goodbye", "reason": reason(closing)]
        case .snapshot(let header):
            return [
                "type": "snapshot", "horizonTimestamp": stamp(header.horizon.timestamp),
                "horizonOrigin": peer(header.horizon.origin), "digest": digest(header.digest),
                "length": header.byteCount,
            ]
        case .snapshotChunk(let bytes): return ["type": "snapshotChunk", "bytes": bytes.map(Int.init)]
        }
    }

    /// The whole file's text: a JSON array, keys sorted, one frame per element.
    static func text(of messages: [Message]) throws -> String {
        let data = try JSONSerialization.data(
            withJSONObject: try messages.map(render), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self) + "\n"
    }
}
