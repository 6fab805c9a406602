import WeightFormats

/// The entry point of ggml block quantization (every row of `GGMLBlockCodec.traits`: the 32-value types below,
/// the K-quants and IQ4 of `GGMLKQuantizer`, blocks spread over the cores), and ggml's reference block
/// quantizers for Q8_0, Q4_0, Q4_1, Q5_0 and Q5_1, producing the same bytes as
/// `gguf.quants.quantize` of gguf-py 0.19.0 (itself bit-exact with ggml-quants.c), in Float32 arithmetic:
///
/// - Q8_0: `d = amax/127`, `id = d == 0 ? 0 : 1/d`, `q = round_half_away(x·id)`; block `f16 d, i8 q[32]`.
/// - Q4_0: `max` = the signed value of largest magnitude (first one on ties), `d = max / −8`,
///   `q = min(15, trunc(x·id + 8.5))`; block `f16 d, u8 qs[16]` (element j low nibble, j+16 high nibble).
/// - Q4_1: `d = (max − min)/15`, `q = min(15, trunc((x − min)·id + 0.5))`; block `f16 d, f16 m = min, u8 qs[16]`.
/// - Q5_0: like Q4_0 with `d = max / −16`, `q = min(31, trunc(x·id + 16.5))`; block `f16 d, u8 qh[4], u8 qs[16]`
///   (bit j of the little-endian u32 qh is bit 4 of element j).
/// - Q5_1: like Q4_1 with 31 levels; block `f16 d, f16 m, u8 qh[4], u8 qs[16]`.
///
/// `d` and `m` are converted to float16 only when stored (round to nearest even); the codes use the
/// Float32 `d`. Reconstruction goes through `WeightFormats.ElementDecoder`, the same decoder that reads GGUF
/// files, so the fake-quantized values are exactly what a GGUF reader would produce.
public enum GGUFBlockQuantizer {
    /// The types with a block quantizer: the rows of `GGMLBlockCodec.traits`.
    public static var supported: [GGMLType] { GGMLBlockCodec.traits.map(\.type) }

    public static func canQuantize(_ type: GGMLType) -> Bool { GGMLBlockCodec.traits(of: type) != nil }

    /// Bytes for `count` values (a multiple of the block size).
    public static func byteCount(_ type: GGMLType, count: Int) -> Int { count / type.blockSize * type.typeSize }

