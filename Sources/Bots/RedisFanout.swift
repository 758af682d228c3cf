import Foundation
import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import Scuttlebutt
import Whiteboard
import Wire

/// What a Redis fan-out run is told: the light swarm's topology, against
/// Redis pub/sub instead of a Scuttleboard server.
public struct RedisFanoutConfiguration: Sendable {
    /// The Redis server's host.
    public var host: String
    /// The Redis server's port.
    public var port: Int
    /// Channels (a room each).
    public var channels: Int
    /// Publishers per channel.
    public var publishersPerChannel: Int
    /// Subscribers per channel.
    public var subscribersPerChannel: Int
    /// Messages per second each publisher sends, on a fixed schedule.
    public var rate: Double
    /// Seconds of publishing.
    public var duration: Int
    /// The seed of the publishers' strokes.
    public var seed: UInt64
    /// How long, after publishing stops, deliveries may take to arrive.
    public var settleTimeout: Duration = .seconds(10)

    /// A configuration.
    public init(
        host: String, port: Int, channels: Int, publishersPerChannel: Int, subscribersPerChannel: Int, rate: Double,
        duration: Int, seed: UInt64
    ) {
        self.host = host
        self.port = port
        self.channels = channels
        self.publishersPerChannel = publishersPerChannel
        self.subscribersPerChannel = subscribersPerChannel
        self.rate = rate
        self.duration = duration
        self.seed = seed
    }
}

/// What a Redis fan-out run measured, in the swarm report's terms.
public struct RedisFanoutReport: Sendable, Codable {
    /// Messages published.
    public var sent: Int
    /// Messages subscribers received and decoded (each counts once per subscriber).
    public var delivered: Int
    /// What should have been delivered: `sent` × subscribers per channel.
    public var expected: Int
    /// Seconds from the first publish to the last delivery.
    public var deliverySeconds: Double
    /// Delivered messages per second, over ``deliverySeconds``.
    public var throughput: Double
    /// Publish-to-decode latency percentiles, in milliseconds.
    public var latency: SwarmReport.Latency
    /// The mean payload size, in bytes: a protocol v1 `updates` frame of
    /// one stroke extend, encoded on its own (its origin and stamp in full).
    public var payloadBytes: Double
    /// CPU seconds the Redis server used over the run, when its process is known.
    public var serverCPUSeconds: Double?
    /// Server CPU per delivered message, in microseconds.
    public var serverCPUMicrosecondsPerDelivered: Double? {
        serverCPUSeconds.map { delivered > 0 ? $0 * 1_000_000 / Double(delivered) : 0 }
    }
}

/// The light swarm's load against Redis pub/sub, as a baseline for
/// Scuttleboard's fan-out: publishers send protocol v1 frames of stroke
/// extends (as light peers draw) on a fixed schedule, one channel per room;
/// subscribers decode each frame, count it and stamp its latency, as light
/// peers do (Redis has no acknowledgements, so they send none).
public struct RedisFanout: Sendable {
    /// What it runs.
    public let configuration: RedisFanoutConfiguration

    /// A run.
    public init(configuration: RedisFanoutConfiguration) {
        self.configuration = configuration
    }

