import Compression
import Foundation
import TaskEval
import Training
import WeightFormats
import Workbench

/// What the workbench's recovery (`F`) trains on: `open --data D [--eval-data E] --arch A [--train-limit N]`,
/// read as `weightlab recover` reads them (TrainingSet.load), with recover's default training options.
public struct RecoverySetup: Sendable {
    public var dataPath: String
    public var evalDataPath: String?
    /// The architecture description; nil when `open` had no `--arch` (recovery then says so).
    public var architecturePath: String?
    /// Train on the first N samples only.
    public var limit: Int?
    public var options: TrainingOptions

    public init(dataPath: String, evalDataPath: String? = nil, architecturePath: String?, limit: Int? = nil,
                options: TrainingOptions = TrainingOptions(epochs: 1, batchSize: 32, learningRate: 2e-3, seed: 0)) {
        self.dataPath = dataPath
        self.evalDataPath = evalDataPath
        self.architecturePath = architecturePath
        self.limit = limit
        self.options = options
    }
}

/// The `recover` job: the plan on screen written to a temporary plan file and given to `Recovery.run` (the
/// same code as `weightlab recover`), the recovered model written to a temporary safetensors file that is
/// kept (its path is shown) so the user can copy it; progress in batches, cancelled between batches.
enum RecoveryJob {
    /// `directory` makes the job's own directory (a new temporary one; tests give one they can look into).
    static func run(planText: String, setup: RecoverySetup?, model: Model, token: CancellationToken,
                    directory makeDirectory: () throws -> String = TaskMetricJob.temporaryDirectory,
                    progress: @escaping @Sendable (TrainingProgress) -> Void) -> Result<JobResult, EvaluationFailure> {
        guard let setup else {
            return .failure(EvaluationFailure(message: "no training data: open the workbench with --data D --arch A (an MLP/CNN) to recover"))
        }
        guard let architecture = setup.architecturePath else {
            return .failure(EvaluationFailure(message: "recovery trains with weightlab's kernels: open with --arch A (the architecture JSON)"))
        }
        do {
            let directory = try makeDirectory()
            let planPath = directory + "/plan.json"
            let report: RecoveryReport
            do {
                // Only the recovered model is kept: the plan goes when the job ends, the whole directory when it fails.
                defer { try? FileManager.default.removeItem(atPath: planPath) }
                try AtomicFile.write(planText, to: planPath, overwrite: true, inputs: model.sourceFiles)
                let sets = try TrainingSet.load(data: setup.dataPath, evalPath: setup.evalDataPath, limit: setup.limit)
                let request = Recovery.Request(modelPath: model.path, planPath: planPath, architecturePath: architecture,
                                               trainData: sets.train, evalData: sets.eval, output: directory + "/recovered.safetensors",
                                               container: SafetensorsModelWriter.name, overwrite: false, options: setup.options)
                report = try Recovery.run(request) { p in
                    progress(p)
                    return !token.isCancelled
                }
            } catch {
                try? FileManager.default.removeItem(atPath: directory)
                throw error
            }
            return .success(.recovered(RecoveryScore(original: report.accuracyOriginal, compressed: report.accuracyCompressed,
                                                     recovered: report.accuracyRecovered, bytesCompressed: report.bytesCompressed,
                                                     output: report.output, seconds: report.seconds)))
        } catch let e as EvalError {
            return .failure(EvaluationFailure(message: e.message))
        } catch let e as ModelError {
            return .failure(EvaluationFailure(message: e.description))
        } catch {
            return .failure(EvaluationFailure(message: ErrorText.plain(error)))
        }
    }
}
