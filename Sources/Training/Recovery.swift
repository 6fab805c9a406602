import Foundation
import WeightFormats
import Compression
import Evaluation
import TaskEval

/// What `weightlab recover` measured: top-1 accuracy on the evaluation data of the original model, of the
/// compressed model before recovery (the engine's reconstruction, as `apply` writes it) and after recovery
/// (the written output, read back), with the plan's sizes.
public struct RecoveryReport: Sendable {
    public var samplesTrained: Int
    public var samplesEvaluated: Int
    public var epochs: Int
    public var accuracyOriginal: Double
    public var accuracyCompressed: Double
    public var accuracyRecovered: Double
    /// Quantization-aware training ran (the plan quantizes a trained weight).
    public var quantizationAware: Bool
    /// Pruning masks were kept fixed (the plan prunes a trained weight).
    public var masked: Bool
    public var distillation: Distillation?
    public var bytesOriginal: Int
    public var bytesCompressed: Int
    public var output: String
    public var bytesWritten: Int
    public var seconds: Double
}

/// Fine-tuning a compressed MLP/CNN back towards its original accuracy: masks from the plan's pruning fixed,
/// fake quantization in the forward pass when the plan quantizes (straight-through gradients), optionally
/// distilled from the original model (the plan's `distill`), then written through `apply`'s writers.
public enum Recovery {
    public struct Request: Sendable {
        public var modelPath: String
        public var planPath: String
        public var architecturePath: String
        public var trainData: TrainingSet
        public var evalData: TrainingSet
        public var output: String
        public var container: String?
        public var overwrite: Bool
        public var options: TrainingOptions
        public init(modelPath: String, planPath: String, architecturePath: String, trainData: TrainingSet, evalData: TrainingSet,
                    output: String, container: String? = nil, overwrite: Bool = false, options: TrainingOptions = TrainingOptions()) {
            self.modelPath = modelPath; self.planPath = planPath; self.architecturePath = architecturePath
            self.trainData = trainData; self.evalData = evalData; self.output = output; self.container = container
            self.overwrite = overwrite; self.options = options
        }
    }

    /// A sequential architecture from its JSON description; recovery trains MLPs and small CNNs only.
    public static func layers(_ architecturePath: String) throws -> [LayerSpec] {
        let architecture: Architecture
        do {
            architecture = try Architecture.parse(json: try Data(contentsOf: URL(fileURLWithPath: architecturePath)))
        } catch let e as EvaluationError {
            throw EvalError("\(DisplayText.escaped(architecturePath)): \(e.message)")
        } catch {
            throw EvalError("\(DisplayText.escaped(architecturePath)): cannot read the architecture description")
        }
        guard case .sequential(let layers) = architecture else {
            throw EvalError("\(DisplayText.escaped(architecturePath)): recovery trains sequential (MLP / CNN) networks; export larger models instead")
        }
        return layers
    }

