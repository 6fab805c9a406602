import ArgumentParser
import Foundation
import TaskEval

/// `weightlab eval`: the model run on data, original against compressed (TaskEval does the work; this only
/// parses arguments and prints).
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the original and the compressed model on data: accuracy, flips and KL for classifiers, cosine and nearest-neighbour agreement for embedders, output SQNR for any model.",
        discussion: "ONNX models run in ONNX Runtime, loaded at run time (pip install onnxruntime; or --ort-lib / WEIGHTLAB_ORT_LIB).")

    @Argument(help: "An ONNX model (run in ONNX Runtime), or any model with --arch.")
    var model: String

    @Option(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(help: "An .npz with one array per model input (named as the input) and optional integer 'labels', or a text file of sentences (one per line, # comments) for an encoder, e.g. Examples/eval/sentences.txt.")
    var data: String

    @Option(help: "An importance matrix (llama.cpp GGUF imatrix or legacy .dat; else the plan's \"imatrix\"), as for open/apply/compare.")
    var imatrix: String?

    @OptionGroup var runtime: ModelRunFlags

    @Option(help: "table, json or csv.")
    var format: OutputFormat = .table

    @Option(help: "Samples per forward pass (default: all at once).")
    var batch: Int?

    @Option(help: "classifier, embedder or output (default: classifier with labels, embedder for other [samples, width] outputs).")
    var task: String?

    func validate() throws {
        if let batch, batch < 1 { throw ValidationError("--batch must be at least 1") }
        if let task, TaskReport.Kind(rawValue: task) == nil {
            throw ValidationError("--task: expected \(TaskReport.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let report: TaskReport
        do {
            let kind = task.flatMap(TaskReport.Kind.init(rawValue:))
            if let architecture = runtime.architecture {
                report = try TaskEvaluation.runSwift(modelPath: model, planPath: plan, dataPath: data,
                                                     architecturePath: architecture, kind: kind, batch: batch,
                                                     imatrix: imatrix, tokenizer: runtime.tokenizer)
            } else {
                report = try TaskEvaluation.runONNX(modelPath: model, planPath: plan, dataPath: data,
                                                    kind: kind, batch: batch, ortLibrary: runtime.ortLib, imatrix: imatrix,
                                                    tokenizer: runtime.tokenizer)
            }
        } catch {
            Failure.exit(error)
        }
        print(EvalOutput.text(report, format: format), terminator: "")
    }
}

/// The printed forms of a `TaskReport` (shared by `eval` and `report --eval-data`).
enum EvalOutput {
    static func number(_ v: Double) -> String {
        v.isFinite ? String(format: "%.6g", v) : (v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf"))
    }

    static func text(_ r: TaskReport, format: OutputFormat) -> String {
        switch format {
        case .table:
            var out = "task: \(r.kind.rawValue), output '\(r.output)', \(r.samples) samples\n"
            let width = r.columns.map(\.key.count).max() ?? 0
            for c in r.columns {
                out += c.key.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + number(c.value) + "\n"
            }
            return out
        case .json:
            return json(r).text() + "\n"
        case .csv:
            return (["task", "output", "samples"] + r.columns.map(\.key)).joined(separator: ",") + "\n"
                + ([r.kind.rawValue, r.output, String(r.samples)] + r.columns.map { number($0.value) }).joined(separator: ",") + "\n"
        }
    }

    static func json(_ r: TaskReport) -> JSONValue {
        .object([("task", .string(r.kind.rawValue)), ("output", .string(r.output)), ("samples", .int(r.samples))]
                + r.columns.map { ($0.key, JSONValue.number($0.value)) })
    }
}
