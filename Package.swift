// swift-tools-version: 6.0
import PackageDescription

/// Dependencies flow one way: WeightFormats <- Compression <- Workbench <- Runtime <- weightlab; Terminal is
/// the only importer of CNcursesw; Runtime runs the loop against a terminal protocol (no ncurses), and the
/// executable parses arguments and wires the real terminal to it. Evaluation (pure-Swift forward passes for
/// task-level metrics) depends on WeightFormats (and CKernels for its AVX2/FMA GEMM) only; TaskEval (metrics, ONNX Runtime, the `eval` pipeline) joins
/// Compression and Evaluation: WeightFormats <- Evaluation <- TaskEval <- weightlab. Training (recovery after
/// compression: backward passes, Adam, masks, QAT, distillation) builds on Evaluation's kernels, Compression's
/// codecs and TaskEval's data: Evaluation, Compression, TaskEval <- Training <- Runtime (the workbench's `F`), weightlab.
let package = Package(
    name: "weightlab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "weightlab", targets: ["weightlab"]),
        // For the fuzzing package in Fuzz/ (its own Package.swift), which depends on this one by path.
        .library(name: "WeightFormats", targets: ["WeightFormats"]),
        .library(name: "Compression", targets: ["Compression"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
    ],
    targets: [
        .systemLibrary(name: "CNcursesw", path: "Sources/CNcursesw", pkgConfig: "ncursesw",
                       providers: [.apt(["libncursesw5-dev"])]),
        .target(name: "WeightFormats",
                dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation"), "CKernels"]),
        // AVX2 kernels for the hot loops of Compression, Evaluation and WeightFormats' decoders, each function compiled with a target attribute and called
        // only after a run-time CPU check, so the binary stays portable to baseline x86-64 (and other CPUs).
        // Optimised in debug builds too: Evaluation's GEMM runs here, and the training tests run real epochs on it.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),
        .target(name: "Compression", dependencies: ["WeightFormats", "CKernels"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release))]),
        .target(name: "Workbench", dependencies: ["Compression", "WeightFormats"]),
        // Optimised in debug builds too: the training tests run real epochs through these kernels.
        .target(name: "Evaluation", dependencies: ["WeightFormats", "CKernels"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
                                .unsafeFlags(["-O"], .when(configuration: .debug))]),
        .target(name: "Terminal", dependencies: ["CNcursesw", "Workbench"]),
        .target(name: "Runtime", dependencies: ["Compression", "WeightFormats", "Workbench", "TaskEval", "Training"]),
        // Task-level evaluation: ONNX Runtime (loaded at run time, no link dependency), metrics, TaskRunner.
        .target(name: "TaskEval", dependencies: ["WeightFormats", "Compression", "Evaluation"]),
        // Recovery after compression: backward passes, Adam, masks, QAT and distillation over Evaluation's kernels.
        .target(name: "Training", dependencies: ["WeightFormats", "Compression", "Evaluation", "TaskEval"],
                swiftSettings: [.unsafeFlags(["-Ounchecked"], .when(configuration: .release)),
                                .unsafeFlags(["-O"], .when(configuration: .debug))]),
        .executableTarget(name: "weightlab", dependencies: [
            "WeightFormats", "Compression", "Workbench", "Terminal", "Runtime", "TaskEval", "Training",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // A child process for the AtomicFile crash test: writes slowly so the test can SIGKILL it mid-write.
        .executableTarget(name: "weightlab-atomic-probe", dependencies: ["WeightFormats"], path: "Sources/AtomicProbe"),
        .target(name: "TestSupport", dependencies: ["WeightFormats", "Compression", "Workbench", "Runtime"],
                path: "Tests/TestSupport"),
        .testTarget(name: "WeightFormatsTests",
                    dependencies: ["WeightFormats", "TestSupport", "weightlab-atomic-probe"]),
        .testTarget(name: "CompressionTests", dependencies: ["Compression", "WeightFormats", "TestSupport"]),
        .testTarget(name: "EvaluationTests", dependencies: ["Evaluation", "WeightFormats", "TestSupport"]),
        .testTarget(name: "WorkbenchTests", dependencies: ["Workbench", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Workbench", "Compression", "TaskEval", "TestSupport"]),
        .testTarget(name: "TerminalTests", dependencies: ["Terminal", "TestSupport"]),
        .testTarget(name: "TaskEvalTests", dependencies: ["TaskEval", "WeightFormats", "Compression", "TestSupport"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Evaluation", "TaskEval", "Compression", "WeightFormats", "TestSupport"]),
        .testTarget(name: "weightlabTests", dependencies: ["weightlab", "TestSupport", "WeightFormats", "Compression", "Runtime"]),
    ]
)
