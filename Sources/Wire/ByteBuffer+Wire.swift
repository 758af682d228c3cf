import NIOCore
import Scuttlebutt

extension ByteBuffer {
    /// Writes an unsigned LEB128 varint.
    @inlinable
    mutating func writeVarint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            writeInteger(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        writeInteger(UInt8(value))
    }

    /// Reads an unsigned LEB128 varint of at most 10 bytes.
    @inlinable
    mutating func readVarint(_ field: String) throws(WireError) -> UInt64 {
        var result: UInt64 = 0
        var shift: UInt64 = 0
        while true {
            guard let byte = readInteger(as: UInt8.self) else { throw .truncated(field) }
            guard shift < 63 || (shift == 63 && byte <= 1) else { throw .malformedVarint }
            result |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return result }
            shift += 7
        }
    }

    /// Reads a varint that must fit `limit`.
    mutating func readCount(_ field: String, limit: Int) throws(WireError) -> Int {
        let value = try readVarint(field)
        guard value <= UInt64(limit) else { throw .countTooLarge(field, limit: limit) }
        return Int(value)
    }

    mutating func writePeer(_ peer: PeerID) {
        writeInteger(peer.rawValue, endianness: .little)
    }

    mutating func readPeer(_ field: String) throws(WireError) -> PeerID {
        guard let raw = readInteger(endianness: .little, as: UInt64.self) else { throw .truncated(field) }
        return PeerID(raw)
    }

    mutating func writeLengthPrefixed(_ bytes: some Collection<UInt8>) {
        writeVarint(UInt64(bytes.count))
        writeBytes(bytes)
    }

    mutating func readLengthPrefixed(_ field: String, limit: Int) throws(WireError) -> [UInt8] {
        let length = try readVarint(field)
        guard length <= UInt64(limit) else { throw .fieldTooLong(field, limit: limit) }
        guard let bytes = readBytes(length: Int(length)) else { throw .truncated(field) }
        return bytes
    }

    mutating func writeWireString(_ string: String) {
        writeLengthPrefixed(Array(string.utf8))
    }

    mutating func readWireString(_ field: String, limit: Int) throws(WireError) -> String {
        let bytes = try readLengthPrefixed(field, limit: limit)
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8(field) }
        return string
    }

    mutating func readByte(_ field: String) throws(WireError) -> UInt8 {
        guard let byte = readInteger(as: UInt8.self) else { throw .truncated(field) }
        return byte
    }

    /// A digest: its entry count, then origin · seq per entry, by origin.
    mutating func writeDigest(_ digest: Digest) {
        let entries = digest.seqs.sorted { $0.key < $1.key }
        writeVarint(UInt64(entries.count))
        for (origin, seq) in entries {
            writePeer(origin)
            writeVarint(seq)
        }
    }

    mutating func readDigest(_ field: String) throws(WireError) -> Digest {
        let count = try readCount("\(field) size", limit: WireFormat.maxDigestEntries)
        var seqs: [PeerID: UInt64] = [:]
        for _ in 0..<count {
            let origin = try readPeer("\(field) origin")
            seqs[origin] = try readVarint("\(field) seq")
        }
        return Digest(seqs)
    }
}
