import Foundation
import Scuttlebutt
import Testing
import Whiteboard
import Wire

/// Fixtures/wire/v1-every-message.hex: the frames of ``everyMessage`` on one
/// link, one frame per line in hex. A client in another language can test
/// itself against it. `SCUTTLEBOARD_UPDATE_GOLDENS=1` rewrites it — only ever
/// together with a protocol version bump.
@Suite struct WireGoldenVectorTests {
    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/wire/v1-every-message.hex")

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { byte in
            let digits = String(byte, radix: 16)
            return digits.count == 1 ? "0" + digits : digits
        }.joined()
    }

    @Test func theEncoderWritesTheGoldenBytes() throws {
        var encoder = WireEncoder<BoardActionCodec>()
        let lines = everyMessage.map { Self.hex(encoder.encode($0)) }
        let expected = lines.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["SCUTTLEBOARD_UPDATE_GOLDENS"] == "1" {
            try FileManager.default.createDirectory(
                at: Self.file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try expected.write(to: Self.file, atomically: true, encoding: .utf8)
        }
        #expect(try String(contentsOf: Self.file, encoding: .utf8) == expected)
    }

    @Test func theDecoderReadsTheGoldenBytes() throws {
        let text = try String(contentsOf: Self.file, encoding: .utf8)
        var bytes: [UInt8] = []
        for line in text.split(separator: "\n") {
            var index = line.startIndex
            while index < line.endIndex {
                let next = line.index(index, offsetBy: 2)
                bytes.append(UInt8(line[index..<next], radix: 16)!)
                index = next
            }
        }
        var decoder = WireDecoder<BoardActionCodec>()
        #expect(try decoder.decodeAll(bytes) == everyMessage)
    }
}
