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

    static let jsonFile = file.deletingPathExtension().appendingPathExtension("json")

    /// The golden frames decoded, written as language-neutral JSON: what a
    /// client in another language compares its decoding against.
    @Test func theGoldenJSONDescribesTheGoldenBytes() throws {
        let text = try String(contentsOf: Self.file, encoding: .utf8)
        let bytes = text.split(separator: "\n").flatMap { line in
            stride(from: 0, to: line.count, by: 2).map { offset in
                let start = line.index(line.startIndex, offsetBy: offset)
                return UInt8(line[start..<line.index(start, offsetBy: 2)], radix: 16)!
            }
        }
        var decoder = WireDecoder<BoardActionCodec>()
        let expected = try WireGoldenJSON.text(of: try decoder.decodeAll(bytes))
        if ProcessInfo.processInfo.environment["SCUTTLEBOARD_UPDATE_GOLDENS"] == "1" {
            try expected.write(to: Self.jsonFile, atomically: true, encoding: .utf8)
        }
        #expect(try String(contentsOf: Self.jsonFile, encoding: .utf8) == expected)
    }
}
