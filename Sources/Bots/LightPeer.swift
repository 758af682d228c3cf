import Client
import DequeModule
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import Scuttlebutt
import Whiteboard
import Wire

/// A swarm peer that draws and receives with no replica, so that a swarm
/// measures the server rather than its own bots: it decodes what arrives,
/// counts it, stamps its latency and acknowledges it, and it records
/// freehand strokes (its own strokes only, always valid whatever else is on
/// the board) on a fixed schedule. It speaks protocol v1 as any client must
/// (hello first, an ack per `updates`, pongs, clock reports, the window,
/// re-stamping what the server refuses as stale) but never reconnects: a
/// session that ends is reported, not retried.
final class LightPeer: Sendable {
    /// What the peer did and holds, readable from any thread.
    struct Status: Sendable {
        /// What it holds: the snapshot it was sent, what it received, and
        /// what it recorded.
        var digest = Digest()
        /// Actions recorded.
        var recorded = 0
        /// Updates received and counted (duplicates excluded).
        var received = 0
        /// Updates that arrived out of their origin's order: none, from an
        /// honest server.
        var gaps = 0
        /// Updates it had not received that came inside a snapshot instead
        /// (a link that fell behind the room's horizon).
        var receivedInSnapshots = 0
        /// Whether the session is open now.
        var open = false
        /// Why the session ended, when it has.
        var ended: String?
    }

    /// What it is told.
    struct Settings: Sendable {
        var host: String
        var port: Int
        var room: String
        var name: String
        var seed: UInt64
        /// Actions per second it records once told to draw.
        var rate: Double
        /// Where its strokes go.
        var area: Rect
        /// TLS to the server; nil for plain TCP.
        var tls: NIOSSLContext?
        /// The WebSocket path on `port` (the server's HTTP port, `/ws`) to
        /// speak the protocol over; nil for the protocol's own TCP port.
        var webSocketPath: String?
    }

    /// Its origin.
    let peer: PeerID
    private let status: NIOLockedValueBox<Status>
    private let channel: any Channel
    private let handler: NIOLoopBound<Handler>

    /// The peer's status now.
    var current: Status { status.withLockedValue { $0 } }

