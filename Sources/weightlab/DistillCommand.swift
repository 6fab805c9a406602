import ArgumentParser
import Compression
import Foundation
import TaskEval
import Training

/// `weightlab distill`: a small student trained from a teacher's soft outputs, beside the same student trained
/// without the teacher (the baseline distillation has to beat).
struct Distill: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a student MLP with a teacher (knowledge distillation) and the same student without it, and report both.",
        discussion: "Loss alpha·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1−alpha)·cross-entropy; alpha and T from --plan's \"distill\" section, else --alpha/--temperature.")

    @Option(help: "The teacher model.")
    var teacher: String

    @Option(name: .customLong("teacher-arch"), help: "The teacher's architecture description (JSON, sequential layers).")
    var teacherArchitecture: String

    @Option(name: .customLong("student-arch"), help: "The student MLP's layer sizes, e.g. 784-64-10.")
    var studentArchitecture: String

    @Option(help: "Training data: an IDX directory (its train split) or an .npz.")
    var data: String

    @Option(name: .customLong("eval-data"), help: "Evaluation data (default: the IDX directory's t10k split, else --data).")
    var evalData: String?

    @Option(help: "A plan whose \"distill\" section gives alpha and T.")
    var plan: String?

    @Option(help: "Weight of the teacher term (default 0.7).")
    var alpha: Double?

    @Option(help: "Softmax temperature (default 4).")
    var temperature: Double?

    @OptionGroup var training: TrainingFlags

    @Option(name: [.short, .customLong("output")], help: "Where to write the distilled student (safetensors).")
    var output: String

    @Flag(help: "Replace OUT if it exists.")
    var force = false

    func validate() throws {
        if let alpha, !(0...1).contains(alpha) { throw ValidationError("--alpha must be within 0…1") }
        if let temperature, !(temperature > 0 && temperature <= 100) { throw ValidationError("--temperature must be within (0, 100]") }
    }

    func run() throws {
        let report: DistillationReport
        do {
            let fromPlan = try plan.map { try PlanEvaluation.load($0).distill } ?? nil
            let settings = Distillation(alpha: alpha ?? fromPlan?.alpha ?? 0.7, temperature: temperature ?? fromPlan?.temperature ?? 4)
            let sizes = try StudentDistillation.sizes(studentArchitecture)
            let sets = try TrainingSet.load(data: data, evalPath: evalData, limit: training.limit)
            let line = TrainingProgressLine()
            report = try StudentDistillation.run(teacherPath: teacher, teacherArchitecture: teacherArchitecture, studentSizes: sizes,
                                                 train: sets.train, eval: sets.eval, distillation: settings,
                                                 options: training.options(defaultLearningRate: 1e-3),
                                                 output: output, overwrite: force) { what, p in line.show(what, p); return true }
            line.clear()
        } catch {
            Failure.exit(error)
        }
        print(TrainingOutput.distillation(report))
    }
}
