import Foundation
import WeightFormats

/// `weightlab export-recovery`: for models too big to fine-tune here (BERT-size, LLMs), everything the user's
/// own PyTorch needs to recover what a plan lost, in one directory written whole or not at all
/// (`AtomicFile.writeDirectory`):
///
/// - `weights.safetensors` — the compressed model as `apply --to safetensors` writes it (the input's names,
///   shapes and dtypes, values the engine's reconstruction, verified bit for bit before it is kept);
/// - `masks.safetensors` — one `uint8` tensor per pruned tensor, same name and shape: 1 kept, 0 pruned (a
///   weight that was exactly zero before pruning counts as pruned);
/// - `recovery.json` — per compressed tensor its plan settings and whether `recover.py` fake-quantizes it
///   (the int codec with min/max ranges, the engine's arithmetic), plus the distillation defaults;
/// - `plan.json` — the plan as resolved;
/// - `recover.py` — the generated fine-tuning script (`RecoverScriptTemplate`).
public enum RecoveryExport {
    public static let weightsName = "weights.safetensors"
    public static let masksName = "masks.safetensors"
    public static let manifestName = "recovery.json"
    public static let planName = "plan.json"
    public static let scriptName = "recover.py"
    /// In the order they are written; the script last.
    public static let fileNames = [planName, weightsName, masksName, manifestName, scriptName]

    /// Distillation defaults written into `recovery.json` (the script's `--alpha`, `--temperature` override
    /// them). α = 0 is plain fine-tuning with fixed masks; the teacher is the original model.
    public struct Distillation: Equatable, Sendable {
        public var alpha: Double
        public var temperature: Double
        public init(alpha: Double = 0, temperature: Double = 4) {
            self.alpha = alpha
            self.temperature = temperature
        }
    }

    /// What was written.
    public struct Outcome: Sendable {
        public let output: String
        public let tensors: Int
        /// Tensors with a mask in `masks.safetensors`.
        public let masked: [String]
        /// Tensors `recover.py` fake-quantizes during training.
        public let fakeQuantized: [String]
        /// Compressed tensors that `recover.py` trains in float (a codec other than int with min/max).
        public let floatTrained: [String]
        /// Values of `weights.safetensors` checked against the engine's reconstruction.
        public let verifiedValues: Int
        public internal(set) var warnings: [PlanError] = []
    }

    /// Loads the plan and the model and writes the export directory `output`.
    public static func run(modelPath: String, planPath: String, output: String, overwrite: Bool,
                           strict: Bool = false, distillation: Distillation = Distillation()) throws -> Outcome {
        let plan = try PlanEvaluation.load(planPath)
        let model = try ModelFile.open(modelPath)
        let resolution = try PlanEvaluation.resolution(plan, for: model, strict: strict)
        if let first = resolution.warnings.first, !resolution.settings.contains(where: { !$0.isIdentity }) {
            // Say why nothing is compressed: the plan's rules name no tensor of this model.
            throw ApplyError(.plan, "the plan compresses no tensor of '\(DisplayText.escaped(modelPath))': \(first.description)")
        }
        var outcome = try run(model: model, modelPath: modelPath, settings: resolution.settings, planText: plan.jsonText(),
                              output: output, overwrite: overwrite, extraInputs: [planPath], distillation: distillation)
        outcome.warnings = resolution.warnings
        return outcome
    }

