@testable import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats

/// `apply --to onnx`: the QDQ form written into a copy of the input model, verified against the engine's
/// reconstruction by reopening it (ONNXReader decodes DequantizeLinear), and, when python3 has onnx and
/// onnxruntime, checked by `onnx.checker` and run by ONNX Runtime against the dequantized float model
/// (`Tests/Fixtures/check_onnx_apply.py`).
@Suite struct ONNXWriterTests {
    static let input = Fixtures.path("onnx/writer/model.onnx")

    static func int(_ bits: Int, _ symmetric: Bool, _ g: Granularity) -> LayerSettings {
        LayerSettings(quantize: .int(bits: bits, symmetric: symmetric, granularity: g, clip: .minmax))
    }

    /// conv.weight, conv.bias, fc1.weight, fc1.bias, fc2.weight, fc2.bias.
    static let settings: [LayerSettings] = [
        int(8, true, .channel),                                   // INT8 per axis 0
        .identity,
        LayerSettings(prune: .nm(n: 2, m: 4), quantize: .int(bits: 4, symmetric: false, granularity: .group(32), clip: .minmax)),
        LayerSettings(prune: .sparsity(0.5)),                      // pruned only: rewritten dense
        int(3, true, .group(16)),                                 // 3-bit codes stored as INT4, blocked
        int(8, false, .tensor),                                   // UINT8 with a zero point, per tensor
    ]

    static func apply(_ settings: [LayerSettings], to input: String = input, output: String,
                      container: String? = "onnx") throws -> ModelApply.Outcome {
        let model = try ModelFile.open(input)
        return try ModelApply.run(model: model, settings: settings, planText: "{}", output: output, container: container,
                                  overwrite: false, verify: true, numbers: false)
    }

