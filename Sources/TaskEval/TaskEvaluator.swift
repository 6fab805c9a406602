import Foundation
import WeightFormats
import Compression
import Evaluation

/// Where a task metric's inputs come from — what `eval`, `report --eval-data`, `solve --eval-data` and the
/// workbench (`open --eval-data`) share.
public struct TaskSetup: Equatable, Sendable {
    /// An `.npz` of the model's inputs (and optional `labels`), or a text file of sentences (one per line) for
    /// an encoder.
    public var dataPath: String
    /// An architecture description: run the weights with weightlab's own kernels instead of ONNX Runtime.
    public var architecturePath: String?
    /// `libonnxruntime.so` (else WEIGHTLAB_ORT_LIB, else the onnxruntime Python package's).
    public var ortLibrary: String?
    /// `vocab.txt` or `tokenizer.json` for sentence data (else the one beside the model).
    public var tokenizerPath: String?
    public var kind: TaskReport.Kind?
    /// Samples per forward pass (all at once when nil).
    public var batch: Int?

    public init(dataPath: String, architecturePath: String? = nil, ortLibrary: String? = nil, tokenizerPath: String? = nil,
                kind: TaskReport.Kind? = nil, batch: Int? = nil) {
        self.dataPath = dataPath
        self.architecturePath = architecturePath
        self.ortLibrary = ortLibrary
        self.tokenizerPath = tokenizerPath
        self.kind = kind
        self.batch = batch
    }
}

/// A task evaluation prepared once and asked many times: the data loaded and the original model's outputs
/// computed at construction, so each plan costs one forward pass of its compressed weights. This is what the
/// workbench's task line recomputes when the plan changes and what `solve --eval-data` runs on frontier points.
public final class TaskEvaluator: @unchecked Sendable {
    public let model: Model
    public let setup: TaskSetup
    let data: EvalData
    let backend: Backend
    let originalOutputs: [String: EvalTensor]
    /// The output the metrics judge: the runner's first float output.
    public let outputName: String
    /// The original against itself: the reference values (accuracy of the original, …) without running twice.
    public let reference: TaskReport

    enum Backend {
        case onnx(ORTLibrary)
        case swift(Architecture, arrayInput: String?)
    }

    /// Loads the data (bad data is reported before anything heavy runs), picks the backend and runs the
    /// original model once.
    public init(model: Model, setup: TaskSetup, cancel: CancellationToken = CancellationToken()) throws {
        self.model = model
        self.setup = setup
        let data = try EvalData.load(setup.dataPath, tokenizer: { try Self.tokenizer(setup.tokenizerPath, model: model) })
        self.data = data
        let original: any TaskRunner
        if let architecturePath = setup.architecturePath {
            let architecture = try Self.architecture(architecturePath)
            var arrayInput: String? = nil
            if case .sequential = architecture {
                guard data.inputs.count == 1, let only = data.inputs.keys.first else {
                    throw EvalError("a sequential network reads one array; the data holds \(data.inputs.keys.sorted().joined(separator: ", "))")
                }
                arrayInput = only
            }
            backend = .swift(architecture, arrayInput: arrayInput)
            original = try SwiftNetworkRunner(architecture: architecture, weights: WeightTable(model: model), arrayInput: arrayInput)
        } else {
            guard let file = ONNXModelWriter.onnxFile(model) else {
                throw EvalError("\(DisplayText.escaped(model.path)): without --arch, eval runs ONNX models through ONNX Runtime; this is \(model.format.rawValue)")
            }
            let library = try ORTLibrary.load(explicit: setup.ortLibrary)
            backend = .onnx(library)
            original = try ORTSession(library: library, path: file)
        }
        let outputs = try TaskEvaluation.outputs(of: original, data: data, batch: setup.batch, cancel: cancel)
        guard let name = original.outputNames.first(where: { if case .float = outputs[$0]?.values { true } else { false } }) else {
            throw EvalError("the model has no float output to compare")
        }
        originalOutputs = outputs
        outputName = name
        reference = try TaskEvaluation.report(output: name, original: outputs[name]!, compressed: outputs[name]!,
                                              labels: data.labels, kind: setup.kind)
    }

    /// Samples in the data.
    public var samples: Int { data.samples }

