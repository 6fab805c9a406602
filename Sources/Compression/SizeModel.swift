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
/// - Values and metadata (scales, zero points, absmax, centroids): as the format's codec accounts them
///   (`Codec.valueBits`, `Codec.metadataBits`); unquantized, the original dtype's size.
/// - Block formats (`Codec.blockBits`: ggml types, and unquantized tensors stored as ggml blocks) cost
///   exactly their blocks; pruning does not shrink them.
/// - Unstructured pruning (threshold, sparsity, global): the cheaper of dense and a bitmap (1 bit per weight
///   plus the non-zero values after pruning at their cost); scales as for dense; dense wins ties.
/// - N:M: `n/m` of the values plus `ceil(log2 m)` position bits per kept value (2:4 → 2 bits).
/// - Rows: a 1-bit-per-row mask; removed rows cost nothing, including their scales (the kept rows are
///   stored as a `[keptRows, …]` tensor).
public enum SizeModel {
    /// An already-quantized tensor (`Tensor.storedBytes`: ONNX QDQ, TFLite int8, PyTorch quantized) left as it
    /// is costs what its file stores, as an unquantized GGUF quant type costs its blocks; nil when `settings`
    /// change it (then it is sized from the F32 values it is shown as, like any float tensor).
    public static func asStored(_ settings: LayerSettings, count: Int, storedBytes: Int?) -> CompressedSize? {
        guard settings.isIdentity, let storedBytes else { return nil }
        return CompressedSize(bits: storedBytes * 8, count: count, encoding: "as stored")
    }

    /// `ceil(log2 k)` (0 for k ≤ 1).
    public static func ceilLog2(_ k: Int) -> Int { k <= 1 ? 0 : Int.bitWidth - (k - 1).leadingZeroBitCount }

    /// Size of one layer after `settings`, for a tensor of `shape` stored originally as `dtype`.
    /// `zerosAfterPruning` (values equal to 0 after pruning, before quantization) sizes the bitmap;
    /// `prunedRows` sizes row pruning.
    public static func size(_ settings: LayerSettings, shape: [Int], originalDType: DType = .float32,
                            zerosAfterPruning: Int = 0, prunedRows: Int = 0) -> CompressedSize {
        let layout = TensorLayout(shape: shape)
        let n = layout.count
        let codec = settings.quantize.codec
        // Block-stored: ggml targets, or unquantized ggml originals.
        if let bits = codec?.blockBits(count: n) {
            return CompressedSize(bits: bits, count: n, encoding: codec!.storageName)
        }
        if codec == nil, case .ggml(let t) = originalDType {
            return CompressedSize(bits: n / t.blockSize * t.typeSize * 8, count: n, encoding: "\(t.name) blocks")
        }
        let valueBits = codec?.valueBits ?? Int(originalDType.storedBitsPerWeight)   // whole for non-block dtypes (block ones return above)
        let name = codec?.storageName ?? originalDType.description
        let overhead = codec?.metadataBits(layout) ?? 0
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
            let bits = layout.rows + keptLayout.count * valueBits + (codec?.metadataBits(keptLayout) ?? 0)
            return CompressedSize(bits: bits, count: n, encoding: "row mask + " + name)
        }
    }

    /// The quantizer part of the encoding name (the codec's, or the original dtype when unquantized).
    public static func quantName(_ q: QuantFormat, originalDType: DType = .float32) -> String {
        q.codec?.storageName ?? originalDType.description
    }
}
