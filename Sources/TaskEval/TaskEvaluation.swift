import Foundation
import WeightFormats
import Compression

/// `weightlab eval`: the original and the compressed model run on the same inputs, their outputs compared
/// (`TaskMetrics`). The runner is a `TaskRunner`: ONNX Runtime for ONNX models here; a pure-Swift forward
/// pass can plug in through `compare`.
public enum TaskEvaluation {
    /// Runs `runner` over `data` in batches of `batch` samples (all at once when nil) and joins the outputs.
    /// `cancel` is polled between batches (a `CancellationError` then).
    public static func outputs(of runner: any TaskRunner, data: EvalData, batch: Int?,
                               cancel: CancellationToken = CancellationToken()) throws -> [String: EvalTensor] {
        let n = data.samples
        let size = max(1, min(batch ?? n, max(1, n)))
        var parts: [String: [EvalTensor]] = [:]
        var start = 0
        repeat {
            if cancel.isCancelled { throw CancellationError() }
            let end = min(n, start + size)
            var inputs: [String: EvalTensor] = [:]
            for name in runner.inputNames {
                guard let t = data.inputs[name] else {
                    throw EvalError("the data has no array '\(DisplayText.escaped(name))' for the model's input (have: \(data.inputs.keys.sorted().joined(separator: ", ")))")
                }
                inputs[name] = t.rows(start..<end)
            }
            for (k, v) in try runner.run(inputs) { parts[k, default: []].append(v) }
            start = end
        } while start < n
        var out: [String: EvalTensor] = [:]
        for (k, v) in parts {
            guard let j = EvalTensor.joined(v) else { throw EvalError("output '\(DisplayText.escaped(k))' is not batched on its first axis; use --batch equal to the sample count") }
            out[k] = j
        }
        return out
    }

    /// Runs both runners on `data` and compares the first float output. `kind` nil: classifier when the data
    /// has labels, embedder for other `[samples × width]` outputs, else output SQNR only.
    public static func compare(original: any TaskRunner, compressed: any TaskRunner, data: EvalData,
                               kind: TaskReport.Kind? = nil, batch: Int? = nil) throws -> TaskReport {
        let a = try outputs(of: original, data: data, batch: batch)
        let b = try outputs(of: compressed, data: data, batch: batch)
        guard let name = original.outputNames.first(where: { if case .float = a[$0]?.values { true } else { false } }),
              let x = a[name], let y = b[name], x.shape == y.shape else {
            throw EvalError("the model has no float output that both runs produced with the same shape")
        }
        return try report(output: name, original: x, compressed: y, labels: data.labels, kind: kind)
    }

    /// The metrics of one output pair.
    public static func report(output: String, original x: EvalTensor, compressed y: EvalTensor, labels: [Int64]?,
                              kind: TaskReport.Kind?) throws -> TaskReport {
        let xa = x.floats, ya = y.floats
        let rows = x.shape.first ?? 1
        let width = x.shape.count == 2 ? x.shape[1] : 0
        let k = kind ?? (width > 0 ? (labels != nil ? .classifier : .embedder) : .output)
        var r = TaskReport(kind: k, output: output, samples: rows, sqnr: TaskMetrics.sqnr(original: xa, compressed: ya))
        switch k {
        case .classifier:
            guard width > 0 else { throw EvalError("output '\(DisplayText.escaped(output))' has shape \(x.shape); a classifier's logits are [samples, classes]") }
            if let labels {
                guard labels.count == rows else { throw EvalError("\(labels.count) labels for \(rows) samples") }
                r.accuracyOriginal = TaskMetrics.accuracy(logits: xa, width: width, labels: labels)
                r.accuracyCompressed = TaskMetrics.accuracy(logits: ya, width: width, labels: labels)
            }
            r.flipRate = TaskMetrics.flipRate(original: xa, compressed: ya, width: width)
            r.meanKL = TaskMetrics.meanKL(original: xa, compressed: ya, width: width)
        case .embedder:
            guard width > 0 else { throw EvalError("output '\(DisplayText.escaped(output))' has shape \(x.shape); embeddings are [samples, width]") }
            let c = TaskMetrics.rowCosines(xa, ya, width: width)
            r.cosineMean = c.isEmpty ? .nan : c.reduce(0, +) / Double(c.count)
            r.cosineMin = c.min() ?? .nan
            if rows > 1 { r.neighbourAgreement = TaskMetrics.neighbourAgreement(original: xa, compressed: ya, width: width) }
        case .output:
            break
        }
        return r
    }

    /// The whole `eval` for an ONNX model: loads the plan and the model, writes the compressed model (the
    /// engine's reconstruction substituted for each planned float initializer) to a temporary file (beside the
    /// model when it keeps external data), runs both in ONNX Runtime and compares them. `imatrix` overrides the
    /// plan's importance matrix, as for `apply`.
    public static func runONNX(modelPath: String, planPath: String, dataPath: String, kind: TaskReport.Kind? = nil,
                               batch: Int? = nil, ortLibrary: String? = nil, imatrix: String? = nil,
                               tokenizer: String? = nil) throws -> TaskReport {
        try run(modelPath: modelPath, planPath: planPath, imatrix: imatrix, requireONNX: true,
                setup: TaskSetup(dataPath: dataPath, ortLibrary: ortLibrary, tokenizerPath: tokenizer, kind: kind, batch: batch))
    }

    /// `eval` for any setup: the plan resolved on the model, the evaluator prepared, the plan measured.
    public static func run(modelPath: String, planPath: String, imatrix: String? = nil, requireONNX: Bool = false,
                           setup: TaskSetup) throws -> TaskReport {
        if setup.dataPath.hasSuffix(".npz") { _ = try EvalData.load(setup.dataPath) }   // bad data is reported before anything heavy runs
        let plan = try PlanEvaluation.load(planPath)
        let model = try ModelFile.open(modelPath)
        if requireONNX && model.format != .onnx {
            throw EvalError("\(DisplayText.escaped(modelPath)): eval runs ONNX models through ONNX Runtime; this is \(model.format.rawValue)")
        }
        let importance = try ImportanceMatrix.forCommand(override: imatrix, plan: plan, planPath: planPath, model: model)
        let resolution = try PlanEvaluation.resolution(plan, for: model, strict: false)
        for (t, s) in zip(model.tensors, resolution.settings) where setup.architecturePath == nil && !s.isIdentity && !ElementEncoder.canEncode(t.dtype) {
            throw EvalError("'\(DisplayText.escaped(t.name))' is \(t.dtype); eval substitutes reconstructed values only into float initializers")
        }
        let evaluator = try TaskEvaluator(model: model, setup: setup)
        return try evaluator.evaluate(settings: resolution.settings,
                                      engine: Engine(model: model, scheduler: ImmediateScheduler(), importance: importance))
    }
}
