// swift-tools-version: 6.1
import PackageDescription

// Benchmarks live in their own package so that the main build and CI never
// compile the harness. Run with `swift package benchmark` from this folder.
let package = Package(
    name: "ScuttleboardBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "Scuttleboard", path: "../"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/ordo-one/benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "ScuttlebuttBenchmarks",
            dependencies: [
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
                .product(name: "NetworkSimulator", package: "Scuttleboard"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ],
            path: "Benchmarks/ScuttlebuttBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "WhiteboardBenchmarks",
            dependencies: [
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
                .product(name: "Whiteboard", package: "Scuttleboard"),
                .product(name: "Wire", package: "Scuttleboard"),
                .product(name: "Workloads", package: "Scuttleboard"),
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Benchmarks/WhiteboardBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // glibc's heap statistics (mallinfo2), which Swift's Glibc module lacks.
        .target(name: "CHeapStatistics", path: "Benchmarks/CHeapStatistics"),
        .executableTarget(
            name: "WorkloadBenchmarks",
            dependencies: [
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
                .product(name: "Whiteboard", package: "Scuttleboard"),
                .product(name: "Wire", package: "Scuttleboard"),
                .product(name: "Workloads", package: "Scuttleboard"),
                .product(name: "BoardWorkloads", package: "Scuttleboard"),
                .product(name: "Server", package: "Scuttleboard"),
                .product(name: "Benchmark", package: "benchmark"),
                "CHeapStatistics",
            ],
            path: "Benchmarks/WorkloadBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "StorageBenchmarks",
            dependencies: [
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
                .product(name: "Storage", package: "Scuttleboard"),
                .product(name: "PostgresStorage", package: "Scuttleboard"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/StorageBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "ServerBenchmarks",
            dependencies: [
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
                .product(name: "Whiteboard", package: "Scuttleboard"),
                .product(name: "Storage", package: "Scuttleboard"),
                .product(name: "Server", package: "Scuttleboard"),
                .product(name: "Rooms", package: "Scuttleboard"),
                .product(name: "Client", package: "Scuttleboard"),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ServerBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
