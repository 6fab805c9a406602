import WeightFormats

/// How one int-quantized layer is stored in ONNX's QDQ form: its codes as an INT4/UINT4 (2–4 bits) or
/// INT8/UINT8 (5–8 bits) initializer, a FLOAT scale, a zero point of the codes' type for asymmetric grids, and
/// a `DequantizeLinear` computing `(q − zero_point) · scale` in Float32, which is the engine's reconstruction
/// bit for bit (the same product the int codec's decoder computes, with the same Float32 scale).
///
/// Scales follow the grid (`TensorLayout`): one per tensor (a scalar scale), one per row of dimension 0
/// (per-axis, `axis = 0`, opset 13), or one per run of `g` along the last dimension (blocked,
/// `axis = rank − 1`, `block_size = g`, opset 21; the scale has the weight's rank with the last dimension
/// `ceil(last / g)`). 4-bit codes need opset 21 (INT4/UINT4 arrived with IR 10).
public struct ONNXQDQ: Equatable, Sendable {
    /// ONNX data type of the codes (and zero point).
    public var codeType: Int64
    public var bits: Int
    public var scaleDims: [Int]
    public var axis: Int?
    public var blockSize: Int?
    public var hasZeroPoint: Bool
    /// The lowest `ai.onnx` opset whose DequantizeLinear holds this.
    public var minimumOpset: Int64

    static let int8: Int64 = 3, uint8: Int64 = 2, int4: Int64 = 22, uint4: Int64 = 21

    public init?(_ settings: LayerSettings, shape: [Int]) {
        guard let codec = IntCodec(settings.quantize) else { return nil }
        bits = codec.bits <= 4 ? 4 : 8
        codeType = codec.symmetric ? (bits == 4 ? Self.int4 : Self.int8) : (bits == 4 ? Self.uint4 : Self.uint8)
        hasZeroPoint = !codec.symmetric
        var opset: Int64 = bits == 4 ? 21 : 10
        switch codec.granularity {
        case .tensor:
            scaleDims = []
        case .channel:
            if shape.count >= 2 {
                scaleDims = [shape[0]]
                axis = 0
                opset = max(opset, 13)
            } else {
                scaleDims = []
            }
        case .group(let g):
            if shape.isEmpty {
                scaleDims = []
            } else {
                let last = shape[shape.count - 1]
                scaleDims = Array(shape.dropLast()) + [(last + g - 1) / g]
                axis = shape.count - 1
                blockSize = g
                opset = 21
            }
        }
        minimumOpset = opset
    }

    /// Bytes of the codes for `count` elements (4-bit codes two to a byte, the first in the low nibble).
    public func codeBytes(count: Int) -> Int { bits == 4 ? (count + 1) / 2 : count }

    public var scaleCount: Int { scaleDims.reduce(1, *) }

    /// The stored codes, scales (little-endian F32) and zero points of `encoded` (the int codec's
    /// encoding: signed codes for symmetric grids, unsigned codes and zero points for asymmetric ones).
    public func pack(_ encoded: EncodedTensor) throws -> (codes: [UInt8], scales: [UInt8], zeros: [UInt8]) {
        let n = encoded.shape.reduce(1, *)
        let codes = try encoded.part("codes")
        guard codes.bytes.count == n else { throw CompressionError("codes hold \(codes.bytes.count) bytes for \(n) values") }
        let scales = try encoded.part("scales")
        guard scales.bytes.count == scaleCount * 4 else {
            throw CompressionError("\(scales.bytes.count / 4) scales for an ONNX scale of shape \(scaleDims)")
        }
        var zeros: [UInt8] = []
        if hasZeroPoint {
            zeros = try encoded.part("zero_points").bytes
            guard zeros.count == scaleCount else { throw CompressionError("\(zeros.count) zero points for \(scaleCount) scales") }
        }
        return (Self.packed(codes.bytes, bits: bits), scales.bytes, Self.packed(zeros, bits: bits))
    }

    /// 4-bit values two to a byte, the first in the low nibble (ONNX's INT4/UINT4 raw_data); 8-bit as they are.
    static func packed(_ values: [UInt8], bits: Int) -> [UInt8] {
        guard bits == 4 else { return values }
        var out = [UInt8](repeating: 0, count: (values.count + 1) / 2)
        for (i, v) in values.enumerated() { out[i / 2] |= (v & 0xF) << UInt8(4 * (i % 2)) }
        return out
    }
}