    /// Quantizes `values` (a multiple of the block size, in flat order) into ggml blocks.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, type: GGMLType) -> [UInt8] {
        let count = byteCount(type, count: values.count)
        guard type == .q8_0 || type == .q4_0 else {
            var out = [UInt8](repeating: 0, count: count)
            out.withUnsafeMutableBytes { quantize(values, type: type, into: $0) }
            return out
        }
        // The Q8_0 and Q4_0 kernels store every byte of every block: no zero-filling first (it was 3.5 % of
        // apply's time).
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            quantize(values, type: type, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = count
        }
    }

    /// Quantizes into caller-provided storage of `byteCount(type, count:)` bytes.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, type: GGMLType, into out: UnsafeMutableRawBufferPointer) {
        guard let traits = GGMLBlockCodec.traits(of: type) else { preconditionFailure("cannot quantize to \(type.name)") }
        let size = type.blockSize
        precondition(values.count % size == 0, "\(type.name) needs a multiple of \(size) values")
        precondition(out.count >= byteCount(type, count: values.count))
        let blocks = values.count / size
        if type == .q8_0 || type == .q4_0 {
            // The vector kernels of GGUFBlockKernels.swift, a task's blocks in one call.
            let x = values.baseAddress!, o = out.baseAddress!, perTask = 1 << 9
            KernelWork.forEach((blocks + perTask - 1) / perTask, totalWork: values.count) { t in
                let first = t * perTask, count = min(blocks, first + perTask) - first
                if type == .q8_0 {
                    q8_0Blocks(x + first * 32, o + first * 34, count: count)
                } else {
                    q4_0Blocks(x + first * 32, o + first * 18, count: count)
                }
            }
            return
        }
        let perTask = max(1, (size == 256 ? 1 << 12 : 1 << 14) / size)
        let tasks = (blocks + perTask - 1) / perTask
        KernelWork.forEach(tasks, totalWork: values.count) { t in
            for b in (t * perTask) ..< min(blocks, (t + 1) * perTask) {
                let x = UnsafeBufferPointer(rebasing: values[(b * size) ..< (b * size + size)])
                let o = UnsafeMutableRawBufferPointer(rebasing: out[(b * type.typeSize) ..< ((b + 1) * type.typeSize)])
                traits.quantizeBlock(x, o)
            }
        }
    }

    /// Quantizes rows of `rowLength` values with ggml's importance-matrix path: `importance` holds one weight
    /// per column (ggml's `quant_weights`, the imatrix entry of this tensor). Rows are spread over the cores.
    /// Types without such a path (Q8_0) quantize as without weights, as ggml does.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, type: GGMLType, rowLength: Int,
                                importance: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawBufferPointer) {
        guard let traits = GGMLBlockCodec.traits(of: type) else { preconditionFailure("cannot quantize to \(type.name)") }
        guard let weighted = traits.quantizeWeightedRow else { return quantize(values, type: type, into: out) }
        precondition(rowLength > 0 && rowLength % type.blockSize == 0 && values.count % rowLength == 0)
        precondition(importance.count == rowLength, "one importance weight per column")
        let rows = values.count / rowLength
        let rowBytes = byteCount(type, count: rowLength)
        precondition(out.count >= rows * rowBytes)
        KernelWork.forEach(rows, totalWork: values.count * 4) { r in
            weighted(UnsafeBufferPointer(rebasing: values[(r * rowLength) ..< ((r + 1) * rowLength)]), importance,
                     UnsafeMutableRawBufferPointer(rebasing: out[(r * rowBytes) ..< ((r + 1) * rowBytes)]))
        }
    }

    /// `quantize(_:type:rowLength:importance:into:)` into a new array.
    public static func quantize(_ values: UnsafeBufferPointer<Float>, type: GGMLType, rowLength: Int,
                                importance: UnsafeBufferPointer<Float>) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: byteCount(type, count: values.count))
        out.withUnsafeMutableBytes { quantize(values, type: type, rowLength: rowLength, importance: importance, into: $0) }
        return out
    }

    /// Quantizes to `type` and decodes the blocks back through `ElementDecoder` into `output`.
    public static func fakeQuantize(_ input: UnsafeBufferPointer<Float>, type: GGMLType,
                                    into output: UnsafeMutableBufferPointer<Float>) throws {
        let bytes = quantize(input, type: type)
        try bytes.withUnsafeBytes { raw in
            try ElementDecoder.decode(raw, dtype: .ggml(type), byteOrder: .little, count: input.count,
                                      into: output, path: "\(type.name) blocks")
        }
    }

    @inline(__always)
    private static func storeHalf(_ v: Float, _ o: UnsafeMutableRawBufferPointer, _ offset: Int) {
        o.storeBytes(of: Float16(v).bitPattern.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    /// `clamp(trunc(v), 0, top)` as a code (NaN gives `top` instead of trapping).
    @inline(__always)
    private static func truncated(_ v: Float, _ top: Float) -> UInt8 {
        UInt8(max(0, min(top, v.rounded(.towardZero))))
    }

    /// The value of largest magnitude, with its sign (the first on ties, like numpy's argmax).
    @inline(__always)
    private static func signedAbsMax(_ x: UnsafeBufferPointer<Float>) -> Float {
        var best: Float = 0, bestAbs: Float = -1
        for v in x where abs(v) > bestAbs { bestAbs = abs(v); best = v }
        return best
    }

    /// One Q8_0 block through the vector kernel (the codec table's entry).
    static func q8_0(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        q8_0Blocks(x.baseAddress!, o.baseAddress!, count: 1)
    }

    /// ggml's `quantize_row_q8_0_ref` for one block, element by element: the blocks the kernel leaves aside.
    static func q8_0Reference(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        var amax: Float = 0
        for v in x { amax = max(amax, abs(v)) }
        let d = amax / 127
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, o, 0)
        for j in 0..<32 {
            o[2 + j] = UInt8(bitPattern: Int8(max(-128, min(127, roundedHalfAway(x[j] * id)))))
        }
    }

    /// `roundf` (half away from zero) without a library call: `v − trunc(v)` is exact for |v| < 2^23, and
    /// larger values (and NaN, clamped by the caller) are returned as they are. Baseline x86-64 has no
    /// rounding instruction, so `rounded(.toNearestOrAwayFromZero)` calls libm for every element.
    @inline(__always)
    static func roundedHalfAway(_ v: Float) -> Float {
        guard abs(v) < 8_388_608 else { return v }
        let t = Float(Int32(v))
        let r = v - t
        return r >= 0.5 ? t + 1 : (r <= -0.5 ? t - 1 : t)
    }

    /// One Q4_0 block through the vector kernel (the codec table's entry).
    static func q4_0(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        q4_0Blocks(x.baseAddress!, o.baseAddress!, count: 1)
    }

    /// ggml's `quantize_row_q4_0_ref` for one block, element by element: the blocks the kernel leaves aside.
    static func q4_0Reference(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        let d = signedAbsMax(x) / -8
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, o, 0)
        for j in 0..<16 {
            let a = truncated((x[j] * id + 8.5), 15)
            let b = truncated((x[j + 16] * id + 8.5), 15)
            o[2 + j] = a | b << 4
        }
    }

    static func q4_1(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        var lo = x[0], hi = x[0]
        for v in x { lo = min(lo, v); hi = max(hi, v) }
        let d = (hi - lo) / 15
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, o, 0)
        storeHalf(lo, o, 2)
        for j in 0..<16 {
            let a = truncated(((x[j] - lo) * id + 0.5), 15)
            let b = truncated(((x[j + 16] - lo) * id + 0.5), 15)
            o[4 + j] = a | b << 4
        }
    }

    static func q5_0(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        let d = signedAbsMax(x) / -16
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, o, 0)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = truncated((x[j] * id + 16.5), 31)
            let b = truncated((x[j + 16] * id + 16.5), 31)
            o[6 + j] = (a & 0x0F) | (b & 0x0F) << 4
            qh |= UInt32(a >> 4) << UInt32(j) | UInt32(b >> 4) << UInt32(j + 16)
        }
        o.storeBytes(of: qh.littleEndian, toByteOffset: 2, as: UInt32.self)
    }

    static func q5_1(_ x: UnsafeBufferPointer<Float>, _ o: UnsafeMutableRawBufferPointer) {
        var lo = x[0], hi = x[0]
        for v in x { lo = min(lo, v); hi = max(hi, v) }
        let d = (hi - lo) / 31
        let id: Float = d == 0 ? 0 : 1 / d
        storeHalf(d, o, 0)
        storeHalf(lo, o, 2)
        var qh: UInt32 = 0
        for j in 0..<16 {
            let a = truncated(((x[j] - lo) * id + 0.5), 31)
            let b = truncated(((x[j + 16] - lo) * id + 0.5), 31)
            o[8 + j] = (a & 0x0F) | (b & 0x0F) << 4
            qh |= UInt32(a >> 4) << UInt32(j) | UInt32(b >> 4) << UInt32(j + 16)
        }
        o.storeBytes(of: qh.littleEndian, toByteOffset: 4, as: UInt32.self)
    }
}
