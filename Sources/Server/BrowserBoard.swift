import Foundation
import Hummingbird
import NIOCore

/// The browser board's files (`Sources/Server/Resources/board`: plain HTML,
/// CSS and JavaScript modules shipped as package resources), read once and
/// served from memory: `GET /` the page, `GET /app/FILE` its modules and
/// style, `GET /sw.js` the service worker that keeps the page for offline
/// reloads.
struct BrowserBoard: Sendable {
    /// A file's bytes and media type.
    struct File: Sendable {
        let bytes: ByteBuffer
        let contentType: String
    }

    /// The files by name (`index.html`, `app.js`, …).
    let files: [String: File]

    /// The files shipped with the package; none when the resource bundle is
    /// missing (a binary copied without it), and the page then says so.
    static let shipped = BrowserBoard(directory: Bundle.module.url(forResource: "board", withExtension: nil))

    init(directory: URL?) {
        guard let directory,
            let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path)
        else {
            files = [:]
            return
        }
        var files: [String: File] = [:]
        for name in names {
            guard let data = FileManager.default.contents(atPath: directory.appendingPathComponent(name).path) else {
                continue
            }
            files[name] = File(bytes: ByteBuffer(bytes: data), contentType: Self.contentType(of: name))
        }
        self.files = files
    }

    static func contentType(of name: String) -> String {
        switch name.split(separator: ".").last {
        case "html": "text/html; charset=utf-8"
        case "css": "text/css; charset=utf-8"
        case "js": "text/javascript; charset=utf-8"
        default: "application/octet-stream"
        }
    }

    /// The response for one file: revalidated on every load (`no-cache`),
    /// so a page always runs the server's current code when it can reach it.
    func response(for name: String) -> Response? {
        guard let file = files[name] else { return nil }
        var headers: HTTPFields = [.contentType: file.contentType, .cacheControl: "no-cache"]
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: file.bytes))
    }
}
