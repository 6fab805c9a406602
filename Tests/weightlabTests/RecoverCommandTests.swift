import Foundation
import Testing
import TestSupport
import WeightFormats

/// `recover`, `distill` and `eval` on the committed Fashion-MNIST subset through the real binary: the printed
/// accuracies, the written model read back, and one-line errors with exit 2 on bad input.
@Suite struct RecoverCommandTests {
    static let f = Fixtures.path("fashion_mlp")
    static let data = Fixtures.path("fashion_mnist")

    func scratch() throws -> String {
        let d = NSTemporaryDirectory() + "weightlab-recover-cmd-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }

    @Test func recoverPrintsThreeAccuraciesAndWrites() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try CommandRunner.run(["recover", "\(Self.f)/fashion_mlp.safetensors", "--plan", "\(Self.f)/plan_global90.json",
                                       "--data", Self.data, "--arch", "\(Self.f)/fashion_mlp.json", "-o", d + "/out.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.hasPrefix("accuracy: original 87.80 %, after compression 44.40 %, after recovery "), "\(r.stdout)")
        #expect(r.stdout.contains("masks fixed"))
        // The written model: 90 % of the weight matrices' values are zero, biases untouched.
        let model = try ModelFile.open(d + "/out.safetensors")
        var zeros = 0, total = 0
        for t in model.tensors where t.shape.count == 2 {
            var v = [Float](repeating: 0, count: t.parameters)
            try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            zeros += v.filter { $0 == 0 }.count
            total += v.count
        }
        #expect(zeros == Int(0.9 * Double(total)))
        // `eval` reads the IDX directory's test split; an empty plan keeps the model as it is.
        let e = try CommandRunner.run(["eval", d + "/out.safetensors", "--plan", Fixtures.path("taskeval/plan_empty.json"),
                                       "--data", Self.data, "--arch", "\(Self.f)/fashion_mlp.json"])
        #expect(e.status == 0, "\(e.stderr)")
        #expect(e.stdout.contains("500 samples"))
        #expect(e.stdout.contains("flip_rate          0"))
    }

    @Test func distillReportsStudentAndBaseline() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        let r = try CommandRunner.run(["distill", "--teacher", "\(Self.f)/fashion_mlp.safetensors", "--teacher-arch", "\(Self.f)/fashion_mlp.json",
                                       "--student-arch", "784-16-10", "--data", Self.data, "-o", d + "/student.safetensors"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("teacher: 87.80 %"))
        #expect(r.stdout.contains("distilled ") && r.stdout.contains("baseline without the teacher "))
        #expect(FileManager.default.fileExists(atPath: d + "/student.safetensors"))
    }

    @Test func badInputIsOneLineAndExit2() throws {
        let d = try scratch()
        defer { try? FileManager.default.removeItem(atPath: d) }
        try Data([0, 0, 8, 1, 0, 0, 0, 9, 1]).write(to: URL(fileURLWithPath: d + "/x-images-idx3-ubyte"))
        try Data([0, 0, 8, 1, 0, 0, 0, 1, 1]).write(to: URL(fileURLWithPath: d + "/x-labels-idx1-ubyte"))
        for args in [["recover", "\(Self.f)/fashion_mlp.safetensors", "--plan", "\(Self.f)/plan_int3.json", "--data", d + "/x-images-idx3-ubyte",
                      "--arch", "\(Self.f)/fashion_mlp.json", "-o", d + "/o.safetensors"],
                     ["distill", "--teacher", "\(Self.f)/fashion_mlp.safetensors", "--teacher-arch", "\(Self.f)/fashion_mlp.json",
                      "--student-arch", "784-x-10", "--data", Self.data, "-o", d + "/s.safetensors"],
                     ["distill", "--teacher", "\(Self.f)/fashion_mlp.safetensors", "--teacher-arch", "\(Self.f)/fashion_mlp.json",
                      "--student-arch", "100-10", "--data", Self.data, "-o", d + "/s.safetensors"]] {
            let r = try CommandRunner.run(args)
            #expect(r.status == 2, "\(args[0]): \(r.stderr)")
            #expect(r.stderr.hasPrefix("weightlab: ") && r.stderr.split(separator: "\n").count == 1, "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: d + "/o.safetensors"))
    }
}
