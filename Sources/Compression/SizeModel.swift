import WeightFormats

/// The storage a compressed layer needs, and how it was assumed to be stored.
public struct CompressedSize: Hashable, Sendable {
    /// Exact payload + metadata bits.
    public var bits: Int
    /// Values the size is for (the tensor's element count).
    public var count: Int
    /// The assumed encoding, e.g. "dense int4 g128 + f16 scales", "bitmap + int8 per-channel + f16 scales",
    /// "2:4 + int8 per-channel + f16 scales", "Q4_0 blocks".
    public var encoding: String

    public init(bits: Int, count: Int, encoding: String) {
        self.bits = bits
        self.count = count
        self.encoding = encoding
    }

    /// Whole bytes: `ceil(bits / 8)` for this layer (model totals sum layers' bytes).
    public var bytes: Int { (bits + 7) / 8 }
    /// `bits / count` (0 for an empty tensor).
    public var bitsPerWeight: Double { count == 0 ? 0 : Double(bits) / Double(count) }
}

/// Honest storage sizes (DESIGN.md §5): payload bits, scales and zero points at their storage type, and
/// sparse-index overhead.
///
/// - Values: integer `bits` each; NF4 4; FP8 8; k-means `ceil(log2 k)`; unquantized, the original dtype's size.
/// - Per scale: integer f16 scale (+ a `bits`-bit zero point when asymmetric), one per tensor / row / group;
///   NF4 an f32 absmax per block of `group` (flat order); FP8 an f32 scale per tensor or row; k-means `k` f16
///   centroids per tensor.
/// - GGUF block types (and unquantized tensors stored as ggml blocks) cost exactly their blocks; pruning
///   does not shrink them.
/// - Unstructured pruning (threshold, sparsity, global): the cheaper of dense and a bitmap (1 bit per weight
///   plus the non-zero values after pruning at their cost); scales as for dense; dense wins ties.
/// - N:M: `n/m` of the values plus `ceil(log2 m)` position bits per kept value (2:4 → 2 bits).
/// - Rows: a 1-bit-per-row mask; removed rows cost nothing, including their scales (the kept rows are
///   stored as a `[keptRows, …]` tensor).
public enum SizeModel {
    /// `ceil(log2 k)` (0 for k ≤ 1).
    public static func ceilLog2(_ k: Int) -> Int { k <= 1 ? 0 : Int.bitWidth - (k - 1).leadingZeroBitCount }

    /// Size of one layer after `settings`, for a tensor of `shape` stored originally as `dtype`.
    /// `zerosAfterPruning` (values equal to 0 after pruning, before quantization) sizes the bitmap;
    /// `prunedRows` sizes row pruning.
    public static func size(_ settings: LayerSettings, shape: [Int], originalDType: DType = .float32,
                            zerosAfterPruning: Int = 0, prunedRows: Int = 0) -> CompressedSize {
        let layout = TensorLayout(shape: shape)
        let n = layout.count
        // Block-stored: GGUF targets, or unquantized ggml originals.
        if case .gguf(let t) = settings.quantize {
            return CompressedSize(bits: n / t.blockSize * t.typeSize * 8, count: n, encoding: "\(t.name) blocks")
        }
        if settings.quantize == .none, case .ggml(let t) = originalDType {
            return CompressedSize(bits: n / t.blockSize * t.typeSize * 8, count: n, encoding: "\(t.name) blocks")
        }
        let valueBits = self.valueBits(settings.quantize, originalDType: originalDType)
        let name = quantName(settings.quantize, originalDType: originalDType)
        let overhead = metadataBits(settings.quantize, layout: layout)
        let dense = n * valueBits + overhead

        switch settings.prune {
        case .none:
            return CompressedSize(bits: dense, count: n, encoding: "dense " + name)
        case .threshold, .sparsity, .globalMagnitude:
            let kept = n - min(n, max(0, zerosAfterPruning))
            let bitmap = n + kept * valueBits + overhead
            return bitmap < dense ? CompressedSize(bits: bitmap, count: n, encoding: "bitmap + " + name)
                                  : CompressedSize(bits: dense, count: n, encoding: "dense " + name)
        case .nm(let keep, let m):
            if keep >= m || m <= 0 { return CompressedSize(bits: dense, count: n, encoding: "dense " + name) }
            let kept = n / m * keep
            return CompressedSize(bits: kept * (valueBits + ceilLog2(m)) + overhead, count: n,
                                  encoding: "\(keep):\(m) + " + name)
        case .rows:
            let keptRows = max(0, layout.rows - prunedRows)
            var keptShape = shape
            if shape.count >= 2 { keptShape[0] = keptRows } else { keptShape = [keptRows * layout.rowLength] }
            let keptLayout = TensorLayout(shape: keptShape)
            let bits = layout.rows + keptLayout.count * valueBits + metadataBits(settings.quantize, layout: keptLayout)
            return CompressedSize(bits: bits, count: n, encoding: "row mask + " + name)
        }
    }

    /// Bits per stored value.
    static func valueBits(_ q: QuantFormat, originalDType: DType) -> Int {
        switch q {
        case .none: return Int(originalDType.storedBitsPerWeight)   // whole for non-block dtypes (block ones return above)
        case .int(let bits, _, _, _): return bits
        case .nf4: return 4
        case .fp8: return 8
        case .kmeans(let k): return ceilLog2(k)
        case .gguf(let t): return t.typeSize * 8 / t.blockSize
        }
    }

    /// Scales, zero points, absmaxes and centroids.
    static func metadataBits(_ q: QuantFormat, layout: TensorLayout) -> Int {
        switch q {
        case .none, .gguf: return 0
        case .int(let bits, let symmetric, let granularity, _):
            return layout.segmentCount(granularity) * (16 + (symmetric ? 0 : bits))
        case .nf4(let group): return (layout.count + group - 1) / group * 32
        case .fp8(_, let granularity): return layout.segmentCount(granularity) * 32
        case .kmeans(let k): return k * 16
        }
    }

    static func granularityName(_ g: Granularity) -> String {
        switch g {
        case .tensor: "per-tensor"
        case .channel: "per-channel"
        case .group(let g): "g\(g)"
        }
    }

    /// The quantizer part of the encoding name.
    public static func quantName(_ q: QuantFormat, originalDType: DType = .float32) -> String {
        switch q {
        case .none: return originalDType.description
        case .int(let bits, let symmetric, let g, _):
            return "int\(bits)\(symmetric ? "" : " asym") \(granularityName(g)) + f16 scales" + (symmetric ? "" : " + int\(bits) zero points")
        case .nf4(let group): return "nf4 g\(group) + f32 absmax"
        case .fp8(let f, let g): return "\(f.rawValue) \(granularityName(g)) + f32 scale"
        case .kmeans(let k): return "k-means \(k) (\(ceilLog2(k))-bit codes) + f16 centroids"
        case .gguf(let t): return "\(t.name) blocks"
        }
    }
}
