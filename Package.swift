// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Scuttleboard",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "scuttleboard", targets: ["scuttleboard"]),
        .library(name: "Scuttlebutt", targets: ["Scuttlebutt"]),
        .library(name: "Whiteboard", targets: ["Whiteboard"]),
        .library(name: "Wire", targets: ["Wire"]),
        .library(name: "Rooms", targets: ["Rooms"]),
        .library(name: "Storage", targets: ["Storage"]),
        .library(name: "PostgresStorage", targets: ["PostgresStorage"]),
        .library(name: "Client", targets: ["Client"]),
        .library(name: "Server", targets: ["Server"]),
        .library(name: "NetworkSimulator", targets: ["NetworkSimulator"]),
        .library(name: "Terminal", targets: ["Terminal"]),
        .library(name: "Bots", targets: ["Bots"]),
        .library(name: "Workloads", targets: ["Workloads"]),
        .library(name: "BoardWorkloads", targets: ["BoardWorkloads"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0", traits: []),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.0"),
    ],
    targets: [
        // Generic replication core: pure Swift, no I/O, time injected.
        .target(
            name: "Scuttlebutt",
            dependencies: [
                .product(name: "DequeModule", package: "swift-collections")
            ]
        ),
        // The system zlib, for the PNG exporter's deflate.
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", providers: [.apt(["zlib1g-dev"])]),
        // The board: drawing only, no networks, no files.
        .target(
            name: "Whiteboard",
            dependencies: [
                "Scuttlebutt", "CZlib",
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ]
        ),
        // Protocol v1: frames and the message codec (docs/PROTOCOL.md).
        .target(
            name: "Wire",
            dependencies: [
                "Scuttlebutt",
                "Whiteboard",
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        // A room decided without I/O: the state machine the server and the simulator both drive.
        .target(
            name: "Rooms",
            dependencies: [
                "Scuttlebutt",
                .product(name: "OrderedCollections", package: "swift-collections"),
            ]
        ),
        // The durable log: SQLite (WAL) through GRDB; the only code that talks to SQLite.
        .target(
            name: "Storage",
            dependencies: [
                "Scuttlebutt",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        // The durable log in PostgreSQL through postgres-nio: the only code that talks to PostgreSQL.
        .target(
            name: "PostgresStorage",
            dependencies: [
                "Scuttlebutt", "Storage",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The server: rooms as actors on their own queues, sessions over NIO.
        .target(
            name: "Server",
            dependencies: [
                "Scuttlebutt", "Whiteboard", "Wire", "Storage", "Rooms",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // The browser board: HTML, CSS and JavaScript modules, no build step.
            resources: [.copy("Resources/board")]
        ),
        // The client library: a local replica that syncs, reconnects and keeps an offline queue.
        .target(
            name: "Client",
            dependencies: [
                "Scuttlebutt", "Whiteboard", "Wire", "Storage",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The system ncursesw library, wide characters included.
        .systemLibrary(name: "CNCursesW", path: "Sources/CNCursesW"),
        // Async-signal-safe terminal restore, crash and stop signal handlers, in C.
        .target(name: "CTerminalGuard"),
        // The terminal layer: input parsing, the UI state machine, screens, and curses on one thread.
        .target(
            name: "Terminal",
            dependencies: [
                "Scuttlebutt", "Whiteboard", "CNCursesW", "CTerminalGuard",
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        // Bot peers that draw like people (and like load), for the demo and the swarm.
        .target(
            name: "Bots",
            dependencies: [
                "Scuttlebutt", "Whiteboard", "Client", "Wire", "Workloads",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The one executable, with a subcommand per job.
        .executableTarget(
            name: "scuttleboard",
            dependencies: [
                "Server", "Rooms", "Storage", "PostgresStorage", "Scuttlebutt", "Whiteboard", "Wire", "Client",
                "Terminal",
                "Bots",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The shared whiteboard workloads (W1–W4 of WHITEBOARD-SPEC.md): the
        // same seeded action streams other engines are measured with.
        .target(name: "Workloads"),
        // The shared workloads recorded and received by board replicas.
        .target(name: "BoardWorkloads", dependencies: ["Workloads", "Scuttlebutt", "Whiteboard"]),
        // Deterministic network simulator (test support): seeded peers and links.
        .target(
            name: "NetworkSimulator",
            dependencies: [
                "Scuttlebutt", "Rooms", "Workloads",
                .product(name: "HashTreeCollections", package: "swift-collections"),
                .product(name: "HeapModule", package: "swift-collections"),
            ]
        ),
        // Test support: processes and tmux servers that tests start, marked,
        // always stopped, and reported when a test leaves them running.
        .target(
            name: "TestHarness",
            dependencies: [.product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(
            name: "ScuttlebuttTests",
            dependencies: [
                "Scuttlebutt",
                "NetworkSimulator",
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ]
        ),
        .testTarget(
            name: "WhiteboardTests",
            dependencies: ["Whiteboard", "Scuttlebutt", "NetworkSimulator", "CZlib"]
        ),
        .testTarget(
            name: "WorkloadsTests",
            dependencies: ["Workloads", "BoardWorkloads", "Scuttlebutt", "Whiteboard", "Wire"]
        ),
        .testTarget(
            name: "WireTests",
            dependencies: [
                "Wire", "Scuttlebutt", "Whiteboard", "NetworkSimulator",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "PostgresStorage", "Scuttlebutt", "TestHarness",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "ServerTests",
            dependencies: [
                "Server", "Rooms", "Client", "Storage", "PostgresStorage", "Wire", "Scuttlebutt", "Whiteboard", "Bots",
                "TestHarness",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "TerminalTests",
            dependencies: ["Terminal", "Whiteboard", "Scuttlebutt", "Server", "Rooms", "Bots", "TestHarness"]
        ),
        .testTarget(
            name: "CommandTests",
            dependencies: [
                "scuttleboard", "Client", "Terminal", "Storage", "Bots", "TestHarness",
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "RoomsTests",
            dependencies: ["Rooms", "Scuttlebutt", "NetworkSimulator"]
        ),
        .testTarget(
            name: "NetworkSimulatorTests",
            dependencies: ["Scuttlebutt", "NetworkSimulator"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
