import ArgumentParser
import Foundation
import WeightFormats

@main
struct Weightlab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weightlab",
        abstract: "A terminal workbench for model compression: inspect weights, try pruning and quantization plans, see the error and size they give.",
        usage: """
        weightlab [MODEL] [--plan PLAN] [--strict] [--theme NAME|PATH]
          weightlab <subcommand> [options]
        """,
        discussion: """
        With no subcommand weightlab opens MODEL (default: the bundled Silero VAD example) in the workbench; \
        `w` there saves the plan to --plan's path. Examples:
          weightlab model.safetensors --plan plan.json
          weightlab report model.gguf --plan plan.json
          weightlab inspect model.safetensors --json
          weightlab compare model.safetensors model-q4.gguf --map llama
        """,
        version: Weightlab.version,
        subcommands: [Open.self, Inspect.self, Report.self, Apply.self, Compare.self, PlanCommand.self, Bench.self, Solve.self, Sweep.self, Eval.self, Recover.self, Distill.self, ExportRecovery.self],
        defaultSubcommand: Open.self
    )

    /// Printed by `--version`.
    static let version = "weightlab 0.1.0"
}

/// The bundled example model, found next to the executable's source tree or the working directory.
enum BundledExample {
    static let relativePath = "Examples/silero-vad/silero_vad_16k.safetensors"

    /// Where weightlab's own files (Examples/, Themes/) may be: the working directory, then the source tree
    /// the executable was built from.
    static var roots: [String] {
        [FileManager.default.currentDirectoryPath,
         URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path]
    }

    static var path: String {
        for base in roots {
            let p = (base as NSString).appendingPathComponent(relativePath)
            if FileManager.default.fileExists(atPath: p) { return p }
        }
        return relativePath
    }
}

/// Every user-facing failure ends here: one line on stderr, exit code 2.
enum Failure {
    static func exit(_ error: any Error) -> Never {
        let text: String
        switch error {
        case let e as ModelError: text = e.description
        case let e as CustomStringConvertible: text = e.description
        default: text = String(describing: error)
        }
        FileHandle.standardError.write(Data(("weightlab: " + text + "\n").utf8))
        Foundation.exit(2)
    }
}
