import Client
import Foundation
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOSSL
import Rooms
import Scuttlebutt
import Server
import Testing
import Whiteboard

/// TLS on a real server with a throwaway CA made by the `openssl` command
/// at run time: a client trusting the CA draws over TLS (TCP and WSS), one
/// that does not is told why, and a token sent in plaintext to a TLS-only
/// server is never accepted.
@Suite(.serialized) struct TLSTests {
    /// A CA and a certificate for 127.0.0.1 and localhost it signed, in a
    /// fresh folder (removed by ``remove()``).
    struct Certificates {
        let folder: URL
        var ca: String { folder.appendingPathComponent("ca.pem").path }
        var certificate: String { folder.appendingPathComponent("server.pem").path }
        var key: String { folder.appendingPathComponent("server.key").path }

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("scuttleboard-tls-\(UUID())")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            try Self.openssl(
                ["req", "-x509"] + curve + [
                    "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=Test CA",
                ],
                in: folder)
            try Self.openssl(
                ["req"] + curve + ["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"], in: folder)
            try "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n".write(
                to: folder.appendingPathComponent("extensions.cnf"), atomically: true, encoding: .utf8)
            try Self.openssl(
                [
                    "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
                    "-out", "server.pem", "-days", "2", "-extfile", "extensions.cnf",
                ], in: folder)
        }

        func remove() {
            try? FileManager.default.removeItem(at: folder)
        }

        private static func openssl(_ arguments: [String], in folder: URL) throws {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["openssl"] + arguments
            process.currentDirectoryURL = folder
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            process.waitUntilExit()
            guard process.terminationStatus == 0 else {
                throw CocoaError(.executableLoad, userInfo: [NSLocalizedDescriptionKey: "openssl \(arguments) failed"])
            }
        }
    }

    private func serve(_ certificates: Certificates) async throws -> RunningServer {
        try await RunningServer { configuration in
            configuration.httpPort = 0
            configuration.tls = ServerTLS(certificateFile: certificates.certificate, keyFile: certificates.key)
            configuration.roomAccess = ["locked": RoomAccess(editor: "key", viewer: nil)]
        }
    }

    private func client(port: Int, room: String, tls: ClientTLS?, token: String? = nil) throws -> BoardClient {
        var configuration = ClientConfiguration(host: "127.0.0.1", port: port, room: room, name: "tls")
        configuration.tls = tls
        configuration.token = token
        configuration.minReconnectDelay = 20
        configuration.maxReconnectDelay = 200
        return try BoardClient(configuration: configuration)
    }

    @Test func aClientTrustingTheCADrawsOverTLSAndOverWSS() async throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let server = try await serve(certificates)
        let client = try client(
            port: server.port, room: "locked", tls: ClientTLS(caFile: certificates.ca), token: "key")
        let running = Task { await client.run() }
        defer { running.cancel() }
        try await server.stop { server in
            try await withTimeout(20, "live over TLS") { try await client.waitUntilLive() }
            let update = try await client.record(.addText(at: Point(1, 1), text: "secret", style: Style(color: 2)))
            try await eventually(20, "the update confirmed") { await client.pendingCount == 0 }
            let board = try #require(await server.server.room(named: "locked")?.board)
            #expect(board.elements[update.id] != nil)

            // The HTTP port speaks TLS too: a WebSocket peer over WSS joins.
            let httpPort = try #require(server.httpPort)
            var trust = TLSConfiguration.makeClientConfiguration()
            trust.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(certificates.ca))
            let web = WebSocketPeer(name: "wss", room: "locked", credentials: "key")
            let trusting = trust
            _ = try await withTimeout(20, "a WSS peer") {
                try await web.connect(url: "wss://localhost:\(httpPort)/ws", tls: trusting) { inbound, outbound in
                    try await web.run(&inbound, outbound) { web.session.isCaughtUp || web.goodbye != nil }
                }
            }
            #expect(web.goodbye == nil)
            #expect(web.store.state.elements[update.id] != nil, "the WSS peer received the TLS client's text")
        }
    }

    /// A goodbye said over TLS arrives before the close (the server half-closes
    /// its side after it, through the TLS layer).
    @Test func aRefusalOverTLSArrivesWhole() async throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let server = try await serve(certificates)
        let client = try client(
            port: server.port, room: "locked", tls: ClientTLS(caFile: certificates.ca), token: "wrong")
        let running = Task { await client.run() }
        let refusal = try? await firstValue(20, "the refusal") { await client.lastRefusal }
        running.cancel()
        await server.stop()
        #expect(refusal.map { "\($0)" }?.contains("needs an editor token") == true, "\(String(describing: refusal))")
    }

    @Test func aClientThatDoesNotTrustTheCertificateIsToldWhy() async throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let server = try await serve(certificates)
        // The system's roots know nothing of the throwaway CA.
        let client = try client(port: server.port, room: "open", tls: ClientTLS())
        let running = Task { await client.run() }
        let failure = try? await firstValue(20, "a connection failure") { await client.lastConnectionFailure }
        running.cancel()
        // A failed handshake is no protocol violation: no session was refused.
        let refusals = server.server.counters.snapshot.refusals
        await server.stop()
        #expect(refusals.isEmpty, "\(refusals)")
        guard case .untrustedCertificate? = failure else {
            Issue.record("expected an untrusted certificate, got \(String(describing: failure))")
            return
        }
        #expect("\(failure!)".contains("pass --ca FILE"))
        #expect(await client.state != .live)
    }

    @Test func aTokenIsNeverAcceptedOverPlaintextWhenTLSIsRequired() async throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let server = try await serve(certificates)
        let goodbye = try? await join(
            port: server.port, room: "locked", credentials: "key",
            then: .addText(at: .zero, text: "leak", style: Style(color: 1)))
        let counters = server.server.counters.snapshot
        await server.stop()
        guard case .unauthorized(let why)? = goodbye else {
            Issue.record("expected a refusal, got \(String(describing: goodbye))")
            return
        }
        #expect(why.contains("accepts TLS connections only"))
        #expect(counters.rooms["locked"] == nil, "the room was never even loaded")
        #expect(counters.refusals["unauthorized"] == 1)
        #expect(counters.updatesIn == 0)
    }
}
