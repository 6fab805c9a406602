import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// The apply library below the command: verification catches a file that does not hold the engine's
/// reconstruction, global magnitude groups are pruned as the engine prunes them, the ftype rule, and the
/// model-writer table's refusals.
struct ApplyTests {
    let ggufInput = Fixtures.path("apply/input.gguf")

    func job(_ model: Model, _ settings: [LayerSettings], output: String = "/nonexistent") -> ApplyJob {
        ApplyJob(model: model, settings: settings, output: output, overwrite: false, verifies: true, planText: "",
                 engine: Engine(model: model, scheduler: ImmediateScheduler()), cancel: CancellationToken(), progress: { _ in })
    }

    @Test func verificationRefusesAFileThatDiffers() throws {
        let model = try ModelFile.open(ggufInput)
        let identity = [LayerSettings](repeating: .identity, count: model.tensors.count)
        // The input verifies against itself under identity settings…
        try job(model, identity).verify(model)
        // …but the re-quantized file does not hold the identity reconstruction.
        let other = try ModelFile.open(Fixtures.path("apply/expected.gguf"))
        #expect(throws: ApplyError.self) { try job(model, identity).verify(other) }
        do {
            try job(model, identity).verify(other)
        } catch let e as ApplyError {
            #expect(e.kind == .write && e.message.contains("token_embd.weight"), "\(e.message)")
        }
    }

    @Test func failedVerificationLeavesNoFile() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/o.gguf"
        let model = try ModelFile.open(ggufInput)
        var planned = [LayerSettings](repeating: .identity, count: model.tensors.count)
        planned[0] = LayerSettings(prune: .none, quantize: .gguf(.q8_0))
        let settings = planned
        let j = job(model, settings, output: out)
        // Written as planned, but checked against a job that expects the identity: a mismatch.
        let identityJob = job(model, [LayerSettings](repeating: .identity, count: model.tensors.count), output: out)
        #expect(throws: ApplyError.self) {
            try GGUFWriter.write(to: out, metadata: [], tensors: model.tensors.indices.map {
                GGUFWriter.TensorEntry(name: model.tensors[$0].name, type: GGUFModelWriter.storedType(model.tensors[$0], settings[$0]), shape: model.tensors[$0].shape)
            }, beforeCommit: { try identityJob.verify(try GGUFReader.open(FileSource(path: $0))) }) { i, sink in
                if i == 0 {
                    try j.writePieces(i, to: &sink) { shape, values, cut in
                        try LayerEvaluator.encode(settings[0], shape: shape, values: values, globalCut: cut)!.part("blocks").bytes
                    }
                } else {
                    try j.copyRaw(i, to: &sink)
                }
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty)
    }

    /// Global magnitude pruning over two tensors: the written values are the engine's (one cut over both).
    @Test func globalMagnitudeGroupsArePrunedTogether() throws {
        let dir = try TemporaryDirectory()
        let input = dir.path + "/in.safetensors"
        let a = (0..<64).map { Float($0) / 64 }, b = (0..<64).map { Float($0) / 16 }
        try SafetensorsWriter.write(to: input, tensors: [.init(name: "a", dtype: .float32, shape: [2, 32]),
                                                         .init(name: "b", dtype: .float32, shape: [2, 32])]) { i, sink in
            try (i == 0 ? a : b).withUnsafeBytes { try sink.write($0) }
        }
        let model = try ModelFile.open(input)
        let settings = [LayerSettings](repeating: LayerSettings(prune: .globalMagnitude(sparsity: 0.5), quantize: .none), count: 2)
        let out = dir.path + "/out.safetensors"
        let o = try ModelApply.run(model: model, settings: settings, planText: "{}", output: out, container: nil,
                                   overwrite: false, verify: true, numbers: false)
        #expect(o.verified && o.verifiedValues == 128)
        let written = try ModelFile.open(out)
        var zeros = 0
        for t in written.tensors {
            var v = [Float](repeating: 0, count: t.parameters)
            try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            zeros += v.filter { $0 == 0 }.count
        }
        // 64 of the 128 smallest magnitudes over both tensors: most of them are in `a`.
        #expect(zeros == 64)
        #expect(o.evaluation?.totals.metrics.sparsity == 0.5)
    }

    @Test func fileTypeIsTheDominantType() {
        let q8 = GGMLType(id: 8)!, q4 = GGMLType(id: 2)!, f16 = GGMLType(id: 1)!, f32 = GGMLType(id: 0)!
        #expect(LlamaFileType.dominant([(q8, 100), (q4, 60), (f32, 1000)]) == 7)
        #expect(LlamaFileType.dominant([(q8, 100), (q4, 160)]) == 2)
        #expect(LlamaFileType.dominant([(f16, 100), (f32, 10)]) == 1)
        #expect(LlamaFileType.dominant([]) == 0)
        #expect(LlamaFileType.of(GGMLType(id: 12)!) == 15)   // Q4_K → MOSTLY_Q4_K_M
    }

    @Test func writerTableNamesContainersThatCanHoldASetting() throws {
        let model = try ModelFile.open(ggufInput)
        var settings = [LayerSettings](repeating: .identity, count: model.tensors.count)
        settings[2] = LayerSettings(prune: .none, quantize: .nf4(group: 64))
        let e = try #require(ModelWriters.misfitError(GGUFModelWriter.self, model: model, settings: settings))
        #expect(e.kind == .plan)
        #expect(e.message.contains("'\(model.tensors[2].name)'") && e.message.contains("--to safetensors"), "\(e.message)")
        #expect(ModelWriters.misfitError(SafetensorsModelWriter.self, model: model, settings: settings) == nil)
    }
}
