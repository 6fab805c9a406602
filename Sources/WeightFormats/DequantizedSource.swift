/// A PyTorch quantized tensor shown as the F32 values it stands for: each stored integer q becomes
/// `(q - zero_point) · scale` (affine schemes, computed in Double as ATen's `dequantize_val` does) or
/// `q · scale + zero_point` (`per_channel_affine_float_qparams`), with one scale and zero point for the
/// tensor or one per slice along `axis`. The integers are read from `quantized` on each read.
final class DequantizedSource: ByteSource, @unchecked Sendable {
    let quantized: any ByteSource
    let integer: DType
    let byteOrder: ByteOrder
    let count: Int
    let scales: [Double]
    let zeroPoints: [Double]
    let floatZeroPoints: Bool
    /// Per channel: elements per step along the axis, and the axis length; per tensor: (count, 1).
    let inner: Int
    let channels: Int
    var size: UInt64 { UInt64(count * 4) }
    var path: String { quantized.path }

    init(quantized: any ByteSource, integer: DType, byteOrder: ByteOrder, count: Int, scales: [Double],
         zeroPoints: [Double], floatZeroPoints: Bool, inner: Int, channels: Int) {
        self.quantized = quantized
        self.integer = integer
        self.byteOrder = byteOrder
        self.count = count
        self.scales = scales
        self.zeroPoints = zeroPoints
        self.floatZeroPoints = floatZeroPoints
        self.inner = max(inner, 1)
        self.channels = max(channels, 1)
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        try ElementRangeRead.read(at: offset, into: buffer, size: size, elementBytes: 4, path: path) { first, n, out in
            let width = integer.blockBytes
            let raw = try quantized.bytes(at: UInt64(first * width), count: n * width)
            var q = [Float](repeating: 0, count: n)
            try raw.withUnsafeBytes { r in
                try q.withUnsafeMutableBufferPointer { try ElementDecoder.decode(r, dtype: integer, byteOrder: byteOrder, count: n, into: $0, path: path) }
            }
            for k in 0..<n {
                let c = scales.count == 1 ? 0 : ((first + k) / inner) % channels
                let v = floatZeroPoints ? Double(q[k]) * scales[c] + zeroPoints[c] : (Double(q[k]) - zeroPoints[c]) * scales[c]
                out.storeBytes(of: Float(v).bitPattern.littleEndian, toByteOffset: 4 * k, as: UInt32.self)
            }
        }
    }
}