    /// Connects and says hello.
    /// - Parameter received: Called with the stamps of every batch of
    ///   updates received (on an event loop: keep it short).
    static func connect(
        _ settings: Settings, received: @escaping @Sendable ([Timestamp]) -> Void
    ) async throws -> LightPeer {
        let peer = PeerID.random()
        let status = NIOLockedValueBox(Status())
        let added = NIOLockedValueBox<NIOLoopBound<Handler>?>(nil)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler = Handler(peer: peer, settings: settings, status: status, received: received)
                    if let tls = settings.tls {
                        try ClientTLS.addHandler(to: channel.pipeline.syncOperations, context: tls, host: settings.host)
                    }
                    let bound = NIOLoopBound(handler, eventLoop: channel.eventLoop)
                    added.withLockedValue { $0 = bound }
                    if let path = settings.webSocketPath {
                        // The server sends a room turn in WebSocket frames of up to twice its frame limit.
                        try channel.pipeline.syncOperations.addWebSocketClient(
                            host: settings.host, path: path, maxFrameSize: 2 * WireFormat.defaultMaxFrameSize
                        ) { pipeline in
                            try pipeline.addGossipFrameCoders(BoardActionCodec.self)
                            try pipeline.addHandler(bound.value)
                        }
                    } else {
                        try channel.pipeline.syncOperations.addGossipFrameCoders(BoardActionCodec.self)
                        try channel.pipeline.syncOperations.addHandler(handler)
                    }
                }
            }
            .connect(host: settings.host, port: settings.port).get()
        guard let handler = added.withLockedValue({ $0 }) else { throw ChannelError.inappropriateOperationForState }
        return LightPeer(peer: peer, status: status, channel: channel, handler: handler)
    }

    private init(peer: PeerID, status: NIOLockedValueBox<Status>, channel: any Channel, handler: NIOLoopBound<Handler>)
    {
        self.peer = peer
        self.status = status
        self.channel = channel
        self.handler = handler
    }

    /// Starts recording on its schedule (from now, or from when its session
    /// opens if it is not open yet: what is due by then goes at once).
    func startDrawing() {
        let handler = self.handler
        channel.eventLoop.execute { handler.value.startDrawing(at: .now()) }
    }

    /// Stops recording (when this returns, it has); it goes on receiving.
    func stopDrawing() async {
        let handler = self.handler
        try? await channel.eventLoop.submit { handler.value.stopDrawing() }.get()
    }

    /// Says goodbye and closes the connection.
    func close() async {
        let channel = self.channel
        try? await channel.eventLoop.submit {
            channel.writeAndFlush(GossipMessage<BoardAction>.goodbye(.normal), promise: nil)
        }.get()
        try? await channel.close()
    }

    /// The protocol, on the channel's event loop.
    final class Handler: ChannelInboundHandler {
        typealias InboundIn = GossipMessage<BoardAction>
        typealias OutboundOut = GossipMessage<BoardAction>

        /// At most this many batches unacknowledged (the protocol's default window).
        static let window = 4
        /// At most this many updates per batch.
        static let maxBatch = 512

        let peer: PeerID
        let settings: Settings
        let status: NIOLockedValueBox<Status>
        let received: @Sendable ([Timestamp]) -> Void
        var clock = LogicalClock(strategy: .hybridLogical, maxSkew: 60_000)
        var brain: BotBrain
        var steps: Deque<BotStep> = []
        var seq: UInt64 = 0
        var stroke: ElementID?
        /// Its latest stroke not yet erased: a light peer holds no board,
        /// so its eraser removes its own latest stroke.
        var erasable: ElementID?
        /// Recorded, not yet sent.
        var unsent: Deque<Update<BoardAction>> = []
        /// Sent, not yet acknowledged, one entry per batch.
        var inFlight: Deque<[Update<BoardAction>]> = []
        /// The stamp each unacknowledged seq carries now (a stale refusal
        /// of an older stamp is ignored).
        var currentStamps: [UInt64: Timestamp] = [:]
        var context: ChannelHandlerContext?
        var open = false
        /// When drawing started (the schedule's origin), while it goes on.
        var drawingSince: NIODeadline?
        var recordedSinceStart = 0
        var clockReports: RepeatedTask?
        var schedule: RepeatedTask?

        init(
            peer: PeerID, settings: Settings, status: NIOLockedValueBox<Status>,
            received: @escaping @Sendable ([Timestamp]) -> Void
        ) {
            self.peer = peer
            self.settings = settings
            self.status = status
            self.received = received
            brain = BotBrain(behavior: .scribbler, seed: settings.seed, area: settings.area, stepDelay: 0)
        }

        /// Everything it records later is stamped above this; what it has
        /// recorded but not sent holds the report below its first stamp.
        var reportableClock: Timestamp {
            if let first = unsent.first { return Timestamp(first.timestamp.rawValue - 1) }
            return clock.latest
        }

        var helloSent = false

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
            // Over a WebSocket the handler joins once the upgrade is done.
            if context.channel.isActive { sayHello(context) }
        }

        func channelActive(context: ChannelHandlerContext) {
            sayHello(context)
            context.fireChannelActive()
        }

        func sayHello(_ context: ChannelHandlerContext) {
            guard !helloSent else { return }
            helloSent = true
            clock.observe(Timestamp(milliseconds: SystemWallClock().milliseconds(), counter: 0))
            let hello = Hello(
                protocolVersion: 1, peer: peer, name: settings.name, room: settings.room, role: .bot,
                credentials: nil, digest: Digest(), clock: clock.latest)
            context.writeAndFlush(wrapOutboundOut(.hello(hello)), promise: nil)
        }

        func channelInactive(context: ChannelHandlerContext) {
            clockReports?.cancel()
            schedule?.cancel()
            open = false
            status.withLockedValue { status in
                status.open = false
                if status.ended == nil { status.ended = "connection closed" }
            }
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            status.withLockedValue { $0.ended = "\(error)" }
            context.close(promise: nil)
        }

        func channelReadComplete(context: ChannelHandlerContext) {
            context.flush()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .hello:
                guard !open else { return fail(context, "a second hello") }
                open = true
                status.withLockedValue { $0.open = true }
                // Idle or not, the server hears its clock about every
                // second, so the room's frontier never waits on it.
                let this = NIOLoopBound(self, eventLoop: context.eventLoop)
                clockReports = context.eventLoop.scheduleRepeatedTask(
                    initialDelay: .seconds(1), delay: .seconds(1)
                ) { _ in this.value.reportClock() }
                if drawingSince != nil { beginSchedule() }
            case .updates(let batch):
                receive(batch)
                context.write(wrapOutboundOut(.ack(batches: 1, clock: reportableClock)), promise: nil)
            case .ack(let batches, _):
                acknowledge(Int(batches))
                send()
            case .reject(let rejection):
                if case .stale(let id, let timestamp, let frontier) = rejection, id.origin == peer {
                    restamp(from: id.seq, refused: timestamp, frontier: frontier)
                    send()
                } else {
                    // A goodbye follows any other refusal.
                    status.withLockedValue { $0.ended = "refused: \(rejection)" }
                }
            case .snapshot(let header):
                status.withLockedValue { status in
                    let held = status.digest.totalCount
                    status.digest = status.digest.union(header.digest)
                    status.receivedInSnapshots += Int(status.digest.totalCount - held)
                }
            case .ping(let nonce):
                context.write(wrapOutboundOut(.pong(nonce)), promise: nil)
            case .goodbye(let reason):
                status.withLockedValue { $0.ended = "\(reason)" }
                context.close(promise: nil)
            case .snapshotChunk, .synced, .frontier, .presence, .presenceGone, .pong:
                break
            }
        }

        func fail(_ context: ChannelHandlerContext, _ what: String) {
            status.withLockedValue { $0.ended = "protocol violation: \(what)" }
            context.writeAndFlush(wrapOutboundOut(.goodbye(.protocolViolation(what))), promise: nil)
            context.close(promise: nil)
        }

        func receive(_ batch: [Update<BoardAction>]) {
            var stamps: [Timestamp] = []
            stamps.reserveCapacity(batch.count)
            status.withLockedValue { status in
                for update in batch {
                    let held = status.digest[update.origin]
                    if update.seq == held + 1 {
                        status.digest.advance(update.origin, to: update.seq)
                        stamps.append(update.timestamp)
                    } else if update.seq > held + 1 {
                        status.gaps += 1
                    }
                    clock.observe(update.timestamp)
                }
                status.received += stamps.count
            }
            received(stamps)
        }

        func acknowledge(_ batches: Int) {
            for _ in 0..<min(batches, inFlight.count) {
                for update in inFlight.removeFirst() where currentStamps[update.seq] == update.timestamp {
                    currentStamps[update.seq] = nil
                }
            }
        }

        /// Re-stamps the refused update and every later one of ours above
        /// the frontier (the server refuses them all until the refused seq
        /// comes back), unless the refusal is of a stamp already replaced.
        func restamp(from refusedSeq: UInt64, refused: Timestamp, frontier: Timestamp) {
            guard currentStamps[refusedSeq] == refused else { return }
            clock.observe(frontier)
            let now = SystemWallClock().milliseconds()
            var again = inFlight.joined().filter { $0.seq >= refusedSeq && currentStamps[$0.seq] == $0.timestamp }
            again += unsent
            unsent = []
            for update in again {
                let stamp = clock.tick(now: now)
                currentStamps[update.seq] = stamp
                unsent.append(Update(origin: peer, seq: update.seq, timestamp: stamp, action: update.action))
            }
        }

        /// Sends what is recorded, in batches, within the window.
        func send() {
            guard open, let context else { return }
            while inFlight.count < Self.window, !unsent.isEmpty {
                let batch = Array(unsent.prefix(Self.maxBatch))
                unsent.removeFirst(batch.count)
                inFlight.append(batch)
                context.write(wrapOutboundOut(.updates(batch)), promise: nil)
            }
        }

        func reportClock() {
            guard open, let context else { return }
            context.writeAndFlush(wrapOutboundOut(.ack(batches: 0, clock: reportableClock)), promise: nil)
        }

        func startDrawing(at start: NIODeadline) {
            guard drawingSince == nil else { return }
            drawingSince = start
            if open { beginSchedule() }
        }

        func stopDrawing() {
            // What the schedule made due by now goes first: a late tick on a
            // busy event loop must not shorten the run.
            recordWhatIsDue()
            drawingSince = nil
            schedule?.cancel()
            schedule = nil
        }

        func beginSchedule() {
            guard let context, settings.rate > 0 else { return }
            let interval = TimeAmount.nanoseconds(max(1_000_000, Int64(1e9 / settings.rate)))
            let this = NIOLoopBound(self, eventLoop: context.eventLoop)
            schedule = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
                this.value.recordWhatIsDue()
            }
        }

        /// Records every action the schedule has made due by now: a peer
        /// that fell behind catches up at once, so a slow server shows as
        /// latency, not as less load.
        func recordWhatIsDue() {
            guard let since = drawingSince, let context else { return }
            let elapsed = Double((NIODeadline.now() - since).nanoseconds) / 1e9
            let due = Int(elapsed * settings.rate) - recordedSinceStart
            guard due > 0 else { return }
            let now = SystemWallClock().milliseconds()
            for _ in 0..<due {
                guard let action = nextAction() else { break }
                seq += 1
                let stamp = clock.tick(now: now)
                currentStamps[seq] = stamp
                unsent.append(Update(origin: peer, seq: seq, timestamp: stamp, action: action))
                recordedSinceStart += 1
            }
            status.withLockedValue { status in
                status.recorded = recordedSinceStart
                status.digest.advance(peer, to: seq)
            }
            send()
            context.flush()
        }

        /// The brain's next action (its pauses and cursor moves skipped).
        func nextAction() -> BoardAction? {
            while true {
                if steps.isEmpty { steps.append(contentsOf: brain.nextGesture()) }
                switch steps.removeFirst() {
                case .beginStroke(let point, let style):
                    stroke = UpdateID(origin: peer, seq: seq + 1)
                    erasable = stroke
                    return .beginStroke(at: point, style: style)
                case .extendStroke(let points):
                    guard let stroke else { continue }
                    return .extendStroke(stroke, points: points)
                case .endStroke:
                    guard let open = stroke else { continue }
                    stroke = nil
                    return .endStroke(open)
                case .record(let action):
                    return action
                case .erase:
                    guard let target = erasable else { continue }
                    erasable = nil
                    return .erase([target])
                case .cursor, .pause:
                    continue
                }
            }
        }
    }
}
