import ArgumentParser
import Foundation
import Whiteboard
import Wire

/// Parsers for option values. Each refuses a bad value with one line that
/// says what is allowed; ArgumentParser prints it and exits with status 64
/// (EX_USAGE). Options that take numbers parse "unconditionally", so that
/// `--port -1` is refused for what it is rather than read as an option.
enum ArgumentParsing {
    /// A value that is not allowed, and what is.
    struct Invalid: Error, CustomStringConvertible {
        let description: String
    }

    /// The longest duration any option takes: a week.
    static let longestDuration: Duration = .seconds(7 * 24 * 3_600)

    /// A whole number within `range`.
    static func integer(_ text: String, in range: ClosedRange<Int>) throws -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw Invalid(description: "a whole number from \(range.lowerBound) to \(range.upperBound) is needed")
        }
        guard range.contains(value) else {
            throw Invalid(description: "must be from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// A finite number within `range`.
    static func number(_ text: String, in range: ClosedRange<Double>) throws -> Double {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw Invalid(
                description: "a number from \(format(range.lowerBound)) to \(format(range.upperBound)) is needed")
        }
        guard range.contains(value) else {
            throw Invalid(description: "must be from \(format(range.lowerBound)) to \(format(range.upperBound))")
        }
        return value
    }

    /// A TCP port: 1–65535, or 0 ("any free port") where `allowingAny`.
    static func port(_ text: String, allowingAny: Bool) throws -> Int {
        let lowest = allowingAny ? 0 : 1
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), (lowest...65_535).contains(value) else {
            throw Invalid(
                description: allowingAny ? "a port is 1 to 65535, or 0 for any free port" : "a port is 1 to 65535")
        }
        return value
    }

    /// A duration: `500ms`, `30` or `30s`, `2m`, `1h`; positive, at most a week.
    static func duration(_ text: String) throws -> Duration {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, milliseconds: Int64)] = [("ms", 1), ("s", 1_000), ("m", 60_000), ("h", 3_600_000)]
        let unit = units.first { trimmed.hasSuffix($0.suffix) } ?? ("", 1_000)
        let number = trimmed.dropLast(unit.suffix.count)
        guard let count = Int64(number), count > 0 else {
            throw Invalid(description: "a positive duration is needed, such as 500ms, 30s, 2m or 1h")
        }
        let (milliseconds, overflow) = count.multipliedReportingOverflow(by: unit.milliseconds)
        guard !overflow, Duration.milliseconds(milliseconds) <= longestDuration else {
            throw Invalid(description: "at most a week (168h)")
        }
        return .milliseconds(milliseconds)
    }

    /// A room's name: 1 to 128 bytes, no control characters.
    static func room(_ text: String) throws -> String {
        guard !text.isEmpty, text.utf8.count <= WireFormat.StringLimit.room else {
            throw Invalid(description: "a room's name is 1 to \(WireFormat.StringLimit.room) bytes")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Invalid(description: "a room's name has no control characters")
        }
        return text
    }

    /// A person's name beside their cursor: 1 to 32 characters, no control characters.
    static func personName(_ text: String) throws -> String {
        guard !text.isEmpty, text.unicodeScalars.count <= BoardPresence.maxNameLength,
            text.utf8.count <= WireFormat.StringLimit.name
        else {
            throw Invalid(description: "a name is 1 to \(BoardPresence.maxNameLength) characters")
        }
        guard !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw Invalid(description: "a name has no control characters")
        }
        return text
    }

    /// A room token: 1 to 256 bytes.
    static func token(_ text: String) throws -> String {
        guard !text.isEmpty, text.utf8.count <= WireFormat.StringLimit.credentials else {
            throw Invalid(description: "a token is 1 to \(WireFormat.StringLimit.credentials) bytes")
        }
        return text
    }

    /// `HOST:PORT` of a server.
    static func endpoint(_ text: String) throws -> Endpoint {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex else {
            throw Invalid(description: "HOST:PORT is needed, such as 127.0.0.1:7070")
        }
        let host = String(text[..<colon])
        let port = try Self.port(String(text[text.index(after: colon)...]), allowingAny: false)
        return Endpoint(
            host: host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host, port: port)
    }

    /// One `HOST:PORT`, or several separated by commas (the nodes of a cluster).
    static func endpoints(_ text: String) throws -> [Endpoint] {
        try text.split(separator: ",", omittingEmptySubsequences: false).map {
            try endpoint($0.trimmingCharacters(in: .whitespaces))
        }
    }

    /// A file to read: it must exist and be readable, and not be a folder.
    static func readableFile(_ text: String) throws -> String {
        guard !text.isEmpty else { throw Invalid(description: "a file path is needed") }
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: text, isDirectory: &isFolder) else {
            throw Invalid(description: "there is no file \(text)")
        }
        guard !isFolder.boolValue else { throw Invalid(description: "\(text) is a folder, not a file") }
        guard FileManager.default.isReadableFile(atPath: text) else {
            throw Invalid(description: "\(text) cannot be read (permissions)")
        }
        return text
    }

    /// A file to create or write: its folder must exist, and it must not be a folder.
    static func writableFile(_ text: String) throws -> String {
        guard !text.isEmpty else { throw Invalid(description: "a file path is needed") }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: text, isDirectory: &isFolder), isFolder.boolValue {
            throw Invalid(description: "\(text) is a folder, not a file")
        }
        let folder = URL(fileURLWithPath: text).deletingLastPathComponent().path
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
            throw Invalid(description: "there is no folder \(folder)")
        }
        return text
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// A server's address.
struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    /// A host name or address.
    var host: String
    /// A port, 1–65535.
    var port: Int

    var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
