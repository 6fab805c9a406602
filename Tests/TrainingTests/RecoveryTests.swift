import Foundation
import Testing
import TestSupport
import WeightFormats
import Compression
import Evaluation
import TaskEval
@testable import Training

/// The recovery claims on the committed Fashion-MNIST subset (2,000 train / 500 test samples) and the
/// committed 784-128-10 MLP. Thresholds from torch on the same data (fashion_mlp/recovery_calibration.json,
/// make_recovery_calibration.py): global 90 % pruning takes 87.8 % to 44.4 %; one epoch of masked fine-tuning
/// (batch 32, lr 2e-3) reaches 82.8–84.6 % in torch — 2,000 samples are not the 60,000 the dense model saw, so
/// the test allows 5 points where the full-data claim says 3; 3-bit QAT lifts 76.2 % to 85–86.6 %.
@Suite(.serialized) struct RecoveryTests {
    static let dir = Fixtures.path("fashion_mnist")
    static let model = Fixtures.path("fashion_mlp/fashion_mlp.safetensors")
    static let arch = Fixtures.path("fashion_mlp/fashion_mlp.json")

    static func data(_ split: String) throws -> TrainingSet {
        try TrainingSet(IDXData.load(dir, split: split), origin: dir)
    }

    static func reference() throws -> Double {
        struct R: Decodable { let accuracy_t10k_first500: Double }
        return try JSONDecoder().decode(R.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("fashion_mlp/reference.json")))).accuracy_t10k_first500
    }

    static func recover(_ plan: String) throws -> RecoveryReport {
        let out = NSTemporaryDirectory() + "weightlab-recover-test-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: out) }
        return try Recovery.run(Recovery.Request(modelPath: model, planPath: Fixtures.path("fashion_mlp/\(plan)"), architecturePath: arch,
                                                 trainData: data("train"), evalData: data("t10k"), output: out,
                                                 options: TrainingOptions(epochs: 1, batchSize: 32, learningRate: 2e-3, seed: 0)))
    }

    @Test func pruningThenOneEpochOfRecovery() throws {
        let r = try Self.recover("plan_global90.json")
        // The dense model evaluates as numpy computed it from the same file (1 sample of slack for summation order).
        #expect(abs(r.accuracyOriginal - (try Self.reference())) <= 0.002 + 1e-9)
        #expect(r.masked && !r.quantizationAware)
        #expect(r.accuracyOriginal - r.accuracyCompressed > 0.30, "pruning: \(r.accuracyOriginal) → \(r.accuracyCompressed)")
        #expect(r.accuracyRecovered >= r.accuracyOriginal - 0.05, "recovered \(r.accuracyRecovered) vs dense \(r.accuracyOriginal)")
        #expect(r.bytesCompressed < r.bytesOriginal)
    }

    /// The claim as stated, on the whole of Debian's dataset-fashion-mnist (60,000 training images,
    /// 10,000 test images; `.ci/run` installs it): 90 % pruning costs more than 30 points, and one epoch of
    /// masked fine-tuning comes back within 3 points of the dense model (the issue measured 86 → 32 → 87.5 % in torch).
    static let debianData = "/usr/share/datasets/fashion-mnist"
    @Test(.enabled(if: FileManager.default.fileExists(atPath: debianData + "/train-images-idx3-ubyte.gz"),
                   "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)"))
    func pruningThenOneEpochOfRecoveryOnTheFullDataset() throws {
        struct R: Decodable { let accuracy_t10k: Double }
        let reference = try JSONDecoder().decode(R.self, from: Data(contentsOf: URL(fileURLWithPath: Fixtures.path("fashion_mlp/reference.json")))).accuracy_t10k
        let out = NSTemporaryDirectory() + "weightlab-recover-test-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let d = Self.debianData
        let r = try Recovery.run(Recovery.Request(modelPath: Self.model, planPath: Fixtures.path("fashion_mlp/plan_global90.json"),
                                                  architecturePath: Self.arch,
                                                  trainData: TrainingSet(IDXData.load(d, split: "train"), origin: d),
                                                  evalData: TrainingSet(IDXData.load(d, split: "t10k"), origin: d), output: out,
                                                  options: TrainingOptions(epochs: 1, batchSize: 32, learningRate: 2e-3, seed: 0)))
        #expect(abs(r.accuracyOriginal - reference) <= 0.0005 + 1e-9)
        #expect(r.accuracyOriginal - r.accuracyCompressed > 0.30, "pruning: \(r.accuracyOriginal) → \(r.accuracyCompressed)")
        #expect(r.accuracyRecovered >= r.accuracyOriginal - 0.03, "recovered \(r.accuracyRecovered) vs dense \(r.accuracyOriginal)")
    }

    @Test func quantizationAwareTrainingRecovers() throws {
        let r = try Self.recover("plan_int3.json")
        #expect(r.quantizationAware && !r.masked)
        #expect(r.accuracyRecovered - r.accuracyCompressed > 0.05, "int3: \(r.accuracyCompressed) → \(r.accuracyRecovered)")
    }

    /// The forward pass of quantization-aware training sees exactly what `apply` writes: the constraint's
    /// effective weight equals the engine's reconstruction bit for bit (prune then int3).
    @Test func effectiveWeightIsTheEnginesReconstruction() throws {
        let table = WeightTable(model: try ModelFile.open(Self.model))
        let w = try table.array("fc2.weight")
        let settings = LayerSettings(prune: .sparsity(0.5), quantize: .int(bits: 3, symmetric: true, granularity: .channel, clip: .minmax))
        var engine = [Float](repeating: 0, count: w.count)
        try w.values.withUnsafeBufferPointer { v in
            try engine.withUnsafeMutableBufferPointer { o in _ = try LayerEvaluator.evaluate(settings, shape: w.shape, values: v, reconstruction: o) }
        }
        var pruned = [Float](repeating: 0, count: w.count)
        try w.values.withUnsafeBufferPointer { v in
            try pruned.withUnsafeMutableBufferPointer { o in
                _ = try LayerEvaluator.evaluate(LayerSettings(prune: .sparsity(0.5)), shape: w.shape, values: v, reconstruction: o)
            }
        }
        let c = WeightConstraint(shape: w.shape, mask: pruned.map { $0 == 0 ? 0 : 1 }, quantize: settings.quantize)
        #expect(try c.effective(w.values) == engine)
    }

    @Test func distillationAndBaselineBothReported() throws {
        let out = NSTemporaryDirectory() + "weightlab-distill-test-\(UUID().uuidString).safetensors"
        defer { try? FileManager.default.removeItem(atPath: out) }
        let r = try StudentDistillation.run(teacherPath: Self.model, teacherArchitecture: Self.arch, studentSizes: [784, 32, 10],
                                            train: Self.data("train"), eval: Self.data("t10k"),
                                            distillation: Distillation(alpha: 0.7, temperature: 4),
                                            options: TrainingOptions(epochs: 1, batchSize: 32, learningRate: 1e-3, seed: 0), output: out)
        // torch on the same setup: distilled 63.8 %, baseline 69.2 % after one epoch; chance is 10 %.
        #expect(r.accuracyDistilled > 0.4 && r.accuracyBaseline > 0.4, "\(r.accuracyDistilled) / \(r.accuracyBaseline)")
        #expect(r.accuracyDistilled != r.accuracyBaseline)
        #expect(r.studentParameters == 784 * 32 + 32 + 32 * 10 + 10)
        let written = try ModelFile.open(out)
        #expect(written.tensors.map(\.name).sorted() == ["fc1.bias", "fc1.weight", "fc2.bias", "fc2.weight"])
    }
}
