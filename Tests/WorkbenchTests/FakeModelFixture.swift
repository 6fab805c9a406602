@testable import Compression
import WeightFormats
@testable import Workbench

/// A small model described in plain values, with analyses built from deterministic pseudo-random weights,
/// so reducer and snapshot tests need no files and give the same numbers on every run.
enum FakeModel {
    /// Approximately normal values (Irwin–Hall: the sum of 12 uniforms minus 6), from a 64-bit LCG: only
    /// integer and Float arithmetic, so the values are the same everywhere.
    static func weights(_ count: Int, seed: UInt64, std: Float) -> [Float] {
        var x = seed &* 6364136223846793005 &+ 1442695040888963407
        func uniform() -> Float {
            x = x &* 6364136223846793005 &+ 1442695040888963407
            return Float(x >> 40) / Float(1 << 24)
        }
        return (0..<count).map { _ in
            var s: Float = 0
            for _ in 0..<12 { s += uniform() }
            return (s - 6) * std
        }
    }

    static func analysis(_ v: [Float]) -> LayerAnalysis {
        v.withUnsafeBufferPointer { b in
            var s = Statistics()
            s.add(b)
            var values = ValueHistogram(bins: LayerAnalysis.displayBins, lo: s.min, hi: s.max)
            values.add(b)
            return LayerAnalysis(statistics: s, magnitudes: MagnitudeHistogram(b), values: values)
        }
    }

    static let int4g32 = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax))
    static let threshold = LayerSettings(prune: .threshold(0.02))
    static let twoFourInt8 = LayerSettings(prune: .nm(n: 2, m: 4),
                                           quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))
    static let q4OnOddShape = LayerSettings(quantize: .gguf(.q4_0))

    static let layers: [AppState.Layer] = [
        .init(name: "tok_embeddings.weight", dtype: .float16, shape: [256, 64]),
        .init(name: "layers.0.attention.wq.weight", dtype: .float32, shape: [128, 64]),
        .init(name: "layers.0.attention.wq.bias", dtype: .float32, shape: [128]),
        .init(name: "layers.0.feed_forward.w1.weight", dtype: .bfloat16, shape: [256, 64]),
        .init(name: "layers.0.feed_forward.w2.weight", dtype: .float32, shape: [64, 256]),
        .init(name: "layers.1.attention.wo.weight", dtype: .float32, shape: [32, 48]),
        .init(name: "evil\u{1b}[31m.weight", dtype: .float32, shape: [16, 16]),
        .init(name: "position_ids", dtype: .int64, shape: [1, 128]),
        .init(name: "norm.weight", dtype: .float32, shape: [64]),
    ]

    static let settings: [LayerSettings] = [.identity, int4g32, .identity, threshold, twoFourInt8, q4OnOddShape,
                                            .identity, .identity, .identity]

    /// Each floating layer's values.
    static let values: [[Float]?] = layers.enumerated().map { i, l in
        guard l.isFloating else { return nil }
        let std: Float = l.shape.count == 1 ? 0.1 : 0.03
        return weights(l.parameters, seed: UInt64(i + 1), std: std)
    }

    /// A fresh state (nothing analysed or evaluated yet).
    static func freshState(width: Int = 120, height: Int = 40) -> AppState {
        AppState(modelName: "tiny-llama.safetensors", layers: layers, settings: settings, themeName: "dark",
                 planPath: nil, width: width, height: height)
    }

    /// The evaluation the engine would send for `layer` at its current settings and revision.
    static func evaluation(_ state: AppState, layer i: Int, levels: QuantizationLevels? = nil) -> EvaluationResult {
        let s = state.records[i].settings
        let outcome: Result<LayerEvaluation, EvaluationFailure>
        do {
            outcome = .success(try LayerEvaluator.evaluate(s, shape: layers[i].shape, values: values[i]!,
                                                           originalDType: layers[i].dtype))
        } catch {
            outcome = .failure(EvaluationFailure(message: "\(error)"))
        }
        return EvaluationResult(layer: i, settings: s, revision: state.records[i].revision, outcome: outcome, levels: levels)
    }

    /// The 16 int4 levels of group 1 of row 17 of layer 1 (symmetric: q·absmax/7 for q in −8…7).
    static var int4Levels: QuantizationLevels {
        let v = values[1]!
        let group = v[(17 * 64 + 32)..<(17 * 64 + 64)]
        let absmax = Double(group.map { abs($0) }.max()!)
        let scale = absmax / 7
        return QuantizationLevels(values: (-8...7).map { Double($0) * scale }, unit: "group 1 of row 17", clip: nil)
    }

    /// Everything analysed; layers 1 (int4) and 5 (a failure) evaluated; layer 3 (threshold) shows the
    /// instant estimate; layer 4 (2:4 + int8) is still pending. Built through `reduce`, like the app.
    static func loadedState(width: Int = 120, height: Int = 40) -> AppState {
        var (state, _) = AppState.start(freshState(width: width, height: height))
        for (i, v) in values.enumerated() {
            if let v { _ = reduce(&state, .analysed(layer: i, analysis(v))) }
        }
        _ = reduce(&state, .evaluated(evaluation(state, layer: 1, levels: int4Levels)))
        _ = reduce(&state, .evaluated(evaluation(state, layer: 5)))
        return state
    }
}