    /// The whole `recover`. `progress` is called after every batch; returning false cancels (nothing written).
    public static func run(_ r: Request, progress: (TrainingProgress) -> Bool = { _ in true }) throws -> RecoveryReport {
        let start = Date()
        let layers = try Self.layers(r.architecturePath)
        let plan = try PlanEvaluation.load(r.planPath)
        let model = try ModelFile.open(r.modelPath)
        let importance = try ImportanceMatrix.forCommand(override: nil, plan: plan, planPath: r.planPath, model: model)
        let settings = try PlanEvaluation.resolution(plan, for: model, strict: false).settings
        let bySetting = Dictionary(zip(model.tensors.map(\.name), settings), uniquingKeysWith: { a, _ in a })
        let scratch = (NSTemporaryDirectory() as NSString).appendingPathComponent("weightlab-recover-\(UUID().uuidString)")
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let engine = Engine(model: model, scheduler: ImmediateScheduler(), importance: importance)

        let network = try wrap { try TrainableNetwork(layers: layers, weights: WeightTable(model: model)) }
        // The compressed model as apply writes it, and (when the plan prunes) the pruned-only model for the masks.
        let compressedPath = (scratch as NSString).appendingPathComponent("compressed.safetensors")
        _ = try ModelApply.run(model: model, settings: settings, planText: plan.jsonText(), output: compressedPath,
                               container: "safetensors", overwrite: true, verify: false, numbers: false, engine: engine)
        let compressed = try wrap { try TrainableNetwork(layers: layers, weights: WeightTable(model: try ModelFile.open(compressedPath))) }
        var masks: [String: [Float]] = [:]
        if network.parameters.contains(where: { bySetting[$0.name].map { $0.prune != .none } ?? false }) {
            let prunedPath = (scratch as NSString).appendingPathComponent("pruned.safetensors")
            let pruneOnly = settings.map { LayerSettings(prune: $0.prune, quantize: .none) }
            _ = try ModelApply.run(model: model, settings: pruneOnly, planText: plan.jsonText(), output: prunedPath,
                                   container: "safetensors", overwrite: true, verify: false, numbers: false, engine: engine)
            let pruned = try wrap { try TrainableNetwork(layers: layers, weights: WeightTable(model: try ModelFile.open(prunedPath))) }
            for p in pruned.parameters where bySetting[p.name].map({ $0.prune != .none }) ?? false {
                masks[p.name] = p.values.map { $0 == 0 ? 0 : 1 }
            }
        }
        var constraints: [Int: WeightConstraint] = [:]
        for (i, p) in network.parameters.enumerated() {
            guard let s = bySetting[p.name], !s.isIdentity else { continue }
            constraints[i] = WeightConstraint(shape: p.shape, mask: masks[p.name], quantize: s.quantize)
        }
        let distillation = plan.distill.map { Distillation(alpha: $0.alpha, temperature: $0.temperature) }
        let original = Trainer(network: network, options: r.options)
        let accuracyOriginal = try wrap { try original.accuracy(r.evalData) }
        let accuracyCompressed = try wrap { try Trainer(network: compressed, options: r.options).accuracy(r.evalData) }
        let teacher = try distillation.map { _ in try wrap { try original.logits(r.trainData) } }

        var trainer = Trainer(network: network, constraints: constraints, options: r.options)
        try wrap { try trainer.train(r.trainData, teacher: teacher, distillation: distillation, progress: progress) }

        // The trained weights (masked) into a scratch model, then the plan applied to it by apply's writers.
        let trainedPath = (scratch as NSString).appendingPathComponent("trained.safetensors")
        try writeWeights(model: model, trained: trainer.network.parameters, to: trainedPath)
        let trained = try ModelFile.open(trainedPath)
        let container = r.container ?? ModelWriters.defaultWriter(for: model, output: r.output).name
        let outcome = try ModelApply.run(model: trained, settings: try PlanEvaluation.resolution(plan, for: trained, strict: false).settings,
                                         planText: plan.jsonText(), output: r.output, container: container,
                                         overwrite: r.overwrite, verify: true, numbers: true,
                                         engine: Engine(model: trained, scheduler: ImmediateScheduler(), importance: importance))
        // Accuracy of what was written, read back (the number a user reproduces with `eval`).
        let written = try wrap { try TrainableNetwork(layers: layers, weights: WeightTable(model: try ModelFile.open(outcome.output))) }
        let accuracyRecovered = try wrap { try Trainer(network: written, options: r.options).accuracy(r.evalData) }
        let totals = try PlanEvaluation(model: model, settings: settings, engine: engine).totals
        return RecoveryReport(samplesTrained: r.trainData.count, samplesEvaluated: r.evalData.count, epochs: r.options.epochs,
                              accuracyOriginal: accuracyOriginal, accuracyCompressed: accuracyCompressed,
                              accuracyRecovered: accuracyRecovered,
                              quantizationAware: constraints.values.contains { $0.quantize != .none },
                              masked: !masks.isEmpty, distillation: distillation,
                              bytesOriginal: totals.bytesOriginal, bytesCompressed: totals.bytesCompressed,
                              output: outcome.output, bytesWritten: outcome.bytesWritten,
                              seconds: Date().timeIntervalSince(start))
    }

    /// Every tensor of `model` in a safetensors file, with the trained values in place of the parameters
    /// of the same name, each in its stored dtype (untrained non-float tensors copied byte for byte).
    static func writeWeights(model: Model, trained: [TrainParameter], to path: String) throws {
        let byName = Dictionary(trained.map { ($0.name, $0.values) }, uniquingKeysWith: { a, _ in a })
        let entries = model.tensors.map { SafetensorsWriter.TensorEntry(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        for t in model.tensors where byName[t.name] != nil && !ElementEncoder.canEncode(t.dtype) {
            throw EvalError("'\(DisplayText.escaped(t.name))' is \(t.dtype); recovery writes float weights only")
        }
        try SafetensorsWriter.write(to: path, tensors: entries, overwrite: true) { i, sink in
            let t = model.tensors[i]
            if let values = byName[t.name] {
                var bytes = [UInt8](repeating: 0, count: t.byteCount)
                values.withUnsafeBufferPointer { v in bytes.withUnsafeMutableBytes { ElementEncoder.encode(v, as: t.dtype, into: $0) } }
                try sink.write(bytes)
            } else {
                var bytes = [UInt8](repeating: 0, count: t.byteCount)
                try bytes.withUnsafeMutableBytes { try t.data.read(at: 0, into: $0) }
                try sink.write(bytes)
            }
        }
    }

    /// Evaluation-module errors as the one-line `EvalError` the CLI prints.
    static func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let e as EvaluationError { throw EvalError(e.message) }
    }
}