    /// Subscribes, publishes for the duration, waits for the deliveries
    /// (at most the settle timeout) and reports.
    /// - Parameter serverCPU: CPU seconds the Redis process has used so far.
    /// - Throws: ``RedisFanoutError`` when Redis cannot be reached or does
    ///   not confirm the subscriptions.
    public func run(serverCPU: (@Sendable () -> Double?)? = nil) async throws -> RedisFanoutReport {
        let counts = NIOLockedValueBox(
            Counts(histogram: Histogram(highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: .three)))
        var connections: [any Channel] = []
        defer { for channel in connections { channel.close(promise: nil) } }
        for index in 0..<(configuration.channels * configuration.subscribersPerChannel) {
            let channel = try await connect { _ in RESPSubscriber(counts: counts) }
            connections.append(channel)
            let name = "swarm-\(index % configuration.channels)"
            try await channel.writeAndFlush(RESP.command(["SUBSCRIBE", name])).get()
        }
        try await waitForSubscriptions(counts, count: connections.count)
        var publishers: [(channel: any Channel, handler: NIOLoopBound<RESPPublisher>)] = []
        for index in 0..<(configuration.channels * configuration.publishersPerChannel) {
            let settings = (
                channel: "swarm-\(index % configuration.channels)", seed: configuration.seed &+ UInt64(index),
                rate: configuration.rate, seconds: configuration.duration
            )
            let added = NIOLockedValueBox<NIOLoopBound<RESPPublisher>?>(nil)
            let channel = try await connect { eventLoop in
                let handler = RESPPublisher(
                    channel: settings.channel, seed: settings.seed, rate: settings.rate, seconds: settings.seconds)
                added.withLockedValue { $0 = NIOLoopBound(handler, eventLoop: eventLoop) }
                return handler
            }
            connections.append(channel)
            guard let handler = added.withLockedValue({ $0 }) else { throw RedisFanoutError("no publisher was set up") }
            publishers.append((channel, handler))
        }
        let cpuAtStart = serverCPU?()
        let start = ContinuousClock.now
        for publisher in publishers {
            let handler = publisher.handler
            try await publisher.channel.eventLoop.submit { handler.value.start() }.get()
        }
        try await Task.sleep(for: .seconds(configuration.duration))
        var sent = 0
        var payloadBytes = 0
        for publisher in publishers {
            let handler = publisher.handler
            let (count, bytes) = try await publisher.channel.eventLoop.submit {
                handler.value.stop()
                return (handler.value.sent, handler.value.payloadBytes)
            }.get()
            sent += count
            payloadBytes += bytes
        }
        let expected = sent * configuration.subscribersPerChannel
        let deadline = ContinuousClock.now + configuration.settleTimeout
        while counts.withLockedValue({ $0.delivered }) < expected && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        let cpuAtEnd = serverCPU?()
        let snapshot = counts.withLockedValue { $0 }
        let histogram = snapshot.histogram
        let deliverySeconds = max(0.001, ((snapshot.lastDelivery ?? .now) - start) / .seconds(1))
        return RedisFanoutReport(
            sent: sent, delivered: snapshot.delivered, expected: expected, deliverySeconds: deliverySeconds,
            throughput: Double(snapshot.delivered) / deliverySeconds,
            latency: .init(
                p50: histogram.valueAtPercentile(50), p90: histogram.valueAtPercentile(90),
                p99: histogram.valueAtPercentile(99), p999: histogram.valueAtPercentile(99.9),
                max: histogram.totalCount > 0 ? histogram.max : 0),
            payloadBytes: sent > 0 ? Double(payloadBytes) / Double(sent) : 0,
            serverCPUSeconds: cpuAtStart.flatMap { start in cpuAtEnd.map { $0 - start } })
    }

