import WeightFormats

/// What to do to one layer: prune first, then quantize. This is the vocabulary shared by plan files, the
/// engine, `report` and the workbench; `Plan` resolves a plan file into one `LayerSettings` per tensor.
public struct LayerSettings: Hashable, Sendable {
    public var prune: PruneMethod
    public var quantize: QuantFormat

    public init(prune: PruneMethod = .none, quantize: QuantFormat = .none) {
        self.prune = prune
        self.quantize = quantize
    }

    public static let identity = LayerSettings()
    public var isIdentity: Bool { prune == .none && quantize == .none }
}

/// Pruning methods (DESIGN.md §5). Thresholds compare magnitudes: `|w| >= t` is kept.
public enum PruneMethod: Hashable, Sendable {
    case none
    /// Zero `|w| < t`.
    case threshold(Double)
    /// Zero the `floor(s·n)` smallest magnitudes, ties broken by index (torch `l1_unstructured`).
    case sparsity(Double)
    /// One threshold across every tensor the rule selects (torch `global_unstructured`); resolved by the
    /// engine into a per-layer `.threshold` once all selected layers' magnitudes are known.
    case globalMagnitude(sparsity: Double)
    /// Keep the `n` largest magnitudes of every `m` consecutive values along the last dimension.
    case nm(n: Int, m: Int)
    /// Zero whole rows (dimension 0) with the smallest L1 or L2 norm (torch `ln_structured`, dim 0).
    case rows(norm: RowNorm, sparsity: Double)
}

public enum RowNorm: String, Hashable, Sendable {
    case l1, l2
}

/// Where one scale applies.
public enum Granularity: Hashable, Sendable {
    case tensor
    /// One scale per row of dimension 0 (a 1-D tensor is one row).
    case channel
    /// One scale per run of `g` consecutive values along the last dimension.
    case group(Int)
}

/// How the quantization range is chosen.
public enum Clipping: Hashable, Sendable {
    case minmax
    /// Clip to the p-th percentile of |w| (symmetric) or to the (100-p)/p percentiles (asymmetric).
    case percentile(Double)
    /// Search the clipping range that minimises the squared error.
    case mse
}

public enum FP8Format: String, Hashable, Sendable {
    case e4m3 = "fp8_e4m3"
    case e5m2 = "fp8_e5m2"
}

/// Quantization formats (DESIGN.md §5): the value carried in settings, plans and caches. Everything a
/// format does — fit, kernels, encoding, size, labels, plan spelling — is its codec's (`codec`, `Codecs.all`).
public enum QuantFormat: Hashable, Sendable {
    case none
    case int(bits: Int, symmetric: Bool, granularity: Granularity, clip: Clipping)
    /// bitsandbytes NF4 with an absmax per block of `group` values.
    case nf4(group: Int)
    /// `granularity` is `.tensor` or `.channel`.
    case fp8(FP8Format, granularity: Granularity)
    /// A ggml block type: Q8_0, Q4_0, Q4_1, Q5_0, Q5_1.
    case gguf(GGMLType)
    /// k-means weight clustering into `clusters` shared values.
    case kmeans(clusters: Int)
}
