import ArgumentParser
import Foundation
import PostgresStorage
import Storage

/// `scuttleboard nodes`: which node of a cluster holds which room.
struct Nodes: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the nodes of a cluster and the rooms each holds (read from the shared store).",
        discussion: """
            Every node that ever joined is listed, alive (its heartbeat has not lapsed), draining (stopping) or \
            gone, with the rooms it holds a lease on and each lease's epoch; rooms whose lease lapsed wait for \
            the next node to take them over.
            """)

    @Option(
        help: ArgumentHelp("The store the nodes share.", valueName: "postgres://user@host:port/database"))
    var store: String

    @Flag(help: "Print JSON instead of text.")
    var json = false

    func validate() throws {
        do {
            _ = try PostgresLocation(url: store)
        } catch {
            throw ValidationError("--store: \(error)")
        }
    }

    func run() async throws {
        let log: PostgresLog
        do {
            log = try await PostgresLog.open(try PostgresLocation(url: store), reading: true, maximumConnections: 1)
        } catch {
            throw CommandFailure(error)
        }
        let nodes: [ClusterNode]
        let leases: [RoomLease]
        do {
            nodes = try await log.nodes()
            leases = try await log.leases()
        } catch {
            await log.close()
            throw CommandFailure(error)
        }
        await log.close()
        if json {
            say(Self.json(nodes: nodes, leases: leases))
        } else {
            for line in Self.lines(nodes: nodes, leases: leases) { say(line) }
        }
    }

    /// The listing, one line per node and one for lapsed rooms.
    static func lines(nodes: [ClusterNode], leases: [RoomLease]) -> [String] {
        guard !nodes.isEmpty else { return ["no node has joined this store"] }
        var lines: [String] = []
        for node in nodes {
            let held = leases.filter { $0.node == node.name && $0.remainingMilliseconds > 0 }
            let state = !node.isAlive ? "gone" : node.isDraining ? "draining" : "alive"
            let web = node.webAddress.map { " · http \($0)" } ?? ""
            let rooms = held.map { "\($0.room) (epoch \($0.epoch))" }.joined(separator: ", ")
            lines.append(
                "\(node.name)\t\(node.address)\(web)\t\(state)\t\(held.count) room\(held.count == 1 ? "" : "s")"
                    + (rooms.isEmpty ? "" : ": \(rooms)"))
        }
        let lapsed = leases.filter { $0.remainingMilliseconds <= 0 }
        if !lapsed.isEmpty {
            lines.append(
                "lapsed, taken over on the next join: "
                    + lapsed.map { "\($0.room) (was \($0.node)'s, epoch \($0.epoch))" }.joined(separator: ", "))
        }
        return lines
    }

    /// The listing as JSON: `{"nodes": [...], "leases": [...]}`.
    static func json(nodes: [ClusterNode], leases: [RoomLease]) -> String {
        let object: [String: Any] = [
            "nodes": nodes.map { node -> [String: Any] in
                [
                    "name": node.name, "address": node.address, "webAddress": node.webAddress ?? NSNull(),
                    "alive": node.isAlive, "draining": node.isDraining,
                ]
            },
            "leases": leases.map { lease -> [String: Any] in
                [
                    "room": lease.room, "node": lease.node, "epoch": lease.epoch,
                    "remainingMilliseconds": lease.remainingMilliseconds,
                ]
            },
        ]
        let data =
            (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
