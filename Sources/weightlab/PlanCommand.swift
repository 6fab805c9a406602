import ArgumentParser
import Compression
import Foundation
import WeightFormats

/// `weightlab plan …`: commands on plan files.
struct PlanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Work with plan files.",
        subcommands: [PlanExport.self])
}

struct PlanExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Export a plan for another tool: a llama-quantize tensor-type file and command line, or a compressed-tensors recipe.",
        discussion: """
            llama-quantize: a --tensor-type-file with one anchored pattern per tensor and the full llama-quantize \
            command (explicit --output-tensor-type and --token-embedding-type), so llama.cpp produces the plan's \
            per-tensor types. Without -o the file goes to stdout and the command to stderr. \
            compressed-tensors: the quantization_config for config.json (one config group per scheme, explicit \
            targets, the unquantized modules ignored). Settings the target cannot express are listed in one error.
            """)

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case llamaQuantize = "llama-quantize"
        case compressedTensors = "compressed-tensors"
    }

    @Argument(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(help: "The model the plan is for (its tensor names and shapes resolve the plan).")
    var model: String

    @Option(help: "llama-quantize or compressed-tensors.")
    var to: Target

    @Option(name: .shortAndLong, help: "Write the tensor-type file (llama-quantize) or the recipe (compressed-tensors) here.")
    var output: String?

    @Flag(help: "Replace an existing output file.")
    var force = false

    func run() throws {
        do {
            let m = try ModelFile.open(model)
            let settings = try PlanEvaluation.resolve(plan, for: m)
            let inputs = m.sourceFiles + [plan]
            switch to {
            case .llamaQuantize:
                let export = try LlamaQuantizeExport(model: m, settings: settings)
                try emitLlamaQuantize(export, model: m, inputs: inputs)
            case .compressedTensors:
                let schemes = try CompressedTensors.schemes(zip(m.tensors, settings).map { ($0.name, $0.shape, $1) })
                let recipe = CompressedTensors.quantizationConfig(zip(m.tensors, schemes).map { ($0.name, $0.shape, $1) })
                let text = try CompressedTensors.modelConfig(original: nil, recipe: recipe)
                if let output {
                    try AtomicFile.write(text, to: output, overwrite: force, inputs: inputs)
                    print("weightlab: wrote the quantization_config for \(schemes.compactMap { $0 }.count) modules to \(output)")
                } else {
                    print(text, terminator: "")
                }
            }
        } catch {
            Failure.exit(error)
        }
    }

    func emitLlamaQuantize(_ export: LlamaQuantizeExport, model m: Model, inputs: [String]) throws {
        let stem = ((m.path as NSString).lastPathComponent as NSString).deletingPathExtension
        let directory = (m.path as NSString).deletingLastPathComponent
        func beside(_ name: String) -> String { directory.isEmpty ? name : (directory as NSString).appendingPathComponent(name) }
        var notes: [String] = []
        let input: String
        if export.needsConversion, let conv = export.conversionType {
            input = beside("\(stem)-\(conv).gguf")
            var isDirectory: ObjCBool = false
            let modelDirectory = FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory) && isDirectory.boolValue
                ? model : (directory.isEmpty ? "." : directory)
            notes.append("convert the model first: python convert_hf_to_gguf.py \(LlamaQuantizeExport.shellWord(modelDirectory)) --outtype \(conv) --outfile \(LlamaQuantizeExport.shellWord(input))")
        } else {
            input = m.path
        }
        let out = beside("\(stem)-\(export.ftype).gguf")
        if let output {
            try AtomicFile.write(export.tensorTypeFile, to: output, overwrite: force, inputs: inputs)
            for n in notes { print("# " + n) }
            print(export.commandLine(input: input, output: out, typesFile: output))
        } else {
            print(export.tensorTypeFile, terminator: "")
            var err = notes.map { "# " + $0 + "\n" }.joined()
            err += "# save the lines above as tensor-types.txt, then:\n# " + export.commandLine(input: input, output: out, typesFile: "tensor-types.txt") + "\n"
            FileHandle.standardError.write(Data(err.utf8))
        }
    }
}
