/// The little-endian F32 bytes of values computed on read from other stored data: an already-quantized
/// weight dequantized with its scales (TFLite per-axis int8, int4), or a pruned kernel multiplied by its
/// mask (TFMOT). The tensor built on it is an ordinary F32 tensor, so every analysis, report and writer
/// works on it unchanged; what was actually stored is said by `Tensor.storedAs`.
///
/// `compute(range, out)` fills `out` with the elements `range` (row-major). Reads of any byte range work:
/// the covering elements are computed and the requested bytes copied out.
final class ComputedFloatSource: ByteSource, @unchecked Sendable {
    let path: String
    let size: UInt64
    let count: Int
    private let compute: @Sendable (Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void

    init(path: String, count: Int, compute: @escaping @Sendable (Range<Int>, UnsafeMutableBufferPointer<Float>) throws -> Void) {
        self.path = path
        self.count = count
        self.size = UInt64(count) * 4
        self.compute = compute
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside \(size) bytes")
        }
        if buffer.isEmpty { return }
        let first = Int(offset / 4)
        let last = Int((offset + UInt64(buffer.count) + 3) / 4)
        let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: last - first)
        defer { values.deallocate() }
        try compute(first..<last, values)
        if ByteOrder.host == .big {
            for i in values.indices { values[i] = Float(bitPattern: values[i].bitPattern.littleEndian) }
        }
        let skip = Int(offset) - 4 * first
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(values)[skip..<(skip + buffer.count)]))
    }
}

/// Per-tensor or per-axis affine quantization, `value = scale[c] · (q − zeroPoint[c])` where `c` is the
/// index along `axis` (TFLite `QuantizationParameters`, TF/Keras per-channel quantization). One scale means
/// per-tensor. Computed in Float like TFLite's reference dequantize kernel.
struct AffineDequantization: Sendable {
    let scales: [Float]
    let zeroPoints: [Int64]
    let axis: Int
    /// Elements between consecutive indices along `axis` (the product of the later dimensions).
    let stride: Int
    let axisLength: Int

    /// Checks the parameters against the tensor's shape: one scale or one per index along `axis`, zero
    /// points absent, one, or as many as the scales. `what` names the tensor in errors.
    init(scales: [Float], zeroPoints: [Int64], axis: Int, shape: [Int], path: String, what: String) throws {
        guard !scales.isEmpty else { throw ModelError(path, "\(what): quantized without a scale") }
        guard zeroPoints.isEmpty || zeroPoints.count == 1 || zeroPoints.count == scales.count else {
            throw ModelError(path, "\(what): \(zeroPoints.count) zero points for \(scales.count) scales")
        }
        if scales.count > 1 {
            guard axis >= 0, axis < shape.count else {
                throw ModelError(path, "\(what): quantized dimension \(axis) is outside the shape \(shape)")
            }
            guard shape[axis] == scales.count else {
                throw ModelError(path, "\(what): \(scales.count) scales for dimension \(axis) of length \(shape[axis])")
            }
        }
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.axis = scales.count > 1 ? axis : 0
        self.axisLength = scales.count
        self.stride = scales.count > 1 ? max(1, Shape.elementCount(Array(shape[(axis + 1)...])) ?? 1) : 1
    }

    var isPerAxis: Bool { scales.count > 1 }

    /// Dequantizes stored integers `q` (already widened) of elements starting at `first`.
    func apply(_ q: [Int64], first: Int, into out: UnsafeMutableBufferPointer<Float>) {
        for (k, v) in q.enumerated() {
            let c = axisLength == 1 ? 0 : ((first + k) / stride) % axisLength
            let zp = zeroPoints.isEmpty ? 0 : zeroPoints[zeroPoints.count == 1 ? 0 : c]
            out[k] = scales[c] * Float(v &- zp)
        }
    }

    /// "per-axis (dim 0, 8 scales)" or "per-tensor".
    var label: String { isPerAxis ? "per-axis (dim \(axis), \(scales.count) scales)" : "per-tensor" }
}
