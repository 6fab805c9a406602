// swift-tools-version: 6.0
import PackageDescription

/// libFuzzer targets for weightlab's untrusted-input parsers: the model readers (WeightFormats) and the
/// plan parser (Compression). A separate package so the main package, its CI and `swift test` are untouched.
/// Build with `swift build --sanitize=fuzzer --sanitize=address` (see README.md).
let package = Package(
    name: "weightlab-fuzz",
    platforms: [.macOS(.v13)],
    dependencies: [
        .package(name: "weightlab", path: ".."),
    ],
    targets: [
        .target(name: "FuzzSupport", dependencies: [.product(name: "WeightFormats", package: "weightlab")]),
        .executableTarget(name: "FuzzSafetensors", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzGGUF", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzNpy", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzNpz", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzPickle", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzTorch", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzONNX", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzHDF5", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzTFLite", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzTensorBundle", dependencies: ["FuzzSupport"]),
        .executableTarget(name: "FuzzPlan", dependencies: [
            .product(name: "Compression", package: "weightlab"),
            .product(name: "WeightFormats", package: "weightlab"),
        ]),
    ]
)
