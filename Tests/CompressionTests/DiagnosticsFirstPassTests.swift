import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Diagnostics gathered in the evaluation's own pass (`PlanEvaluation(diagnose: true)`, `report --format
/// json`) equal to `LayerDiagnostics.measure` of each tensor, bit for bit: BF16 and F32 tensors, row pieces
/// whose bounds are not on statistics blocks, values in the bins the 6σ bound cuts through (counted again
/// one by one), the bundled Silero model under each example plan.
struct DiagnosticsFirstPassTests {
    static func expectSame(_ model: Model, _ settings: [LayerSettings]) throws {
        let evaluation = try PlanEvaluation(model: model, settings: settings, diagnose: true)
        let gathered = try #require(evaluation.firstPassDiagnostics)
        for (i, t) in model.tensors.enumerated() where t.isFloating {
            let d = try #require(gathered[i], "\(t.name): not gathered in the first pass")
            #expect(d == (try LayerDiagnostics.measure(t)), "\(t.name)")
        }
        #expect(try evaluation.diagnostics() == (try PlanEvaluation(model: model, settings: settings).diagnostics()))
    }

    /// 3000 × 1000 (pieces of 1048 rows: 1 048 000 values, not whole 16 Ki blocks) in F32 and BF16, with
    /// values placed just inside and just outside 6σ, plus the streaming fixture's 300 × 4096 tensors.
    static func model() -> Model {
        var state: UInt64 = 0xD1A6
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        var values = (0..<(3000 * 1000)).map { _ in next() * 0.02 }
        // The uniform's σ is 0.02/√3 around 0: put values at 5.99σ…6.01σ on both sides, and a few far out.
        let sigma = Float(0.02 / 3.0.squareRoot())
        for k in 0..<40 {
            let f: Float = 5.99 + Float(k % 5) * 0.005
            values[k * 70_001 + 13] = (k % 2 == 0 ? 1 : -1) * f * sigma
        }
        for k in 0..<7 { values[k * 400_003 + 5] = 30 * sigma }
        let bf16 = values.flatMap { v -> [UInt8] in
            let b = v.bitPattern >> 16
            return [UInt8(b & 0xFF), UInt8(b >> 8)]
        }
        let tensors = [
            try! Tensor(name: "f32", dtype: .float32, shape: [3000, 1000], data: MemorySource(floats: values)),
            try! Tensor(name: "bf16", dtype: .bfloat16, shape: [3000, 1000], data: MemorySource(bf16)),
            try! Tensor(name: "vector", dtype: .float32, shape: [1000], data: MemorySource(floats: Array(values[0..<1000]))),
        ] + MenuStreamingTests.model().tensors
        return Model(path: "<memory>", format: .safetensors, metadata: [], tensors: tensors)
    }

    @Test(arguments: [
        LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax)),
        LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(8), clip: .minmax)),
        LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .tensor, clip: .minmax)),
        LayerSettings.identity,
    ])
    func equalToMeasure(settings: LayerSettings) throws {
        let model = Self.model()
        #expect(Engine.rowsPerPiece(settings, shape: [3000, 1000], pieceElements: Engine.pieceElements).map { $0 * 1000 % Statistics.blockElements != 0 } ?? true)
        try Self.expectSame(model, model.tensors.map { $0.shape.count == 1 ? .identity : settings })
    }

    /// `apply --json` (`ModelApply.run(diagnose:)`): every floating tensor's diagnostics come from values a
    /// pass decoded anyway, equal to `measure`: the write pass for rewritten tensors (GGUF's are then verified
    /// from digests, without the engine), the verify pass for tensors copied unchanged, the numbers pass
    /// without verification. Row pieces and whole tensors, F16, F32 and BF16.
    @Test(arguments: [("safetensors", true), ("gguf", true), ("safetensors", false)])
    func applyGathersThemWhileWriting(container: String, verify: Bool) throws {
        let dir = try TemporaryDirectory()
        // GGUF output needs a GGUF input: ApplyDigestVerificationTests' (an F16 tensor of three row pieces).
        let model = container == "gguf" ? try ApplyDigestVerificationTests.input(dir)
            : Model(path: "<memory>", format: .safetensors, metadata: [], tensors: Array(Self.model().tensors[0..<3]))
        let settings = model.tensors.map { t -> LayerSettings in
            if t.shape.count == 1 { return .identity }
            if container == "gguf" { return LayerSettings(prune: .none, quantize: .gguf(.q8_0)) }
            return LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(8), clip: .minmax))
        }
        let o = try ModelApply.run(model: model, settings: settings, planText: "{}", output: dir.path + "/out." + container,
                                   container: container, overwrite: false, verify: verify, numbers: true, diagnose: true)
        let evaluation = try #require(o.evaluation)
        let gathered = try #require(evaluation.firstPassDiagnostics)
        for (i, t) in model.tensors.enumerated() where t.isFloating {
            let d = try #require(gathered[i], "\(t.name): not gathered while applying")
            #expect(d == (try LayerDiagnostics.measure(t)), "\(t.name)")
        }
        #expect(settings.contains { $0 != .identity })
        #expect(try evaluation.diagnostics() == (try PlanEvaluation(model: model, settings: settings).diagnostics()))
        #expect(try ModelApply.run(model: model, settings: settings, planText: "{}", output: dir.path + "/plain." + container,
                                   container: container, overwrite: false, verify: verify, numbers: true).evaluation?.firstPassDiagnostics == nil)
    }

    @Test func sigmaBoundValuesArePresent() throws {
        // The fixture does exercise the bins the bound cuts through: some values there are outliers, some not.
        let t = Self.model().tensors[0]
        let values = try [Float](unsafeUninitializedCapacity: t.parameters) { b, n in try t.decode(0..<t.parameters, into: b); n = t.parameters }
        let d = values.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: t.shape) }
        #expect(d.outliers > 7 && d.outliers < 47, "\(d.outliers)")
    }

    @Test func sileroUnderEveryExamplePlan() throws {
        let model = try ModelFile.open(Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors")
        let plans = try FileManager.default.contentsOfDirectory(atPath: Fixtures.repositoryRoot + "/Examples/plans").filter { $0.hasSuffix(".json") }
        #expect(plans.count >= 4)
        for p in plans {
            try Self.expectSame(model, try PlanEvaluation.resolve(Fixtures.repositoryRoot + "/Examples/plans/" + p, for: model))
        }
    }
}