    /// The compressed model (`settings`, one per tensor, reconstructed by `engine`) run on the data and
    /// compared with the original's outputs. Throws `CancellationError` when `cancel` is set between batches.
    public func evaluate(settings: [LayerSettings], engine: Engine, cancel: CancellationToken = CancellationToken()) throws -> TaskReport {
        precondition(settings.count == model.tensors.count)
        let compressed: any TaskRunner
        switch backend {
        case .onnx(let library):
            // A model with external data is written beside its data files (its initializers are named relative
            // to its directory), as a hidden file removed as soon as ONNX Runtime has read it.
            let beside = Self.externalDataDirectory(model)
            let dir = beside ?? (NSTemporaryDirectory() as NSString).appendingPathComponent("weightlab-eval-\(UUID().uuidString)")
            if beside == nil { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            let path = (dir as NSString).appendingPathComponent(beside == nil ? "compressed.onnx" : ".weightlab-eval-\(UUID().uuidString).onnx")
            let token = InterruptCleanup.register(beside == nil ? dir : path, directory: beside == nil)
            defer {
                try? FileManager.default.removeItem(atPath: beside == nil ? dir : path)
                InterruptCleanup.unregister(token)
            }
            do {
                try ONNXModelWriter.writeReconstruction(model: model, settings: settings, engine: engine, output: path, cancel: cancel)
            } catch let e as ApplyError where beside != nil && !FileManager.default.isWritableFile(atPath: dir) {
                throw EvalError("the model keeps its weights in external data files, so the compressed copy is written beside them, but \(DisplayText.escaped(dir)) is not writable (\(e))")
            }
            if cancel.isCancelled { throw CancellationError() }
            compressed = try ORTSession(library: library, path: path)
        case .swift(let architecture, let arrayInput):
            let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("weightlab-eval-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            let token = InterruptCleanup.register(dir, directory: true)
            defer {
                try? FileManager.default.removeItem(atPath: dir)
                InterruptCleanup.unregister(token)
            }
            let path = (dir as NSString).appendingPathComponent("compressed.safetensors")
            _ = try ModelApply.run(model: model, settings: settings, planText: "{}", output: path, container: "safetensors",
                                   overwrite: true, verify: false, numbers: false, engine: engine, cancel: cancel)
            if cancel.isCancelled { throw CancellationError() }
            compressed = try SwiftNetworkRunner(architecture: architecture, weights: WeightTable(model: try ModelFile.open(path)),
                                                arrayInput: arrayInput)
        }
        let out = try TaskEvaluation.outputs(of: compressed, data: data, batch: setup.batch, cancel: cancel)
        guard let y = out[outputName], let x = originalOutputs[outputName], x.shape == y.shape else {
            throw EvalError("the compressed model's output '\(DisplayText.escaped(outputName))' is missing or has another shape")
        }
        return try TaskEvaluation.report(output: outputName, original: x, compressed: y, labels: data.labels, kind: setup.kind)
    }

    /// The directory an ONNX model's external data files are named relative to (its own), when it has any.
    static func externalDataDirectory(_ model: Model) -> String? {
        guard let file = ONNXModelWriter.onnxFile(model), let layout = try? ONNXModelLayout.read(file),
              layout.initializers.values.contains(where: \.isExternal) else { return nil }
        return (file as NSString).deletingLastPathComponent
    }

    /// The architecture description at `path`, or one error line.
    static func architecture(_ path: String) throws -> Architecture {
        do {
            return try Architecture.parse(json: try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let e as EvaluationError {
            throw EvalError("\(DisplayText.escaped(path)): \(e.message)")
        } catch {
            throw EvalError("\(DisplayText.escaped(path)): cannot read the architecture description")
        }
    }

    /// The tokenizer for sentence data: the given file, else `tokenizer.json` or `vocab.txt` beside the model
    /// (in its directory, or in the directory it is).
    static func tokenizer(_ explicit: String?, model: Model) throws -> WordPieceTokenizer {
        var candidates: [String] = []
        if let explicit { candidates = [explicit] } else {
            var isDirectory: ObjCBool = false
            let base = FileManager.default.fileExists(atPath: model.path, isDirectory: &isDirectory) && isDirectory.boolValue
                ? model.path : (model.path as NSString).deletingLastPathComponent
            candidates = ["tokenizer.json", "vocab.txt"].map { (base as NSString).appendingPathComponent($0) }
                .filter { FileManager.default.fileExists(atPath: $0) }
            guard !candidates.isEmpty else {
                throw EvalError("sentence data needs the model's tokenizer: no tokenizer.json or vocab.txt beside \(DisplayText.escaped(model.path)) (give --tokenizer)")
            }
        }
        do { return try WordPieceTokenizer(contentsOf: candidates[0]) } catch let e as EvaluationError { throw EvalError(e.message) }
    }
}
