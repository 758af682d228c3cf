import Rooms
import Testing

/// Rooms placed by rendezvous hashing: spread, stable, moving only what must.
@Suite struct RendezvousPlacementTests {
    @Test func tenThousandRoomsSpreadOverThreeNodesWithNoneAbove40Percent() {
        let nodes = ["node-a", "node-b", "node-c"]
        var counts: [String: Int] = [:]
        for room in 0..<10_000 {
            counts[RendezvousPlacement.preferred(for: "room-\(room)", among: nodes)!, default: 0] += 1
        }
        #expect(counts.count == 3)
        #expect(counts.values.allSatisfy { $0 <= 4_000 }, "\(counts)")
        #expect(counts.values.allSatisfy { $0 >= 2_600 }, "\(counts)")
    }

    @Test func aNodeLeavingMovesOnlyItsOwnRoomsAndEveryNodeAgrees() {
        let nodes = ["alpha", "beta", "gamma", "delta"]
        var moved = 0
        for room in 0..<2_000 {
            let name = "board \(room)"
            let before = RendezvousPlacement.preferred(for: name, among: nodes)!
            #expect(RendezvousPlacement.preferred(for: name, among: nodes.reversed()) == before, "order-free")
            let after = RendezvousPlacement.preferred(for: name, among: nodes.filter { $0 != "gamma" })!
            if before != "gamma" { #expect(after == before) } else { moved += 1 }
        }
        #expect(moved > 300 && moved < 700, "about a quarter of the rooms were gamma's: \(moved)")
        #expect(RendezvousPlacement.preferred(for: "x", among: []) == nil)
    }
}

/// One node's lease keeping, driven by hand: placement, renewals, losses.
@Suite struct NodeLeasesTests {
    func keeper(_ node: String = "a") -> NodeLeases {
        var configuration = NodeLeases.Configuration(node: node)
        configuration.leaseDuration = 3_000
        configuration.renewInterval = 1_000
        return NodeLeases(configuration: configuration)
    }

    let nodes = [NodeStatus(name: "a"), NodeStatus(name: "b"), NodeStatus(name: "c")]

    /// A room that prefers `node` among `nodes`.
    func room(preferring node: String, among nodes: [String]) -> String {
        (0...).lazy.map { "room-\($0)" }.first { RendezvousPlacement.preferred(for: $0, among: nodes) == node }!
    }

    @Test func aRoomGoesToItsHolderElseToItsPreferredNode() {
        let leases = keeper()
        let mine = room(preferring: "a", among: ["a", "b", "c"])
        let theirs = room(preferring: "b", among: ["a", "b", "c"])
        #expect(leases.placement(of: mine, lease: nil, nodes: nodes) == .claim)
        #expect(leases.placement(of: theirs, lease: nil, nodes: nodes) == .redirect(to: "b"))
        // A live holder keeps its room, even one that prefers this node.
        #expect(
            leases.placement(of: mine, lease: LeaseStatus(node: "c", epoch: 4, isLive: true), nodes: nodes)
                == .redirect(to: "c"))
        // A lapsed lease does not count; a holder that stopped answering blocks until it lapses.
        #expect(
            leases.placement(of: mine, lease: LeaseStatus(node: "c", epoch: 4, isLive: false), nodes: nodes) == .claim)
        let silent = [NodeStatus(name: "a"), NodeStatus(name: "b"), NodeStatus(name: "c", isAlive: false)]
        guard
            case .unavailable = leases.placement(
                of: mine, lease: LeaseStatus(node: "c", epoch: 4, isLive: true), nodes: silent)
        else {
            Issue.record("a silent holder's room was placed")
            return
        }
        // A dead or draining node is never preferred.
        let cRoom = room(preferring: "c", among: ["a", "b", "c"])
        #expect(leases.placement(of: cRoom, lease: nil, nodes: silent) != .redirect(to: "c"))
        let draining = [NodeStatus(name: "a"), NodeStatus(name: "b"), NodeStatus(name: "c", isDraining: true)]
        #expect(leases.placement(of: cRoom, lease: nil, nodes: draining) != .redirect(to: "c"))
    }

    @Test func aDrainingNodeClaimsNothingAndSendsItsRoomsToTheirNextNode() {
        var leases = keeper()
        let mine = room(preferring: "a", among: ["a", "b", "c"])
        leases.loaded(mine, epoch: 1)
        leases.drain()
        #expect(leases.placement(of: mine, lease: nil, nodes: nodes) != .claim)
        let next = leases.whereabouts(of: mine, lease: LeaseStatus(node: "a", epoch: 1, isLive: true), nodes: nodes)
        #expect(next == RendezvousPlacement.preferred(for: mine, among: ["b", "c"]))
        #expect(leases.roomsToTakeOver([room(preferring: "a", among: ["a", "b", "c"])], nodes: nodes).isEmpty)
    }

    @Test func renewalsAreDueEachIntervalAndARoomMissingFromOneIsGivenUp() {
        var leases = keeper()
        leases.announced(now: 0)
        #expect(leases.tick(now: 500).isEmpty)
        #expect(leases.tick(now: 1_000) == [.renew])
        #expect(leases.tick(now: 1_200).isEmpty, "one renewal at a time")
        leases.loaded("x", epoch: 2)
        leases.loaded("y", epoch: 1)
        #expect(leases.renewed(["x": 2, "y": 1], asked: 1_000).isEmpty)
        #expect(leases.tick(now: 2_000) == [.renew])
        // "y" was taken over at a later epoch; "x" is still ours.
        #expect(leases.renewed(["x": 2, "y": 2], asked: 2_000) == [.giveUp(room: "y", .takenOver)])
        #expect(leases.held == ["x": 2])
        #expect(leases.fenced("x") == [.giveUp(room: "x", .fenced)])
        #expect(leases.fenced("x").isEmpty, "given up once")
    }

    @Test func aWholeLeaseWithoutARenewalGivesEveryRoomUp() {
        var leases = keeper()
        leases.announced(now: 0)
        leases.loaded("x", epoch: 1)
        leases.loaded("y", epoch: 3)
        #expect(leases.tick(now: 1_000) == [.renew])
        leases.renewalFailed(now: 1_100)
        #expect(leases.tick(now: 2_100) == [.renew])
        leases.renewalFailed(now: 2_200)
        #expect(!leases.isCutOff(now: 3_000))
        #expect(leases.tick(now: 3_001).contains(.giveUp(room: "x", .cutOff)))
        #expect(leases.held.isEmpty && leases.isCutOff(now: 3_001))
        // A renewal that succeeds again ends the cut-off.
        _ = leases.tick(now: 3_300)
        #expect(leases.renewed([:], asked: 3_300).isEmpty)
        #expect(!leases.isCutOff(now: 3_400))
    }

    @Test func lapsedRoomsThatPreferThisNodeAreTakenOver() {
        let leases = keeper()
        let mine = room(preferring: "a", among: ["a", "b"])
        let theirs = room(preferring: "b", among: ["a", "b"])
        let survivors = [NodeStatus(name: "a"), NodeStatus(name: "b"), NodeStatus(name: "c", isAlive: false)]
        #expect(leases.roomsToTakeOver([mine, theirs], nodes: survivors) == [mine])
    }
}
