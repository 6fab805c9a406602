import ArgumentParser
import Compression
import Dispatch
import Foundation
import WeightFormats

/// `weightlab bench`: the compression kernels on generated N(0,1) data, as the workbench runs them (through
/// the engine, split across cores). Compare with `python3 Benchmarks/numpy_peer.py` on the same sizes.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time the compression kernels on generated data (compare with Benchmarks/numpy_peer.py).")

    @Option(help: "Number of weights (rounded down to whole rows of 4096).")
    var size: Int = 50_000_000

    @Option(name: .customLong("repeat"), help: "Runs per kernel; the best is reported.")
    var repeats: Int = 3

    @Flag(help: "Print JSON.")
    var json = false

    @Flag(help: "Time the budget solver instead, on a Llama-2-7B-shaped menu of synthetic numbers (224 layers × 12 options).")
    var solver = false

    @Flag(help: "Time the workbench's row-sample estimate against the exact evaluation on an 11008 × 4096 layer (Q4_K, Q6_K).")
    var estimate = false

    @Flag(help: "Time only ggml's block quantizers (K-quants, IQ4, Q8_0, Q4_0) on one core, the peer of Benchmarks/ggml_quantize_peer.py.")
    var quantizeOnly = false

    @Option(help: "With --quantize-only: just this type (q2_k, …, iq4_xs, q8_0, q4_0).")
    var type: String? = nil

    @Option(help: "Time the 7B-scale work on this model file instead (Benchmarks/make_7b_model.py writes one): every layer analysed, int4 g128 over the model, the menu and its frontier.")
    var model: String?

    @Option(help: "With --model: the steps to time, comma-separated (analysis, serial, two-pass, int4, workbench-int4, menu).")
    var steps = "analysis,int4"

    @Option(help: "Time one training epoch of a 784-512-512-10 MLP on this data instead (an IDX directory such as /usr/share/datasets/fashion-mnist); compare with Benchmarks/train_epoch_torch.py.")
    var train: String?

    @Option(help: "Time sentence embeddings of this BERT encoder directory (model.safetensors, config.json, a tokenizer) by weightlab's kernels; the peer is Benchmarks/minilm_peer.py.")
    var encoder: String?

    @Option(help: "With --encoder: the sentences (one per line; e.g. Examples/eval/sentences.txt).")
    var sentences: String?

    @Option(help: "With --encoder: sentences per forward pass (each batch padded to its longest).")
    var batch = 32

    @Option(name: .customLong("max-tokens"), help: "With --encoder: tokens per sentence at most.")
    var maxTokens = 64

    @Option(name: .customLong("embeddings-out"), help: "With --encoder: write the embeddings (float32, rows of hidden) here, to compare with the peer's.")
    var embeddingsOut: String?

    static let columns = 4096

    /// Checked here rather than in `run` so the error comes with bench's own usage, not the generic one.
    func validate() throws {
        guard size >= Self.columns else { throw ValidationError("--size must be at least \(Self.columns) (one row of \(Self.columns) weights)") }
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
    }

    func run() throws {
        if let encoder {
            guard let sentences else { throw ValidationError("--encoder needs --sentences FILE") }
            guard batch >= 1, maxTokens >= 2 else { throw ValidationError("--batch must be at least 1 and --max-tokens at least 2") }
            return BenchEncoder.run(directory: encoder, sentences: sentences, batch: batch, maxTokens: maxTokens,
                                    repeats: repeats, json: json, embeddingsOut: embeddingsOut)
        }
        if solver { return solverTimings() }
        if let train {
            do { return try trainingTimings(data: train) } catch { Failure.exit(error) }
        }
        if estimate { return try estimateTimings() }
        if let model { return try modelTimings(path: model) }
        let rows = size / Self.columns
        let n = rows * Self.columns
        let tensor = try Tensor(name: "bench", dtype: .float32, shape: [rows, Self.columns],
                                data: MemorySource(floats: Self.normal(count: n, seed: 0)))
        if quantizeOnly { return try quantizerTimings(rows: rows) }
        let model = Model(path: "<generated>", format: .safetensors, metadata: [], tensors: [tensor])

        var results: [(String, Double)] = []
        func time(_ name: String, _ body: () throws -> Void) rethrows {
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            results.append((name, best))
        }
        func evaluate(_ s: LayerSettings) throws {
            _ = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateAll([s])
        }
        // The same work as numpy's peer: statistics, then a 512-bin histogram over [min, max].
        try time("stats+hist") {
            let s = try TensorScan.statistics(tensor)
            _ = try TensorScan.valueHistogram(tensor, bins: 512, lo: s.min, hi: s.max)
        }
        // What opening a layer in the workbench computes: the above plus the fine magnitude histogram.
        var analysis: LayerAnalysis? = nil
        try time("open-analysis") { analysis = try LayerAnalysis.analyse(tensor) }
        try time("prune-metrics") { try evaluate(LayerSettings(prune: .threshold(0.5))) }
        try time("int8-channel") { try evaluate(LayerSettings(quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))) }
        try time("int4-g128") { try evaluate(LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))) }
        try time("q4_0") { try evaluate(LayerSettings(quantize: .gguf(.q4_0))) }
        // llama.cpp's K-quants and IQ4 (ggml's reference quantizers, bit-exact, no importance matrix).
        for t in [GGMLType.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS] {
            try time(t.name.lowercased()) { try evaluate(LayerSettings(quantize: .gguf(t))) }
        }

        // A pruning query answered from the cumulative magnitude histogram (no pass over the weights).
        let histogram = analysis!.magnitudes
        let queries = 10_000
        let t0 = DispatchTime.now().uptimeNanoseconds
        var sink = 0
        for i in 0..<queries { sink &+= histogram.cut(threshold: Double(i % 1000) * 0.003).pruned }
        let perQuery = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 / Double(queries)
        if sink == -1 { print(sink) }

        if json {
            let o: JSONValue = .object([
                ("size", .int(n)), ("cores", .int(ProcessInfo.processInfo.activeProcessorCount)),
                ("results", .object(results.map { ($0.0, .object([("seconds", .double($0.1)),
                                                                  ("weights_per_second", .double(Double(n) / $0.1))])) })),
                ("pruning_query_seconds", .double(perQuery)),
            ])
            print(o.text())
        } else {
            print("weightlab bench: \(TableFormat.count(n)) weights (rows of \(Self.columns)), \(ProcessInfo.processInfo.activeProcessorCount) cores, best of \(repeats)")
            for (name, s) in results {
                print(name.padding(toLength: 15, withPad: " ", startingAt: 0)
                      + String(format: "%9.1f ms  %9.1f M weights/s", s * 1000, Double(n) / s / 1e6))
            }
            print(String(format: "pruning query from the cumulative histogram: %.2f µs", perQuery * 1e6))
        }
    }

    /// ggml's quantizers alone, one core: pieces of 16 rows stay below the engine's parallel threshold, so
    /// every call runs on this thread (what `ggml_quantize_chunk` does in the peer). Under callgrind count
    /// only the quantizer with `--toggle-collect='*GGUFBlockQuantizer*quantize*'`.
    private func quantizerTimings(rows: Int) throws {
        let all: [GGMLType] = [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS, .q8_0, .q4_0]
        let types = type.map { name in all.filter { $0.name.lowercased() == name.lowercased() } } ?? all
        guard !types.isEmpty else { throw ValidationError("--type must be one of \(all.map { $0.name.lowercased() }.joined(separator: ", "))") }
        let n = rows * Self.columns
        let x = Self.normal(count: n, seed: 0)
        let piece = 16 * Self.columns
        print("weightlab bench --quantize-only: \(TableFormat.count(n)) weights, one core, best of \(repeats)")
        for t in types {
            var out = [UInt8](repeating: 0, count: GGUFBlockQuantizer.byteCount(t, count: n))
            var best = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                x.withUnsafeBufferPointer { xs in
                    out.withUnsafeMutableBytes { o in
                        var start = 0
                        while start < n {
                            let end = min(n, start + piece)
                            GGUFBlockQuantizer.quantize(UnsafeBufferPointer(rebasing: xs[start..<end]), type: t,
                                                        into: UnsafeMutableRawBufferPointer(rebasing: o[GGUFBlockQuantizer.byteCount(t, count: start)...]))
                            start = end
                        }
                    }
                }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            print(t.name.lowercased().padding(toLength: 15, withPad: " ", startingAt: 0)
                  + String(format: "%9.1f ms  %9.1f M weights/s", best * 1000, Double(n) / best / 1e6))
        }
    }

    /// N(0,1) floats from a fixed seed (SplitMix64 → Box–Muller), generated in parallel slices.
    static func normal(count: Int, seed: UInt64) -> [Float] {
        var out = [Float](repeating: 0, count: count)
        let slices = 64
        out.withUnsafeMutableBufferPointer { buf in
            nonisolated(unsafe) let base = buf.baseAddress!
            DispatchQueue.concurrentPerform(iterations: slices) { s in
                var rng = SplitMix64(seed: seed &+ UInt64(s) &* 0x9E37_79B9_7F4A_7C15)
                let lo = count * s / slices, hi = count * (s + 1) / slices
                var i = lo
                while i < hi {
                    let u1 = max(rng.unit(), 0x1p-60), u2 = rng.unit()
                    let r = (-2 * Foundation.log(u1)).squareRoot()
                    base[i] = Float(r * Foundation.cos(2 * .pi * u2))
                    if i + 1 < hi { base[i + 1] = Float(r * Foundation.sin(2 * .pi * u2)) }
                    i += 2
                }
            }
        }
        return out
    }
}
