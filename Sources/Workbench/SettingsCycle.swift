import Compression
import Foundation
import WeightFormats

/// The edits the tuning keys make, as pure functions from one layer's settings to new settings. Each takes
/// the layer (shape decides which group sizes, N:M patterns and ggml blocks fit) and its analysis when known
/// (a threshold starts at the median |w|). An edit that does not apply returns the settings unchanged, and
/// the reducer then emits nothing for that layer.
enum SettingsCycle {
    typealias Layer = AppState.Layer

    // MARK: Pruning

    /// `p`: none → threshold → sparsity → global magnitude (the same target, over every layer that has it) →
    /// 2:4 → rows l2 → rows l1 → none (2:4 skipped when it does not fit, rows for vectors).
    static func nextPrune(_ s: LayerSettings, layer: Layer, analysis: LayerAnalysis?) -> LayerSettings {
        var s = s
        switch s.prune {
        case .none: s.prune = .threshold(defaultThreshold(analysis))
        case .threshold: s.prune = .sparsity(0.5)
        case .sparsity(let sp): s.prune = .globalMagnitude(sparsity: sp)
        case .globalMagnitude:
            s.prune = layer.lastDimension % 4 == 0 ? .nm(n: 2, m: 4) : hasRows(layer) ? .rows(norm: .l2, sparsity: 0.25) : .none
        case .nm: s.prune = hasRows(layer) ? .rows(norm: .l2, sparsity: 0.25) : .none
        case .rows(.l2, let sp): s.prune = .rows(norm: .l1, sparsity: sp)
        case .rows(.l1, _): s.prune = .none
        }
        return s
    }

    /// Row pruning removes whole rows: a vector or scalar has one row, which it never prunes (at a size cost
    /// for the mask), so it is not offered there.
    static func hasRows(_ layer: Layer) -> Bool { layer.shape.count >= 2 }

    /// The median magnitude (about 50 % sparsity), to three significant digits; 0.01 before analysis.
    static func defaultThreshold(_ analysis: LayerAnalysis?) -> Double {
        guard let a = analysis, a.magnitudes.total > 0 else { return 0.01 }
        let t = a.magnitudes.percentile(50)
        return t > 0 ? roundSignificant(t) : 0.01
    }

    /// `]` `[` `}` `{` (and ← → in the histogram pane): scale a threshold by `factor` or move a sparsity by
    /// `step` (clamped to 0…0.99: plans refuse a sparsity of 1).
    static func adjustAmount(_ s: LayerSettings, factor: Double, step: Double, analysis: LayerAnalysis?) -> LayerSettings {
        var s = s
        switch s.prune {
        case .threshold(let t):
            let base = t > 0 ? t : defaultThreshold(analysis) / factor
            s.prune = .threshold(roundSignificant(base * factor))
        case .sparsity(let sp): s.prune = .sparsity(stepSparsity(sp, step))
        case .globalMagnitude(let sp): s.prune = .globalMagnitude(sparsity: stepSparsity(sp, step))
        case .rows(let norm, let sp): s.prune = .rows(norm: norm, sparsity: stepSparsity(sp, step))
        case .none, .nm: break
        }
        return s
    }

    static func stepSparsity(_ s: Double, _ step: Double) -> Double {
        let percent = ((s + step) * 100).rounded()
        return max(0, min(99, percent)) / 100
    }

    /// `n`: 2:4 → 1:4 → 4:8 → 2:4 (patterns whose M does not divide the last dimension are skipped; any other
    /// method switches to the first pattern that fits).
    static func nextNM(_ s: LayerSettings, layer: Layer) -> LayerSettings {
        let patterns = [(2, 4), (1, 4), (4, 8)].filter { layer.lastDimension % $0.1 == 0 }
        guard !patterns.isEmpty else { return s }
        var s = s
        var next = 0
        if case .nm(let n, let m) = s.prune, let k = patterns.firstIndex(where: { $0 == (n, m) }) {
            next = (k + 1) % patterns.count
        }
        s.prune = .nm(n: patterns[next].0, m: patterns[next].1)
        return s
    }

    // MARK: Quantization

