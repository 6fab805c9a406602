import ArgumentParser
import Foundation
import TaskEval
import Training
import WeightFormats
import Workbench

/// `weightlab recover`: fine-tune a compressed MLP/CNN back towards its original accuracy (Training does the
/// work; this parses arguments and prints).
struct Recover: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fine-tune the compressed model on data (pruning masks fixed, quantization-aware when the plan quantizes, distilled when the plan has \"distill\") and write it through apply's writers.",
        discussion: "Prints accuracy original / after compression / after recovery and the sizes. --data: an IDX directory such as /usr/share/datasets/fashion-mnist (train split to train, t10k to evaluate) or an .npz with one float array and 'labels'.")

    @Argument(help: "The model (safetensors, .npz, … any format apply reads).")
    var model: String

    @Option(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(help: "Training data: an IDX directory (its train split) or an .npz.")
    var data: String

    @Option(name: .customLong("eval-data"), help: "Evaluation data (default: the IDX directory's t10k split, else --data).")
    var evalData: String?

    @Option(name: .customLong("arch"), help: "The architecture description (JSON, sequential layers).")
    var architecture: String

    @OptionGroup var training: TrainingFlags

    @Option(name: [.short, .customLong("output")], help: "The file to write.")
    var output: String

    @Option(name: .customLong("to"), help: "The container (default: the input's format when it can be written, else safetensors).")
    var container: String?

    @Flag(help: "Replace OUT if it exists (never an input).")
    var force = false

    func run() throws {
        let report: RecoveryReport
        do {
            let sets = try TrainingSet.load(data: data, evalPath: evalData, limit: training.limit)
            let request = Recovery.Request(modelPath: model, planPath: plan, architecturePath: architecture, trainData: sets.train,
                                           evalData: sets.eval, output: output, container: container, overwrite: force,
                                           options: training.options(defaultLearningRate: 2e-3))
            let line = TrainingProgressLine()
            report = try Recovery.run(request) { line.show("recovering", $0); return true }
            line.clear()
        } catch {
            Failure.exit(error)
        }
        print(TrainingOutput.recovery(report))
    }
}

/// A progress line on stderr while training (only on a terminal).
final class TrainingProgressLine {
    private let enabled = isatty(2) == 1
    private var last = Date.distantPast
    func show(_ what: String, _ p: TrainingProgress) {
        guard enabled, Date().timeIntervalSince(last) >= 0.1 || p.batch == p.batches else { return }
        last = Date()
        FileHandle.standardError.write(Data(String(format: "\r%@: epoch %d/%d, batch %d/%d, loss %.4f\u{1b}[K", what, p.epoch + 1, p.epochs,
                                                  p.batch, p.batches, p.meanLoss).utf8))
    }
    func clear() { if enabled { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) } }
}

enum TrainingOutput {
    static func percent(_ v: Double) -> String { v.isFinite ? String(format: "%.2f %%", v * 100) : "nan" }

    static func recovery(_ r: RecoveryReport) -> String {
        var how = [r.masked ? "masks fixed" : nil, r.quantizationAware ? "quantization-aware" : nil,
                   r.distillation.map { String(format: "distilled (alpha %g, T %g)", $0.alpha, $0.temperature) }].compactMap { $0 }
        if how.isEmpty { how = ["plain fine-tuning"] }
        return """
            accuracy: original \(percent(r.accuracyOriginal)), after compression \(percent(r.accuracyCompressed)), after recovery \(percent(r.accuracyRecovered)) (\(r.samplesEvaluated) samples)
            size: original \(Format.bytes(r.bytesOriginal)), compressed \(Format.bytes(r.bytesCompressed)) (the plan's numbers)
            recovery: \(r.epochs) epoch\(r.epochs == 1 ? "" : "s") on \(r.samplesTrained) samples, \(how.joined(separator: ", ")), \(String(format: "%.1f", r.seconds)) s
            wrote \(DisplayText.escaped(r.output)) (\(Format.bytes(r.bytesWritten)))
            """
    }

    static func distillation(_ r: DistillationReport) -> String {
        """
        teacher: \(percent(r.accuracyTeacher)) (\(r.teacherParameters) parameters)
        student \(r.studentSizes.map(String.init).joined(separator: "-")) (\(r.studentParameters) parameters): distilled \(percent(r.accuracyDistilled)), baseline without the teacher \(percent(r.accuracyBaseline)) (alpha \(r.distillation.alpha), T \(r.distillation.temperature))
        wrote \(DisplayText.escaped(r.output)) (the distilled student), \(String(format: "%.1f", r.seconds)) s
        """
    }
}
