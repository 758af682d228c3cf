// swift-tools-version: 6.1
import PackageDescription

// libFuzzer targets for the protocol v1 decoder and the board's action and
// snapshot codecs, kept out of the main build: they only link with
// `swift build --sanitize=fuzzer`. Run `Scripts/fuzz.sh wire` or
// `Scripts/fuzz.sh board`.
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
        ),
        .executableTarget(
            name: "BoardCodecFuzzer",
            dependencies: [
                .product(name: "Whiteboard", package: "Scuttleboard"),
                .product(name: "Scuttlebutt", package: "Scuttleboard"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
