import Scuttlebutt
import Whiteboard
import Wire

/// libFuzzer entry point: any input must either be refused with a
/// `WireError` or decode into messages that survive re-encoding unchanged.
/// A trap, a sanitizer report or a changed round trip is a finding.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWireDecoder(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: count))
    var decoder = WireDecoder<BoardActionCodec>(maxFrameSize: 1 << 16)
    guard let messages = try? decoder.decodeAll(bytes) else { return 0 }
    var encoder = WireEncoder<BoardActionCodec>()
    let again = messages.flatMap { encoder.encode($0) }
    var second = WireDecoder<BoardActionCodec>()
    guard let decodedAgain = try? second.decodeAll(again), decodedAgain == messages else {
        fatalError("re-encoding changed the messages: \(messages)")
    }
    return 0
}