    /// A connection to Redis whose replies go to the handler `makeHandler`
    /// makes on the connection's event loop.
    private func connect(
        _ makeHandler: @escaping @Sendable (any EventLoop) -> any ChannelInboundHandler
    ) async throws -> any Channel {
        do {
            return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(5))
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RESPReplyDecoder()))
                        try channel.pipeline.syncOperations.addHandler(makeHandler(channel.eventLoop))
                    }
                }
                .connect(host: configuration.host, port: configuration.port).get()
        } catch {
            throw RedisFanoutError("cannot reach Redis at \(configuration.host):\(configuration.port): \(error)")
        }
    }

    private func waitForSubscriptions(_ counts: NIOLockedValueBox<Counts>, count: Int) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while counts.withLockedValue({ $0.subscribed }) < count {
            guard ContinuousClock.now < deadline else {
                throw RedisFanoutError(
                    "Redis confirmed \(counts.withLockedValue { $0.subscribed }) of \(count) subscriptions")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}

/// Why a Redis fan-out run could not go on.
public struct RedisFanoutError: Error, CustomStringConvertible {
    /// What went wrong, as a sentence.
    public let description: String

    init(_ description: String) { self.description = description }
}

/// What the subscribers counted.
struct Counts {
    var histogram: Histogram<UInt64>
    var delivered = 0
    var subscribed = 0
    var undecodable = 0
    var lastDelivery: ContinuousClock.Instant?
}

/// RESP, the Redis protocol, as far as pub/sub needs it.
enum RESP {
    /// A reply: what the server sends.
    enum Reply {
        case simple(String)
        case error(String)
        case integer(Int)
        case bulk([UInt8]?)
        case array([Reply])
    }

    /// A command as an array of bulk strings.
    static func command(_ words: [String]) -> ByteBuffer {
        var buffer = ByteBuffer()
        buffer.writeString("*\(words.count)\r\n")
        for word in words { appendBulk(Array(word.utf8), to: &buffer) }
        return buffer
    }

    static func appendBulk(_ bytes: [UInt8], to buffer: inout ByteBuffer) {
        buffer.writeString("$\(bytes.count)\r\n")
        buffer.writeBytes(bytes)
        buffer.writeString("\r\n")
    }
}

/// Parses RESP replies from the byte stream.
struct RESPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = RESP.Reply

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        var view = buffer
        guard let reply = try Self.parse(&view) else { return .needMoreData }
        buffer = view
        context.fireChannelRead(wrapInboundOut(reply))
        return .continue
    }

    /// One reply, or nil when it has not all arrived (`buffer` is then left anywhere).
    static func parse(_ buffer: inout ByteBuffer) throws -> RESP.Reply? {
        guard let kind = buffer.readInteger(as: UInt8.self), let line = readLine(&buffer) else { return nil }
        switch kind {
        case UInt8(ascii: "+"): return .simple(line)
        case UInt8(ascii: "-"): return .error(line)
        case UInt8(ascii: ":"):
            guard let value = Int(line) else { throw RedisFanoutError("a malformed integer reply: \(line)") }
            return .integer(value)
        case UInt8(ascii: "$"):
            guard let length = Int(line) else { throw RedisFanoutError("a malformed bulk length: \(line)") }
            if length < 0 { return .bulk(nil) }
            guard buffer.readableBytes >= length + 2, let bytes = buffer.readBytes(length: length) else { return nil }
            buffer.moveReaderIndex(forwardBy: 2)
            return .bulk(bytes)
        case UInt8(ascii: "*"):
            guard let count = Int(line) else { throw RedisFanoutError("a malformed array length: \(line)") }
            var items: [RESP.Reply] = []
            for _ in 0..<max(0, count) {
                guard let item = try parse(&buffer) else { return nil }
                items.append(item)
            }
            return .array(items)
        default:
            throw RedisFanoutError("an unknown reply type \(kind)")
        }
    }

    static func readLine(_ buffer: inout ByteBuffer) -> String? {
        guard let end = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\r")),
            end + 1 < buffer.readableBytesView.endIndex
        else { return nil }
        let line = buffer.readString(length: end - buffer.readerIndex)
        buffer.moveReaderIndex(forwardBy: 2)
        return line
    }
}

/// A subscriber: decodes each message as a protocol v1 frame, counts its
/// updates and stamps their latency.
final class RESPSubscriber: ChannelInboundHandler, Sendable {
    typealias InboundIn = RESP.Reply

    let counts: NIOLockedValueBox<Counts>

