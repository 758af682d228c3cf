// swift-tools-version: 6.1
import PackageDescription

// A libFuzzer target for the protocol v1 decoder, kept out of the main build:
// it only links with `swift build --sanitize=fuzzer`. Run Scripts/fuzz-wire.sh.
let package = Package(
    name: "ScuttleboardFuzz",
    platforms: [.macOS(.v15)],
    dependencies: [.package(name: "Scuttleboard", path: "../")],
    targets: [
        .executableTarget(
            name: "WireFuzzer",
            dependencies: [
                .product(name: "Wire", package: "Scuttleboard"),
                .product(name: "Whiteboard", package: "Scuttleboard"),
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
            ]
        )
    ],
    swiftLanguageModes: [.v6]
)