    /// `f`: none → the first setting of each codec's cycle step that fits the layer (`Codecs.cycle`: int8 →
    /// nf4 → fp8 e4m3 → fp8 e5m2 → Q8_0 → Q4_0 → Q4_1 → Q5_0 → Q5_1 → kmeans 16) → none.
    static func nextFormat(_ s: LayerSettings, layer: Layer) -> LayerSettings {
        let order: [QuantFormat] = [.none] + Codecs.cycle(for: layer.shape)
        let step = s.quantize.codec?.cycleStep
        let k = order.firstIndex { $0.codec?.cycleStep == step } ?? 0
        var s = s
        s.quantize = order[(k + 1) % order.count]
        return s
    }

    /// Turns one of the codec's knobs (`Codec.turned`); settings without that knob stay as they are.
    static func turn(_ s: LayerSettings, _ knob: CodecKnob, up: Bool = true, shape: [Int] = []) -> LayerSettings {
        guard let next = s.quantize.codec?.turned(knob, up: up, shape: shape) else { return s }
        var s = s
        s.quantize = next
        return s
    }

    /// `+` / `-`: integer bits, k-means clusters (within the codec's bounds).
    static func adjustBits(_ s: LayerSettings, up: Bool) -> LayerSettings { turn(s, .amount, up: up) }

    /// `y`: symmetric ↔ asymmetric (integer formats only).
    static func toggleSymmetric(_ s: LayerSettings) -> LayerSettings { turn(s, .symmetry) }

    /// `c`: scale granularity or block size, among those that fit the layer.
    static func nextGranularity(_ s: LayerSettings, layer: Layer) -> LayerSettings { turn(s, .granularity, shape: layer.shape) }

    /// `C`: minmax → p99.9 → p99 → mse → minmax (integer formats only).
    static func nextClip(_ s: LayerSettings) -> LayerSettings { turn(s, .clipping) }

    // MARK: Following a lead layer

    /// Which part of the settings a cycling key changes; nil for the relative keys (bits, amounts).
    enum Aspect {
        case prune, quantize
        init?(_ command: Command) {
            switch command {
            case .cyclePrune, .cycleNM: self = .prune
            case .cycleFormat, .cycleGranularity, .cycleClip, .toggleSymmetric: self = .quantize
            default: return nil
            }
        }
    }

    /// `s` with the lead layer's pruning method or format, or nil when it does not fit `layer` (an N:M run,
    /// group or block that does not divide its last dimension).
    /// A threshold is a magnitude of the lead's weights, meaningless for another layer: a follower keeps
    /// its own threshold or starts at its own median.
    static func follow(_ s: LayerSettings, lead: LayerSettings, aspect: Aspect, layer: Layer,
                       analysis: LayerAnalysis?) -> LayerSettings? {
        var s = s
        let last = layer.lastDimension
        switch aspect {
        case .prune:
            switch lead.prune {
            case .threshold:
                if case .threshold = s.prune {} else { s.prune = .threshold(defaultThreshold(analysis)) }
            case .nm(_, let m) where last % m != 0: return nil
            case .rows where !hasRows(layer): return nil
            default: s.prune = lead.prune
            }
        case .quantize:
            if lead.quantize.codec?.misfit(layer.shape) != nil { return nil }
            s.quantize = lead.quantize
        }
        return s
    }

    /// Why `follow` gave nil for `layer`, in words.
    static func misfit(lead: LayerSettings, aspect: Aspect, layer: Layer) -> String {
        switch aspect {
        case .prune:
            if case .nm(_, let m) = lead.prune {
                return "last dimension \(layer.lastDimension) is not a multiple of \(m)"
            }
            return "row pruning needs rows: vectors and scalars have one"
        case .quantize:
            return lead.quantize.codec?.misfit(layer.shape).map(\.reason) ?? "it does not fit"
        }
    }

    // MARK: Numbers

    /// `x` to three significant digits, computed so the result prints short (`0.0133`, not `0.013300000001`).
    static func roundSignificant(_ x: Double, digits: Int = 3) -> Double {
        guard x.isFinite, x != 0 else { return x }
        let e = Int(floor(log10(abs(x))))
        let k = digits - 1 - e
        if k >= 0 {
            let f = pow(10, Double(k))
            return (x * f).rounded() / f
        }
        let f = pow(10, Double(-k))
        return (x / f).rounded() * f
    }
}
