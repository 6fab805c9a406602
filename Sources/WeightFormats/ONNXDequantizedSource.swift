/// An already-quantized ONNX weight read as the floats its operator computes, for analysis like any float
/// weight: `DequantizeLinear`'s `y = (x − zero_point) · scale` (per tensor, per axis or per block) and
/// com.microsoft `MatMulNBits`' blocks of 2-, 4- or 8-bit codes packed along K. The codes stay in the file
/// (read for the range asked); scales and zero points, one per block at most, are held. The bytes it gives
/// are little-endian F32, computed in Float32 as ONNX Runtime's CPU kernels do (`Float(q − zp) · scale`).
final class ONNXDequantizedSource: ByteSource, @unchecked Sendable {
    /// Where element `i`'s code is.
    enum CodeLayout {
        /// Row-major elements of `dataType` as in `raw_data` (sub-byte types packed).
        case dense(dataType: Int64)
        /// MatMulNBits B: `[N, kBlocks, blob]` bytes, `bits` per code, `K` codes per row.
        case nbits(bits: Int, k: Int, blockSize: Int, blob: Int, kBlocks: Int)
    }

    /// Which scale element `i` uses.
    enum ScaleMap {
        case tensor
        /// `(i / stride) % dimension`.
        case axis(stride: Int, dimension: Int)
        /// Blocks of `block` along an axis of `dimension` (with `stride` elements after it), `blocks` scales along it.
        case blocked(stride: Int, dimension: Int, block: Int, blocks: Int)
        /// MatMulNBits: row `i / K`, block `(i % K) / blockSize`.
        case nbits(k: Int, blockSize: Int, kBlocks: Int)

        func index(_ i: Int) -> Int {
            switch self {
            case .tensor: return 0
            case .axis(let stride, let dimension): return (i / stride) % dimension
            case .blocked(let stride, let dimension, let block, let blocks):
                let c = (i / stride) % dimension, outer = i / (stride * dimension), inner = i % stride
                return (outer * blocks + c / block) * stride + inner
            case .nbits(let k, let blockSize, let kBlocks): return (i / k) * kBlocks + (i % k) / blockSize
            }
        }
    }

    let path: String
    let size: UInt64
    let count: Int
    private let codes: any ByteSource
    private let layout: CodeLayout
    private let map: ScaleMap
    private let scales: [Float]
    /// Per scale; empty: every zero point is `defaultZero`.
    private let zeros: [Float]
    private let defaultZero: Float

    init(codes: any ByteSource, layout: CodeLayout, count: Int, map: ScaleMap, scales: [Float], zeros: [Float],
         defaultZero: Float, path: String) {
        self.codes = codes
        self.layout = layout
        self.count = count
        self.map = map
        self.scales = scales
        self.zeros = zeros
        self.defaultZero = defaultZero
        self.path = path
        self.size = UInt64(count) * 4
    }

    /// The code of element `i` as a Float, from `bytes` holding the code bytes from `base` on.
    @inline(__always)
    private func code(_ bytes: UnsafeRawBufferPointer, base: Int, _ i: Int) -> Float {
        switch layout {
        case .dense(let t):
            switch t {
            case ONNXDataType.int8: return Float(Int8(bitPattern: bytes[i - base]))
            case ONNXDataType.uint8: return Float(bytes[i - base])
            case ONNXDataType.int16: return Float(Int16(bitPattern: bytes.loadUnaligned(fromByteOffset: 2 * i - base, as: UInt16.self).littleEndian))
            case ONNXDataType.uint16: return Float(bytes.loadUnaligned(fromByteOffset: 2 * i - base, as: UInt16.self).littleEndian)
            case ONNXDataType.int32: return Float(Int32(bitPattern: bytes.loadUnaligned(fromByteOffset: 4 * i - base, as: UInt32.self).littleEndian))
            case ONNXDataType.int4, ONNXDataType.uint4:
                let b = bytes[i / 2 - base]
                let v = Int32(i % 2 == 0 ? b & 0xF : b >> 4)
                return Float(t == ONNXDataType.int4 && v >= 8 ? v - 16 : v)
            case ONNXDataType.int2, ONNXDataType.uint2:
                let v = Int32((bytes[i / 4 - base] >> UInt8(2 * (i % 4))) & 3)
                return Float(t == ONNXDataType.int2 && v >= 2 ? v - 4 : v)
            case ONNXDataType.float8e4m3fn: return FP8Tables.e4m3[Int(bytes[i - base])]
            case ONNXDataType.float8e5m2: return FP8Tables.e5m2[Int(bytes[i - base])]
            default: return ONNXDataType.float8Value(bytes[i - base], type: t) ?? .nan
            }
        case .nbits(let bits, let k, let blockSize, let blob, let kBlocks):
            let row = i / k, column = i % k
            let bit = (column % blockSize) * bits
            let at = row * kBlocks * blob + (column / blockSize) * blob + bit / 8
            return Float((bytes[at - base] >> UInt8(bit % 8)) & UInt8((1 << bits) - 1))
        }
    }

    /// The code bytes elements `range` need, as a byte range of `codes`.
    private func codeBytes(_ range: Range<Int>) -> Range<Int> {
        switch layout {
        case .dense(let t):
            let bits = ONNXDataType.elementBits(t) ?? 8
            return (range.lowerBound * bits) / 8 ..< min(Int(codes.size), (range.upperBound * bits + 7) / 8)
        case .nbits(_, let k, _, let blob, let kBlocks):
            let rowBytes = kBlocks * blob
            return (range.lowerBound / k) * rowBytes ..< min(Int(codes.size), ((range.upperBound - 1) / k + 1) * rowBytes)
        }
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside \(size) bytes")
        }
        if buffer.count == 0 { return }
        let first = Int(offset / 4), last = Int((offset + UInt64(buffer.count) + 3) / 4)
        let span = codeBytes(first..<last)
        let raw = try codes.bytes(at: UInt64(span.lowerBound), count: span.count)
        var values = [Float](repeating: 0, count: last - first)
        raw.withUnsafeBytes { r in
            for i in first..<last {
                let s = map.index(i)
                let z = zeros.isEmpty ? defaultZero : zeros[s]
                values[i - first] = (code(r, base: span.lowerBound, i) - z) * scales[s]
            }
        }
        values.withUnsafeBytes { v in
            let skip = Int(offset) - first * 4
            buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: v[skip..<(skip + buffer.count)]))
        }
    }
}