    @Test func qdqOutputIsVerifiedAndReadsBackAsTheReconstruction() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/q.onnx"
        let o = try Self.apply(Self.settings, output: out)
        #expect(o.verified && o.container == "onnx")
        #expect(o.tensors.map(\.storedAs) == ["INT8 QDQ", "F32", "UINT4 QDQ", "F32", "INT4 QDQ", "UINT8 QDQ"])
        #expect(o.tensors.map(\.copied) == [false, true, false, false, false, false])
        // conv.weight: 216 INT8 codes + 8 scales; fc1.weight: 288·64 UINT4 codes, 288·2 scales and zero points.
        #expect(o.tensors[0].bytes == 216 + 8 * 4)
        #expect(o.tensors[2].bytes == 288 * 64 / 2 + 288 * 2 * 4 + 288)
        let back = try ModelFile.open(out)
        #expect(back.tensors.map(\.name) == ["conv.weight", "conv.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        let labels = back.tensors.filter { $0.storedAs != nil }
        #expect(labels.map(\.name) == ["conv.weight", "fc1.weight", "fc2.weight", "fc2.bias"])
        #expect(labels[1].storedAs == "DequantizeLinear UINT4 blocks of 32 along axis 1, FLOAT scales (codes 'fc1.weight_quantized', scale 'fc1.weight_scale', zero point 'fc1.weight_zero_point')")
        // Read back, each QDQ weight costs what the writer stored for it.
        #expect(labels.map(\.storedBytes) == o.tensors.filter { $0.storedAs.hasSuffix("QDQ") }.map(\.bytes))
        #expect(back.metadata.first { $0.key == "ir_version" }?.value == .int(10))
        // The reconstruction written by the safetensors container is what the ONNX file decodes to.
        let fake = dir.path + "/fake.safetensors"
        _ = try Self.apply(Self.settings, output: fake, container: "safetensors")
        let reference = try ModelFile.open(fake)
        for (a, b) in zip(back.tensors, reference.tensors) {
            #expect(try Self.values(a) == Self.values(b), "\(a.name)")
        }
    }

    @Test func settingsOnnxCannotHoldAreRefusedTogether() throws {
        let dir = try TemporaryDirectory()
        var s = Self.settings
        s[0] = LayerSettings(quantize: .nf4(group: 64))
        s[4] = LayerSettings(quantize: .fp8(.e4m3, granularity: .channel))
        #expect {
            try Self.apply(s, output: dir.path + "/x.onnx")
        } throws: { e in
            let m = (e as? ApplyError)?.message ?? ""
            return m.hasPrefix("onnx cannot hold") && m.contains("'conv.weight'") && m.contains("'fc2.weight'")
                && m.contains("DequantizeLinear holds uniform int grids only") && m.contains("use --to safetensors")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/x.onnx"))
    }

    @Test func constantsAndLowOpsetsAreRefused() throws {
        let dir = try TemporaryDirectory()
        // A Constant node's tensor is not a main-graph initializer.
        let graphs = try ModelFile.open(Fixtures.path("onnx/graphs.onnx"))
        var s = graphs.tensors.map { _ in LayerSettings.identity }
        s[try #require(graphs.tensors.firstIndex { $0.name == "c_value" })] = Self.int(8, true, .channel)
        #expect {
            try ModelApply.run(model: graphs, settings: s, planText: "{}", output: dir.path + "/c.onnx", container: "onnx",
                               overwrite: false, verify: true, numbers: false)
        } throws: { e in ((e as? ApplyError)?.message ?? "").contains("'c_value' (int8 ch)") && ((e as? ApplyError)?.message ?? "").contains("not a float initializer of the main graph") }
        // silero-vad's op15 export: blocked 4-bit DequantizeLinear needs opset 21.
        let model = try ModelFile.open(Fixtures.path("onnx/silero_vad_16k_op15.onnx"))
        s = model.tensors.map { _ in LayerSettings.identity }
        let weight = try #require(model.tensors.firstIndex { $0.name == "model.encoder.1.reparam_conv.weight" })
        s[weight] = Self.int(4, true, .group(32))
        #expect {
            try ModelApply.run(model: model, settings: s, planText: "{}", output: dir.path + "/o.onnx", container: "onnx",
                               overwrite: false, verify: true, numbers: false)
        } throws: { e in ((e as? ApplyError)?.message ?? "").contains("imports ai.onnx opset 15; these DequantizeLinear settings need opset 21") }
        // INT8 per channel needs only opset 13: written and verified, in a model whose weights sit in subgraphs.
        s[weight] = Self.int(8, true, .channel)
        let o = try ModelApply.run(model: model, settings: s, planText: "{}", output: dir.path + "/ok.onnx", container: "onnx",
                                   overwrite: false, verify: true, numbers: false)
        #expect(o.verified && o.tensors[weight].storedAs == "INT8 QDQ")
        #expect(try ModelFile.open(dir.path + "/ok.onnx").tensors.map(\.name) == model.tensors.map(\.name))
    }

    /// Kept external tensors stay where they are: the output goes beside the model, or is refused.
    @Test func externalDataModelsAreWrittenBesideTheirData() throws {
        let dir = try TemporaryDirectory()
        let model = dir.path + "/model"
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        for f in ["model.onnx", "model.onnx_data"] {
            try FileManager.default.copyItem(atPath: Fixtures.path("onnx/external/" + f), toPath: model + "/" + f)
        }
        let settings = [Self.int(8, true, .channel), LayerSettings.identity]   // ext_w1 [8, 4], ext_w2 F16 [4]
        #expect {
            try Self.apply(settings, to: model + "/model.onnx", output: dir.path + "/elsewhere.onnx")
        } throws: { e in ((e as? ApplyError)?.message ?? "").contains("keeps tensors in external data files") }
        let o = try Self.apply(settings, to: model + "/model.onnx", output: model + "/q.onnx")
        #expect(o.verified && o.tensors.map(\.storedAs) == ["INT8 QDQ", "F16"])
        let back = try ModelFile.open(model + "/q.onnx")
        #expect(back.tensors[1].data.path.hasSuffix("model.onnx_data"))   // still read from the data file
    }

    static let referenceToolsInstalled: Bool = {
        guard let r = try? CommandRunner.run(["python3", "-c", "import onnx, onnxruntime, numpy, safetensors"], executable: "/usr/bin/env") else { return false }
        return r.status == 0
    }()

    @Test(.enabled(if: ONNXWriterTests.referenceToolsInstalled, "needs python3 with onnx, onnxruntime, numpy, safetensors"))
    func onnxRuntimeRunsTheOutputLikeTheDequantizedFloatModel() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/q.onnx", fake = dir.path + "/fake.safetensors"
        _ = try Self.apply(Self.settings, output: out)
        _ = try Self.apply(Self.settings, output: fake, container: "safetensors")
        let r = try CommandRunner.run(["python3", Fixtures.path("check_onnx_apply.py"), Self.input, out, fake], executable: "/usr/bin/env")
        #expect(r.status == 0, "check_onnx_apply.py failed: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let diff = try #require(json["max_abs_diff"] as? Double)
        #expect(diff <= 1e-5, "ONNX Runtime outputs differ by \(diff)")
        #expect((json["ops"] as? [String])?.contains("DequantizeLinear") == true)
    }
}

extension ONNXWriterTests {
    static func values(_ t: Tensor) throws -> [Float] {
        var v = [Float](repeating: 0, count: t.parameters)
        try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
        return v
    }
}
