import Foundation
import WeightFormats

/// `weightlab apply`: a plan written into a model file, verified before it is put in place. The library the
/// command and the workbench's write key call; the containers are the rows of `ModelWriters.all`.
public enum ModelApply {
    /// What `apply` did.
    public struct Outcome: Sendable {
        public let output: String
        /// The container's `--to` name.
        public let container: String
        public let tensors: [WrittenTensor]
        /// The output file's size.
        public let bytesWritten: Int
        /// Whether the output was reopened and checked against the engine's reconstruction (false: skipped).
        public let verified: Bool
        /// Values compared when verified.
        public let verifiedValues: Int
        /// The plan's numbers (the numbers model, as `report` prints them), when verified or asked for.
        public internal(set) var evaluation: PlanEvaluation?
        /// Rules of the plan that matched no tensor (an error instead with `strict`).
        public internal(set) var warnings: [PlanError] = []
    }

    /// Loads the plan and the model, then applies (see the other `run`).
    /// A rule that matches no tensor is a warning in the outcome, or with `strict` an error (as for `report`).
    /// `imatrixPath` (else the plan's `imatrix`) names an importance matrix, checked against the model: ggml
    /// types are quantized with ggml's imatrix path and the numbers carry the importance-weighted error.
    public static func run(modelPath: String, planPath: String, output: String, container: String?,
                           overwrite: Bool, verify: Bool, numbers: Bool, diagnose: Bool = false, strict: Bool = false,
                           imatrixPath: String? = nil,
                           progress: @escaping @Sendable (ApplyProgress) -> Void = { _ in }) throws -> Outcome {
        var plan = try PlanEvaluation.load(planPath)
        let model = try ModelFile.open(modelPath)
        let importance = try ImportanceMatrix.forCommand(override: imatrixPath, plan: plan, planPath: planPath, model: model)
        if let imatrixPath { plan.imatrix = ImportanceMatrix.absolute(imatrixPath) }   // a preset's choices depend on whether there is one
        let resolution = try PlanEvaluation.resolution(plan, for: model, strict: strict)
        try ImportanceRequirement.checkEntries(resolution.settings, model: model, preset: plan.preset, importance: importance)
        var outcome = try run(model: model, settings: resolution.settings, planText: plan.jsonText(), output: output,
                              container: container, overwrite: overwrite, verify: verify, numbers: numbers, diagnose: diagnose,
                              engine: Engine(model: model, scheduler: ImmediateScheduler(), importance: importance),
                              progress: progress)
        outcome.warnings = resolution.warnings
        outcome.evaluation?.warnings = resolution.warnings
        outcome.evaluation?.skipped = resolution.skipped
        return outcome
    }

    /// Writes `model` with `settings` (one per tensor) to `output` in `container` (a `--to` name; nil: the
    /// model's own format when it can be written, else safetensors).
    ///
    /// Refused before anything is written (`ApplyError.Kind.plan`): a container that cannot take the model or
    /// hold a setting, an output that is an input (or would join an input directory's files), an existing
    /// output without `overwrite`. Failures while writing or verifying (`.write`) leave no output and no
    /// temporary file. `numbers`: compute the plan's numbers even when not verifying. `diagnose`: with the
    /// numbers, each layer's diagnostics (`PlanEvaluation.diagnostics()`), gathered from the values the write
    /// and verify passes decode, so only tensors copied unchanged are read again for them.
    public static func run(model: Model, settings: [LayerSettings], planText: String, output: String,
                           container: String?, overwrite: Bool, verify: Bool, numbers: Bool, diagnose: Bool = false,
                           engine: Engine? = nil, cancel: CancellationToken = CancellationToken(),
                           progress: @escaping @Sendable (ApplyProgress) -> Void = { _ in }) throws -> Outcome {
        precondition(settings.count == model.tensors.count)
        let writer: any ModelWriter.Type
        if let container {
            guard let w = ModelWriters.named(container) else {
                throw ApplyError(.plan, "unknown container '\(DisplayText.escaped(container))' (expected \(ModelWriters.names.joined(separator: ", ")))")
            }
            writer = w
        } else {
            writer = ModelWriters.defaultWriter(for: model, output: output)
        }
        if let r = writer.refusal(for: model) { throw ApplyError(.plan, r) }
        if let e = ModelWriters.misfitError(writer, model: model, settings: settings) { throw e }
        try checkOutput(output, model: model, overwrite: overwrite)

        let engine = engine ?? Engine(model: model, scheduler: ImmediateScheduler())
        let job = ApplyJob(model: model, settings: settings, output: output, overwrite: overwrite, verifies: verify,
                           planText: planText, engine: engine, cancel: cancel, diagnoses: diagnose && verify,
                           progress: progress)
        let written: [WrittenTensor]
        do {
            written = try writer.write(job)
        } catch let e as ApplyError {
            throw e
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            throw ApplyError(.write, String(describing: error))
        }
        var evaluation: PlanEvaluation? = nil
        if verify {
            evaluation = PlanEvaluation(model: model, settings: settings, evaluations: job.evaluations)
            if diagnose { evaluation?.firstPassDiagnostics = job.diagnostics }
        } else if numbers {
            evaluation = try PlanEvaluation(model: model, settings: settings, engine: engine, diagnose: diagnose, cancel: cancel)
        }
        var st = stat()
        let size = stat(output, &st) == 0 ? Int(st.st_size) : 0
        return Outcome(output: output, container: writer.name, tensors: written, bytesWritten: size, verified: verify,
                       verifiedValues: job.verifiedValues, evaluation: evaluation)
    }

    /// The output path a model is written to by default: beside `base` (the plan or the model), named for the
    /// model with `-weightlab` and the container's extension.
    public static func defaultOutput(model: String, beside base: String, container: String) -> String {
        let ext = ModelWriters.named(container)?.fileExtension ?? container
        var name = (model as NSString).lastPathComponent
        // Every format's own ending, longest first (".safetensors.index.json" before ".safetensors").
        let suffixes = ModelReaders.all.flatMap { $0.fileExtensions }.sorted { $0.count > $1.count }
        for suffix in suffixes where name.hasSuffix(suffix) {
            name = String(name.dropLast(suffix.count))
            break
        }
        let directory = (base as NSString).deletingLastPathComponent
        let file = name + "-weightlab." + ext
        return directory.isEmpty ? file : (directory as NSString).appendingPathComponent(file)
    }

    /// Refuses an output that is one of the model's files, that would land in a directory the model was
    /// read from as a whole (it would become part of that model), or that exists without `overwrite`.
    static func checkOutput(_ output: String, model: Model, overwrite: Bool) throws {
        var out = stat()
        let exists = stat(output, &out) == 0
        if exists {
            for input in model.sourceFiles {
                var other = stat()
                if stat(input, &other) == 0, other.st_dev == out.st_dev, other.st_ino == out.st_ino {
                    throw ApplyError(.plan, "\(DisplayText.escaped(output)): is an input of this command; refusing to write over it")
                }
            }
        }
        if model.format == .directory {
            let parent = (output as NSString).deletingLastPathComponent
            var dir = stat(), input = stat()
            if stat(parent.isEmpty ? "." : parent, &dir) == 0, stat(model.path, &input) == 0,
               dir.st_dev == input.st_dev, dir.st_ino == input.st_ino {
                throw ApplyError(.plan, "\(DisplayText.escaped(output)): is inside the input directory '\(DisplayText.escaped(model.path))'; write it elsewhere")
            }
        }
        if exists && !overwrite {
            throw ApplyError(.plan, "\(DisplayText.escaped(output)): already exists; use --force to replace it")
        }
    }
}
