import Scuttlebutt
import Whiteboard

/// libFuzzer entry point for the board's own codecs. The first byte picks
/// one: even, the action codec (the next 9 bytes are the context's seq and
/// a low origin byte); odd, the snapshot codec. Any input must either be
/// refused with a `BoardCodecError` or decode into a value that survives
/// re-encoding unchanged. A trap, a sanitizer report or a changed round
/// trip is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBoardCodecs(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: count))
    guard let selector = bytes.first else { return 0 }
    if selector & 1 == 0 {
        guard bytes.count >= 10 else { return 0 }
        let seq = bytes[1..<9].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } | 1
        let context = UpdateID(origin: PeerID(UInt64(bytes[9])), seq: seq)
        guard let action = try? BoardActionCodec.decode(bytes[10...], context: context) else { return 0 }
        let again = BoardActionCodec.encode(action, context: context)
        guard (try? BoardActionCodec.decode(again, context: context)) == action else {
            fatalError("re-encoding changed the action: \(action)")
        }
    } else {
        guard let board = try? BoardSnapshotCodec.decode(bytes.dropFirst()) else { return 0 }
        guard (try? BoardSnapshotCodec.decode(BoardSnapshotCodec.encode(board))) == board else {
            fatalError("re-encoding changed the board")
        }
    }
    return 0
}
