import Storage

extension ScuttleboardServer {
    /// Keeps this node's leases while it serves, as ``NodeLeases`` decides:
    /// renews them every renewal interval; unloads a room whose lease
    /// another node took (its sessions are sent there); serves no room at
    /// all once a whole lease went by without a renewal (the store is out of
    /// reach, so any lease may have moved); and takes over rooms of nodes
    /// whose leases lapsed, before their clients come back.
    func keepLeases(_ membership: ClusterMembership) async throws {
        var cutOff = false
        let step = min(membership.settings.renewInterval, .milliseconds(250))
        while !Task.isCancelled && !isStopping {
            try await Task.sleep(for: step)
            var effects = membership.tick()
            var renewed = false
            while !effects.isEmpty {
                switch effects.removeFirst() {
                case .renew:
                    do {
                        effects += try await membership.renew()
                        renewed = true
                        counters.renewedLeases(holding: await registry.held.count)
                        if cutOff {
                            cutOff = false
                            configuration.logger.notice("reached the shared store again; serving rooms")
                        }
                    } catch {
                        configuration.logger.warning("could not renew leases", metadata: ["error": "\(error)"])
                    }
                case .giveUp(let room, let loss):
                    if loss == .cutOff && !cutOff {
                        cutOff = true
                        configuration.logger.error(
                            "no lease renewal for a whole lease: serving no room until the store answers")
                    } else if loss == .takenOver {
                        configuration.logger.warning(
                            "lost the lease of a room: another node holds it now", metadata: ["room": "\(room)"])
                    }
                    await registry.lost(room)
                }
            }
            guard renewed else { continue }
            for room in await membership.roomsToTakeOver() {
                do {
                    _ = try await registry.room(named: room)
                } catch {
                    configuration.logger.warning(
                        "could not take over a room", metadata: ["room": "\(room)", "error": "\(error)"])
                }
            }
        }
    }

    /// A cluster node's stop: no room is placed here any more; each room's
    /// sessions are sent to the node it prefers next, its last checkpoint is
    /// written, and its lease released, so that the next node takes it at
    /// once rather than when the lease would have lapsed.
    func drain(_ membership: ClusterMembership) async {
        await membership.drain()
        for room in await registry.loaded {
            let handover = Task {
                if let node = await membership.locate(room.name) {
                    await room.closeAll(redirectingTo: node)
                } else {
                    await room.closeAll(.shuttingDown)
                }
                guard await room.checkpoint() else { return }
                settled(room.name)
                await registry.unload(room)
                await membership.release(room.name)
            }
            addHandover(handover)
        }
    }
}
