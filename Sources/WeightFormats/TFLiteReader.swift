/// Reads a TFLite model (a FlatBuffer with identifier `TFL3`, schema tensorflow/compiler/mlir/lite/schema/
/// schema.fbs): every tensor of every subgraph that has constant data, in subgraph and tensor order.
///
/// A tensor's bytes are `Model.buffers[tensor.buffer]`: either the buffer's `data` vector inside the
/// FlatBuffer or, for models over 2 GB, the file range `[offset, offset + size)` past it (`offset > 1`).
/// Buffer 0 is the always-empty sentinel; tensors without data (activations) are not listed. The byte count
/// must equal the shape's element count times the element size (INT4: two per byte, low nibble first).
///
/// Already-quantized weights (INT8/UINT8/INT16/INT4 with `scale`) are shown dequantized,
/// `scale · (q − zero_point)` per tensor or per `quantized_dimension`, as F32 with `storedAs` naming the
/// stored form. Refused with a one-line error: buffer indices out of range, sizes that disagree with the
/// shape, string/resource/variant/complex data, custom or blockwise quantization details, sparse tensors.
public enum TFLiteReader: ModelReader {
    public static let name = "TFLite"
    public static let fileExtensions = [".tflite"]

    /// The FlatBuffer file identifier sits at bytes 4..<8.
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        if head.count >= 8 && Array(head[4..<8]) == Array("TFL3".utf8) { return .signature }
        return name.hasSuffix(".tflite") ? .guess : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        try read(source)
    }

    static func read(_ source: any ByteSource) throws -> Model {
        let path = source.path
        guard source.size >= 8 else { throw ModelError(path, "file is too small for a TFLite model (\(source.size) bytes)") }
        let file = FlatBufferFile(source)
        guard try file.bytes(at: 4, count: 4, "file identifier") == Array("TFL3".utf8) else {
            throw ModelError(path, "is not a TFLite model (no TFL3 identifier at byte 4)")
        }
        let model = try file.root()
        var metadata: [(key: String, value: MetadataValue)] = [("version", .uint(UInt64(try model.u32(0))))]
        if let d = try model.string(3, "model description") { metadata.append(("description", .string(d))) }
        let buffers = try model.tables(4, "buffers")
        let subgraphs = try model.tables(2, "subgraphs")
        var tensors: [Tensor] = []
        for (g, subgraph) in subgraphs.enumerated() {
            let prefix = subgraphs.count > 1 ? "subgraph\(g)/" : ""
            for (i, t) in try subgraph.tables(0, "subgraphs[\(g)].tensors").enumerated() {
                let what = "subgraph \(g) tensor \(i)"
                let bufferIndex = Int(try t.u32(2))
                if bufferIndex == 0 { continue }
                guard bufferIndex < buffers.count else {
                    throw ModelError(path, "\(what): buffer index \(bufferIndex) is out of range (\(buffers.count) buffers)")
                }
                guard let data = try bufferData(buffers[bufferIndex], index: bufferIndex, file: file) else { continue }
                let name = prefix + (try t.string(3, "\(what) name") ?? "tensor\(i)")
                tensors.append(try tensor(t, name: name, data: data, file: file, what: what))
            }
        }
        return Model(path: path, format: .tflite, metadata: metadata, tensors: tensors)
    }

    /// The bytes of buffer `index`, or nil for an empty buffer.
    private static func bufferData(_ buffer: FlatBufferTable, index: Int, file: FlatBufferFile) throws -> (any ByteSource)? {
        let offset = try buffer.u64(1), size = try buffer.u64(2)
        if offset > 1 {
            // Stored past the FlatBuffer (models over 2 GB): an absolute file range.
            guard offset <= file.source.size, size <= file.source.size - offset else {
                throw ModelError(file.path, "buffer \(index): data at offset \(offset) (+\(size) bytes) lies beyond the end of the file (\(file.source.size) bytes)")
            }
            return size == 0 ? nil : try SliceSource(file.source, offset: offset, count: size)
        }
        guard let v = try buffer.vector(0, elementSize: 1, "buffer \(index) data"), v.count > 0 else { return nil }
        return try SliceSource(file.source, offset: v.start, count: UInt64(v.count))
    }

    private static func tensor(_ t: FlatBufferTable, name: String, data: any ByteSource, file: FlatBufferFile,
                               what: String) throws -> Tensor {
        let path = file.path
        let shown = "tensor '\(DisplayText.escaped(name))'"
        let shape = try t.scalars(0, size: 4, "\(what) shape").map { Int(Int32(bitPattern: UInt32(truncatingIfNeeded: $0))) }
        guard let n = Shape.elementCount(shape) else {
            throw ModelError(path, "\(shown): shape \(shape) is negative or overflows")
        }
        if try t.field(6) != nil {
            throw ModelError(path, "\(shown): sparse tensors (SparsityParameters) are not supported")
        }
        let typeCode = try t.u8(1)
        guard let stored = StoredType(rawValue: typeCode) else {
            throw ModelError(path, "\(shown): tensor type \(typeCode) \(StoredType.unsupportedName(typeCode)) is not supported")
        }
        let needed: Int? = stored == .int4 ? (n + 1) / 2 : stored.elementBytes.flatMap { n.multipliedReportingOverflow(by: $0).overflow ? nil : n * $0 }
        guard let needed, UInt64(needed) == data.size else {
            throw ModelError(path, "\(shown): \(stored) \(shape) needs \((stored == .int4 ? (n + 1) / 2 : n &* (stored.elementBytes ?? 0))) bytes but its buffer holds \(data.size)")
        }
        let quantization = try t.table(4, "\(what) quantization")
        var scales: [Float] = [], zeroPoints: [Int64] = [], axis = 0
        if let q = quantization {
            if try q.u8(4) != 0 {
                throw ModelError(path, "\(shown): custom or blockwise quantization details (type \(try q.u8(4))) are not supported")
            }
            scales = try q.scalars(2, size: 4, "\(what) scale").map { Float(bitPattern: UInt32(truncatingIfNeeded: $0)) }
            zeroPoints = try q.scalars(3, size: 8, "\(what) zero_point").map { Int64(bitPattern: $0) }
            axis = Int(try q.i32(6))
        }
        if let plain = stored.plainDType, !(stored.isQuantizable && !scales.isEmpty) {
            return try Tensor(name: name, dtype: plain, shape: shape, data: data)
        }
        // Quantized integers (or INT4, which has no plain dtype): dequantized on read.
        let affine = try AffineDequantization(scales: scales.isEmpty ? [1] : scales, zeroPoints: zeroPoints, axis: axis,
                                              shape: shape, path: path, what: shown)
        let source = ComputedFloatSource(path: path, count: n) { range, out in
            let q = try stored.integers(data, range: range)
            affine.apply(q, first: range.lowerBound, into: out)
        }
        var tensor = try Tensor(name: name, dtype: .float32, shape: shape, data: source)
        // Codes, then the quantization parameters as the flatbuffer stores them: float32 scales, int64 zero points.
        tensor.stored(as: scales.isEmpty ? "\(stored) (no scale)" : "\(stored) \(affine.label)",
                      bytes: Int(data.size) + 4 * scales.count + 8 * zeroPoints.count)
        return tensor
    }

    /// TFLite's `TensorType` values weightlab can read.
    enum StoredType: UInt8, CustomStringConvertible {
        case float32 = 0, float16 = 1, int32 = 2, uint8 = 3, int64 = 4, bool = 6, int16 = 7, int8 = 9
        case float64 = 10, uint64 = 12, uint32 = 15, uint16 = 16, int4 = 17, bfloat16 = 18

        static func unsupportedName(_ code: UInt8) -> String {
            switch code {
            case 5: "(STRING)"
            case 8: "(COMPLEX64)"
            case 11: "(COMPLEX128)"
            case 13: "(RESOURCE)"
            case 14: "(VARIANT)"
            default: "(unknown)"
            }
        }

        var description: String {
            switch self {
            case .int4: "I4"
            default: plainDType!.description
            }
        }

        var plainDType: DType? {
            switch self {
            case .float32: .float32
            case .float16: .float16
            case .int32: .int32
            case .uint8: .uint8
            case .int64: .int64
            case .bool: .bool
            case .int16: .int16
            case .int8: .int8
            case .float64: .float64
            case .uint64: .uint64
            case .uint32: .uint32
            case .uint16: .uint16
            case .bfloat16: .bfloat16
            case .int4: nil
            }
        }

        var elementBytes: Int? { plainDType?.blockBytes }

        /// Integer types whose quantization parameters make them a dequantized weight.
        var isQuantizable: Bool { [.int8, .uint8, .int16, .int32, .int4].contains(self) }

        /// The stored integers of elements `range`, widened.
        func integers(_ data: any ByteSource, range: Range<Int>) throws -> [Int64] {
            switch self {
            case .int4:
                let firstByte = range.lowerBound / 2
                let lastByte = (range.upperBound + 1) / 2
                let raw = try data.bytes(at: UInt64(firstByte), count: lastByte - firstByte)
                return range.map { i in
                    let b = raw[i / 2 - firstByte]
                    let nibble = i % 2 == 0 ? b & 0x0F : b >> 4
                    return Int64(Int8(bitPattern: nibble << 4) >> 4)
                }
            default:
                let size = elementBytes!
                let raw = try data.bytes(at: UInt64(range.lowerBound * size), count: range.count * size)
                return (0..<range.count).map { k in
                    var x: UInt64 = 0
                    for b in 0..<size { x |= UInt64(raw[k * size + b]) << (8 * UInt64(b)) }
                    switch self {
                    case .int8: return Int64(Int8(truncatingIfNeeded: x))
                    case .int16: return Int64(Int16(truncatingIfNeeded: x))
                    case .int32: return Int64(Int32(truncatingIfNeeded: x))
                    default: return Int64(x)
                    }
                }
            }
        }
    }
}

extension ModelFormat {
    public static let tflite = ModelFormat(rawValue: "tflite")
}
