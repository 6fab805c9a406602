import Foundation
import WeightFormats
import Compression
import Evaluation
import TaskEval

/// What `weightlab distill` measured: the teacher, the student trained with the teacher's soft outputs, and
/// the same student (same initial weights, same batches) trained on labels alone — distillation is only worth
/// its cost when it beats that baseline, which it does not always do (distillation_options.md §3.5).
public struct DistillationReport: Sendable {
    public var studentSizes: [Int]
    public var studentParameters: Int
    public var teacherParameters: Int
    public var accuracyTeacher: Double
    public var accuracyDistilled: Double
    public var accuracyBaseline: Double
    public var distillation: Distillation
    public var output: String
    public var seconds: Double
}

public enum StudentDistillation {
    /// An MLP spec `784-64-10` as its layer sizes.
    public static func sizes(_ spec: String) throws -> [Int] {
        let parts = spec.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count >= 2, parts.allSatisfy({ ($0 ?? 0) > 0 && ($0 ?? 0) <= 1 << 16 }) else {
            throw EvalError("student architecture '\(DisplayText.escaped(spec))': expected layer sizes such as 784-64-10 (each 1…65536)")
        }
        return parts.map { $0! }
    }

    /// Trains the student of `studentSizes` twice from the same seed — with the teacher's cached logits and
    /// without — and writes the distilled student's weights (safetensors, `fc1.weight`, …) to `output`.
    public static func run(teacherPath: String, teacherArchitecture: String, studentSizes: [Int], train: TrainingSet,
                           eval: TrainingSet, distillation: Distillation, options: TrainingOptions, output: String,
                           overwrite: Bool = false, progress: (String, TrainingProgress) -> Bool = { _, _ in true }) throws -> DistillationReport {
        let start = Date()
        let features = train.sampleShape.reduce(1, *)
        guard studentSizes.first == features else {
            throw EvalError("the student's input size \(studentSizes[0]) does not match the data's \(features) features per sample")
        }
        let layers = try Recovery.layers(teacherArchitecture)
        let teacherModel = try ModelFile.open(teacherPath)
        let teacher = Trainer(network: try Recovery.wrap { try TrainableNetwork(layers: layers, weights: WeightTable(model: teacherModel)) },
                              options: options)
        let teacherLogits = try Recovery.wrap { try teacher.logits(train) }
        let accuracyTeacher = try Recovery.wrap { try teacher.accuracy(eval) }
        let student = try Recovery.wrap { try TrainableNetwork.mlp(sizes: studentSizes, seed: options.seed) }
        var distilled = Trainer(network: student, options: options)
        try Recovery.wrap { try distilled.train(train, teacher: teacherLogits, distillation: distillation, progress: { progress("distilled", $0) }) }
        var baseline = Trainer(network: student, options: options)
        try Recovery.wrap { try baseline.train(train, progress: { progress("baseline", $0) }) }
        let params = distilled.network.parameters
        try SafetensorsWriter.write(to: output, tensors: params.map { SafetensorsWriter.TensorEntry(name: $0.name, dtype: .float32, shape: $0.shape) },
                                    metadata: [("weightlab", "distilled student \(studentSizes.map(String.init).joined(separator: "-"))")],
                                    overwrite: overwrite) { i, sink in
            try params[i].values.withUnsafeBytes { try sink.write($0) }
        }
        return DistillationReport(studentSizes: studentSizes, studentParameters: params.reduce(0) { $0 + $1.values.count },
                                  teacherParameters: teacher.network.parameters.reduce(0) { $0 + $1.values.count },
                                  accuracyTeacher: accuracyTeacher,
                                  accuracyDistilled: try Recovery.wrap { try distilled.accuracy(eval) },
                                  accuracyBaseline: try Recovery.wrap { try baseline.accuracy(eval) },
                                  distillation: distillation, output: output, seconds: Date().timeIntervalSince(start))
    }
}