    /// Writes the export of `model` under `settings`. Refused before anything is written (`ApplyError.Kind.plan`):
    /// settings that compress nothing, a model safetensors cannot hold, an output that exists (without
    /// `overwrite`), is a file, or holds an input.
    public static func run(model: Model, modelPath: String, settings: [LayerSettings], planText: String, output: String,
                           overwrite: Bool, extraInputs: [String] = [], distillation: Distillation = Distillation(),
                           engine: Engine? = nil) throws -> Outcome {
        precondition(settings.count == model.tensors.count)
        guard settings.contains(where: { !$0.isIdentity }) else {
            throw ApplyError(.plan, "the plan compresses no tensor of '\(DisplayText.escaped(modelPath))': nothing to recover")
        }
        guard distillation.alpha >= 0, distillation.alpha <= 1, distillation.temperature > 0,
              distillation.temperature.isFinite else {
            throw ApplyError(.plan, "distillation needs 0 ≤ alpha ≤ 1 and a temperature > 0")
        }
        if let r = SafetensorsModelWriter.refusal(for: model) { throw ApplyError(.plan, r) }
        let inputs = model.sourceFiles + extraInputs
        do {
            try AtomicFile.checkDirectoryTarget(output, overwrite: overwrite, inputs: inputs + [model.path])
        } catch let e as ModelError {
            throw ApplyError(.plan, e.description)
        }

        let engine = engine ?? Engine(model: model, scheduler: ImmediateScheduler())
        let masked = model.tensors.indices.filter { settings[$0].prune != .none }
        let entries = manifestEntries(model, settings)
        var verified = 0
        do {
            try AtomicFile.writeDirectory(output: output, names: fileNames, overwrite: overwrite, inputs: inputs + [model.path]) { staged in
                try AtomicFile.write(planText.hasSuffix("\n") ? planText : planText + "\n", to: staged(planName), overwrite: true)
                let job = ApplyJob(model: model, settings: settings, output: staged(weightsName), overwrite: true, verifies: true,
                                   planText: planText, engine: engine, cancel: CancellationToken(), progress: { _ in })
                _ = try SafetensorsModelWriter.writeFile(job, tensors: Array(model.tensors.indices), to: staged(weightsName),
                                                         metadata: [(SafetensorsModelWriter.planKey, planText)])
                verified = job.verifiedValues
                try writeMasks(job, masked, to: staged(masksName))
                try AtomicFile.write(manifest(modelPath: modelPath, entries: entries, distillation: distillation),
                                     to: staged(manifestName), overwrite: true)
                try AtomicFile.write(RecoverScriptTemplate.script(modelName: (modelPath as NSString).lastPathComponent, entries: entries,
                                                                  distillation: distillation),
                                     to: staged(scriptName), overwrite: true)
            }
        } catch let e as ApplyError {
            throw e
        } catch let e as ModelError {
            throw ApplyError(.write, e.description)
        }
        return Outcome(output: output, tensors: model.tensors.count, masked: masked.map { model.tensors[$0].name },
                       fakeQuantized: entries.filter(\.fakeQuantized).map(\.name),
                       floatTrained: entries.filter { $0.quantize != nil && !$0.fakeQuantized }.map(\.name),
                       verifiedValues: verified)
    }

    /// One compressed tensor as `recovery.json` and the script's header describe it.
    public struct Entry: Equatable, Sendable {
        public var name: String
        public var shape: [Int]
        public var masked: Bool
        /// The plan's quantize section for it (JSON object text), nil when it is only pruned.
        public var quantize: String?
        /// The codec's short label ("int4 ch", "nf4 g64"), nil when it is only pruned.
        public var label: String?
        /// Whether `recover.py` fake-quantizes it: the int codec with min/max ranges, whose arithmetic the
        /// script reproduces exactly. Other codecs (and percentile/MSE clipping) are trained in float.
        public var fakeQuantized: Bool
    }

    static func manifestEntries(_ model: Model, _ settings: [LayerSettings]) -> [Entry] {
        model.tensors.indices.compactMap { i in
            let s = settings[i]
            guard !s.isIdentity else { return nil }
            var fakeQuantized = false
            if case .int(_, _, _, .minmax) = s.quantize { fakeQuantized = true }
            return Entry(name: model.tensors[i].name, shape: model.tensors[i].shape, masked: s.prune != .none,
                         quantize: s.quantize == .none ? nil : PlanJSON.quantize(s.quantize), label: s.quantize.codec?.label,
                         fakeQuantized: fakeQuantized)
        }
    }

    /// `recovery.json`: one line per tensor, so a diff shows what changed.
    static func manifest(modelPath: String, entries: [Entry], distillation: Distillation) -> String {
        let tensors = entries.map { e in
            "    {\"name\": \(JSONText.quoted(e.name)), \"shape\": [\(e.shape.map(String.init).joined(separator: ", "))], "
                + "\"masked\": \(e.masked), \"quantize\": \(e.quantize ?? "null"), \"fake_quant\": \(e.fakeQuantized)}"
        }
        return """
            {
              "format": "weightlab-recovery",
              "version": 1,
              "model": \(JSONText.quoted(modelPath)),
              "weights": \(JSONText.quoted(weightsName)),
              "masks": \(JSONText.quoted(masksName)),
              "plan": \(JSONText.quoted(planName)),
              "distillation": {"alpha": \(PlanJSON.number(distillation.alpha)), "temperature": \(PlanJSON.number(distillation.temperature))},
              "tensors": [
            \(tensors.joined(separator: ",\n"))
              ]
            }

            """
    }

    /// `masks.safetensors`: for each pruned tensor, 1 where the pruned weight is kept (non-zero), 0 where it
    /// was pruned, computed piece by piece with the same global cut as the weights.
    static func writeMasks(_ job: ApplyJob, _ indices: [Int], to path: String) throws {
        let entries = indices.map { SafetensorsWriter.TensorEntry(name: job.model.tensors[$0].name, dtype: .uint8, shape: job.model.tensors[$0].shape) }
        try SafetensorsWriter.write(to: path, tensors: entries, metadata: [("weightlab.mask", "1 kept, 0 pruned")], overwrite: true) { k, sink in
            let i = indices[k], s = job.settings[i]
            try job.writePieces(i, to: &sink) { shape, values, cut in
                ApplyJob.pruned(s, shape: shape, values: values, cut: cut).map { $0 != 0 ? 1 : 0 }
            }
        }
    }
}
