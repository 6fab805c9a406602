import Compression
import Dispatch
import Foundation
import WeightFormats

extension Bench {
    /// The workbench's row-sample estimate (`Engine.estimate`, what it shows marked `~` while an exact
    /// K-quant evaluation of a large layer runs) against that exact evaluation, on a generated 11008 × 4096
    /// F32 layer (an MLP projection of Llama-2-7B), for Q4_K and Q6_K: the estimate must arrive within
    /// 100 ms. Best of `--repeat` for the estimate, one exact evaluation each.
    func estimateTimings() throws {
        let rows = 11008, columns = 4096
        let tensor = try Tensor(name: "blk.0.ffn_up.weight", dtype: .float32, shape: [rows, columns],
                                data: MemorySource(floats: Self.normal(count: rows * columns, seed: 0)))
        let model = Model(path: "<generated>", format: .safetensors, metadata: [], tensors: [tensor])
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        print("weightlab bench --estimate: \(rows) × \(columns) F32 layer, \(ProcessInfo.processInfo.activeProcessorCount) cores, estimate best of \(repeats)")
        for type in [GGMLType.q4_K, .q6_K] {
            let settings = LayerSettings(quantize: .gguf(type))
            var best = Double.infinity
            var estimate: RowSampleEstimate? = nil
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                estimate = try engine.estimate(layer: 0, settings: settings)
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            let t0 = DispatchTime.now().uptimeNanoseconds
            let exact = try engine.evaluateAll([settings])[0]!
            let exactSeconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
            let e = estimate.map { String(format: "~%.2f dB", $0.sqnrDB) } ?? "none"
            print(type.name.padding(toLength: 7, withPad: " ", startingAt: 0)
                  + String(format: "estimate %7.1f ms (%@)   exact %8.1f ms (%.2f dB)", best * 1000, e, exactSeconds * 1000,
                           exact.metrics.sqnrDB))
        }
    }
}
