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

    /// `p`: none → threshold → sparsity → 2:4 → rows l2 → rows l1 → none (2:4 skipped when it does not fit).
    static func nextPrune(_ s: LayerSettings, layer: Layer, analysis: LayerAnalysis?) -> LayerSettings {
        var s = s
        switch s.prune {
        case .none: s.prune = .threshold(defaultThreshold(analysis))
        case .threshold, .globalMagnitude: s.prune = .sparsity(0.5)
        case .sparsity: s.prune = layer.lastDimension % 4 == 0 ? .nm(n: 2, m: 4) : .rows(norm: .l2, sparsity: 0.25)
        case .nm: s.prune = .rows(norm: .l2, sparsity: 0.25)
        case .rows(.l2, let sp): s.prune = .rows(norm: .l1, sparsity: sp)
        case .rows(.l1, _): s.prune = .none
        }
        return s
    }

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

    /// `f`: none → int8 → nf4 → fp8 e4m3 → fp8 e5m2 → Q8_0 → Q4_0 → Q4_1 → Q5_0 → Q5_1 → kmeans 16 → none
    /// (ggml blocks skipped when 32 does not divide the last dimension; nf4 takes the first block size of
    /// 64, 32, 128, 256 that divides it, and is skipped when none does).
    static func nextFormat(_ s: LayerSettings, layer: Layer) -> LayerSettings {
        let blocksFit = layer.lastDimension % 32 == 0
        var order: [QuantFormat] = [.none, .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)]
        if let group = [64, 32, 128, 256].first(where: nf4Groups(layer).contains) { order.append(.nf4(group: group)) }
        order += [.fp8(.e4m3, granularity: .tensor), .fp8(.e5m2, granularity: .tensor)]
        if blocksFit { order += [GGMLType.q8_0, .q4_0, .q4_1, .q5_0, .q5_1].map { .gguf($0) } }
        order.append(.kmeans(clusters: 16))
        let k = order.firstIndex { sameFamily($0, s.quantize) } ?? 0
        var s = s
        s.quantize = order[(k + 1) % order.count]
        return s
    }

    /// Whether two formats are the same step of the `f` cycle (ignoring bits, granularity and so on).
    static func sameFamily(_ a: QuantFormat, _ b: QuantFormat) -> Bool {
        switch (a, b) {
        case (.none, .none), (.int, .int), (.nf4, .nf4), (.kmeans, .kmeans): return true
        case (.fp8(let x, _), .fp8(let y, _)): return x == y
        case (.gguf(let x), .gguf(let y)): return x == y
        default: return false
        }
    }

    /// `+` / `-`: integer bits within 2…8, k-means clusters ×2 / ÷2 within 2…256.
    static func adjustBits(_ s: LayerSettings, up: Bool) -> LayerSettings {
        var s = s
        switch s.quantize {
        case .int(let bits, let sym, let g, let clip):
            s.quantize = .int(bits: max(2, min(8, bits + (up ? 1 : -1))), symmetric: sym, granularity: g, clip: clip)
        case .kmeans(let k):
            s.quantize = .kmeans(clusters: max(2, min(256, up ? k * 2 : k / 2)))
        default: break
        }
        return s
    }

    /// The NF4 block sizes a layer can take. Plans require blocks to divide the last dimension (a block never
    /// straddles two rows), so the workbench offers only those: a plan it saves always loads again.
    static func nf4Groups(_ layer: Layer) -> [Int] {
        [32, 64, 128, 256].filter { layer.lastDimension % $0 == 0 }
    }

    /// `y`: symmetric ↔ asymmetric (integer formats only).
    static func toggleSymmetric(_ s: LayerSettings) -> LayerSettings {
        var s = s
        if case .int(let bits, let sym, let g, let clip) = s.quantize {
            s.quantize = .int(bits: bits, symmetric: !sym, granularity: g, clip: clip)
        }
        return s
    }

    /// `c`: integer tensor → channel → group 32 → 64 → 128 → 256 → tensor (groups that do not divide the
    /// last dimension are skipped); fp8 tensor ↔ channel; nf4 blocks 32 → 64 → 128 → 256 (likewise).
    static func nextGranularity(_ s: LayerSettings, layer: Layer) -> LayerSettings {
        var s = s
        switch s.quantize {
        case .int(let bits, let sym, let g, let clip):
            let order: [Granularity] = [.tensor, .channel]
                + [32, 64, 128, 256].filter { layer.lastDimension % $0 == 0 }.map { .group($0) }
            let k = order.firstIndex(of: g) ?? 0
            s.quantize = .int(bits: bits, symmetric: sym, granularity: order[(k + 1) % order.count], clip: clip)
        case .fp8(let f, let g):
            s.quantize = .fp8(f, granularity: g == .tensor ? .channel : .tensor)
        case .nf4(let group):
            let order = nf4Groups(layer)
            guard !order.isEmpty else { break }
            let k = order.firstIndex(of: group) ?? -1
            s.quantize = .nf4(group: order[(k + 1) % order.count])
        default: break
        }
        return s
    }

    /// `C`: minmax → p99.9 → p99 → mse → minmax (integer formats only).
    static func nextClip(_ s: LayerSettings) -> LayerSettings {
        var s = s
        if case .int(let bits, let sym, let g, let clip) = s.quantize {
            let next: Clipping
            switch clip {
            case .minmax: next = .percentile(99.9)
            case .percentile(let p) where p > 99: next = .percentile(99)
            case .percentile: next = .mse
            case .mse: next = .minmax
            }
            s.quantize = .int(bits: bits, symmetric: sym, granularity: g, clip: next)
        }
        return s
    }

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
            default: s.prune = lead.prune
            }
        case .quantize:
            switch lead.quantize {
            case .int(_, _, .group(let g), _) where last % g != 0: return nil
            case .nf4(let g) where last % g != 0: return nil
            case .gguf(let t) where last % t.blockSize != 0: return nil
            default: s.quantize = lead.quantize
            }
        }
        return s
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