    init(counts: NIOLockedValueBox<Counts>) {
        self.counts = counts
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .array(let items) = unwrapInboundIn(data), let first = items.first,
            case .bulk(let kind?) = first
        else { return }
        switch String(decoding: kind, as: UTF8.self) {
        case "subscribe":
            counts.withLockedValue { $0.subscribed += 1 }
        case "message":
            guard items.count == 3, case .bulk(let payload?) = items[2] else { return }
            var decoder = WireDecoder<BoardActionCodec>()
            let now = SystemWallClock().milliseconds()
            guard let messages = try? decoder.decodeAll(payload) else {
                counts.withLockedValue { $0.undecodable += 1 }
                return
            }
            counts.withLockedValue { counts in
                for case .updates(let updates) in messages {
                    for update in updates {
                        let milliseconds = update.timestamp.milliseconds
                        counts.delivered += 1
                        _ = counts.histogram.record(min(now >= milliseconds ? now - milliseconds : 0, 3_600_000))
                    }
                }
                counts.lastDelivery = .now
            }
        default:
            break
        }
    }
}

/// A publisher: sends a stroke extend a light peer would record, encoded
/// as a protocol v1 `updates` frame, on a fixed schedule.
final class RESPPublisher: ChannelInboundHandler {
    typealias InboundIn = RESP.Reply

    let channelName: String
    let rate: Double
    /// Messages the whole run publishes: `rate` × its seconds.
    let total: Int
    let origin = PeerID.random()
    var brain: BotBrain
    var steps: [BotStep] = []
    var clock = LogicalClock(strategy: .hybridLogical, maxSkew: 60_000)
    var seq: UInt64 = 0
    var sent = 0
    var payloadBytes = 0
    var replies = 0
    var context: ChannelHandlerContext?
    var schedule: RepeatedTask?
    var startedAt: NIODeadline?

    init(channel: String, seed: UInt64, rate: Double, seconds: Int) {
        channelName = channel
        self.rate = rate
        total = Int(rate * Double(seconds))
        brain = BotBrain(
            behavior: .scribbler, seed: seed, area: Rect(minX: 0, minY: 0, maxX: 199, maxY: 119), stepDelay: 0)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        replies += 1
    }

    func start() {
        guard let context else { return }
        startedAt = .now()
        let this = NIOLoopBound(self, eventLoop: context.eventLoop)
        let interval = TimeAmount.nanoseconds(max(1_000_000, Int64(1e9 / rate)))
        schedule = context.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: interval) { _ in
            this.value.publishWhatIsDue()
        }
    }

    /// Publishes what the schedule made due by now (never more than the
    /// run's total), then stops.
    func stop() {
        publishWhatIsDue()
        schedule?.cancel()
        schedule = nil
        startedAt = nil
    }

    func publishWhatIsDue() {
        guard let startedAt, let context else { return }
        let due = min(total, Int(Double((NIODeadline.now() - startedAt).nanoseconds) / 1e9 * rate)) - sent
        guard due > 0 else { return }
        let now = SystemWallClock().milliseconds()
        var buffer = context.channel.allocator.buffer(capacity: due * 64)
        for _ in 0..<due {
            seq += 1
            let update = Update(origin: origin, seq: seq, timestamp: clock.tick(now: now), action: nextExtend())
            var encoder = WireEncoder<BoardActionCodec>()
            let frame = encoder.encode(.updates([update]))
            buffer.writeString("*3\r\n$7\r\nPUBLISH\r\n$\(channelName.utf8.count)\r\n\(channelName)\r\n")
            RESP.appendBulk(frame, to: &buffer)
            payloadBytes += frame.count
            sent += 1
        }
        context.writeAndFlush(NIOAny(buffer), promise: nil)
    }

    /// The next stroke extend of a scribbler (its other steps skipped).
    func nextExtend() -> BoardAction {
        while true {
            if steps.isEmpty { steps = brain.nextGesture().reversed() }
            if case .extendStroke(let points) = steps.removeLast() {
                return .extendStroke(UpdateID(origin: origin, seq: 1), points: points)
            }
        }
    }
}
