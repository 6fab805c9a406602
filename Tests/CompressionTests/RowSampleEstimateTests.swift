import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// The row-sample estimate the workbench shows while an exact evaluation runs: deterministic rows, and the
/// exact SQNR and MSE (the engine's) inside the estimate's interval on real layers (the bundled Silero VAD
/// model and the llama fixture of make_preset_bytes.py).
struct RowSampleEstimateTests {
    @Test func rowsAreDistinctSortedAndDeterministic() {
        let a = RowSampleEstimate.sampleRows(rows: 1000, count: 50)
        #expect(a == RowSampleEstimate.sampleRows(rows: 1000, count: 50))
        #expect(a.count == 50 && Set(a).count == 50 && a == a.sorted() && a.allSatisfy { (0..<1000).contains($0) })
        #expect(a != RowSampleEstimate.sampleRows(rows: 1000, count: 50, seed: 7))
        #expect(RowSampleEstimate.sampleRows(rows: 5, count: 9) == [0, 1, 2, 3, 4])
        // Spread over the layer, not bunched at the start.
        #expect(a.last! > 500 && a.first! < 500)
    }

    @Test func perTensorSettingsAreNotEstimated() {
        let perTensor = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .tensor, clip: .minmax))
        #expect(!RowSampleEstimate.applies(perTensor, shape: [64, 64]))
        #expect(RowSampleEstimate.applies(LayerSettings(quantize: .gguf(.q4_K)), shape: [64, 256]))
        #expect(!RowSampleEstimate.applies(.identity, shape: [64, 256]))
        #expect(!RowSampleEstimate.applies(LayerSettings(quantize: .gguf(.q4_0)), shape: [8, 4, 32]))
    }

    @Test func exactNumbersLieInsideTheInterval() throws {
        let models = [Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors", Fixtures.path("preset_bytes/model.gguf")]
        var checked = 0, narrower = 0
        for path in models {
            let model = try ModelFile.open(path)
            let engine = Engine(model: model, scheduler: ImmediateScheduler())
            for (i, t) in model.tensors.enumerated() where t.isFloating && t.shape.count == 2 && t.shape[0] >= 128 {
                let cols = t.shape.last!
                var formats: [QuantFormat] = [.int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax)]
                if cols % 256 == 0 { formats += [.gguf(.q4_K), .gguf(.q2_K)] }
                if cols % 32 == 0 { formats.append(.gguf(.q4_0)) }
                for f in formats {
                    let s = LayerSettings(quantize: f)
                    let exact = try engine.evaluateAll(model.tensors.indices.map { $0 == i ? s : .identity })[i]!.metrics
                    // A quarter of the rows (at least the estimator's minimum of 32).
                    let sample = t.parameters / 4
                    let e = try #require(try engine.estimate(layer: i, settings: s, sampleElements: sample))
                    #expect(e.rowsSampled < e.rows, "\(t.name)")
                    #expect(e.sqnrInterval.contains(exact.sqnrDB), "\(t.name) \(f): exact \(exact.sqnrDB) not in \(e.sqnrInterval) (estimate \(e.sqnrDB))")
                    #expect(e.mseInterval.contains(exact.mse), "\(t.name) \(f): exact MSE \(exact.mse) not in \(e.mseInterval)")
                    #expect(e.metrics.count == t.parameters)
                    if e.sqnrInterval.upperBound - e.sqnrInterval.lowerBound < 3 { narrower += 1 }
                    checked += 1
                }
            }
        }
        #expect(checked >= 10)
        #expect(narrower * 2 >= checked, "intervals should be informative (under 3 dB) for most layers")
        // Sampling every row gives the exact numbers.
        let model = try ModelFile.open(Fixtures.path("preset_bytes/model.gguf"))
        let i = try #require(model.tensors.firstIndex { $0.name == "blk.1.attn_q.weight" })
        let s = LayerSettings(quantize: .gguf(.q4_K))
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        let all = try #require(try engine.estimate(layer: i, settings: s, sampleElements: model.tensors[i].parameters))
        let exact = try engine.evaluateAll(model.tensors.indices.map { $0 == i ? s : .identity })[i]!.metrics
        #expect(all.rowsSampled == all.rows && all.sqnrInterval.contains(exact.sqnrDB))
        #expect(abs(all.sqnrDB - exact.sqnrDB) < 1e-9)
    }
}
