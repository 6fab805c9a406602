/// One `TensorProto` as found in the file: its metadata and where its elements are, not the elements.
/// `raw_data` and packed `float_data`/`double_data` are read in place later (a slice of the file); the
/// varint-encoded fields (`int32_data`, `int64_data`, `uint64_data`) and unpacked encodings are decoded into
/// memory when the tensor is opened, since their elements have no fixed position in the file.
struct ONNXTensorProto {
    var name = ""
    var dims: [Int64] = []
    var dataType: Int64 = 0
    /// The message's bytes in the file (to walk again for typed fields).
    var range: Range<UInt64> = 0..<0
    var raw: Range<UInt64>?
    /// The typed field holding the elements (4, 5, 7, 10 or 11) and how many times it occurs.
    var typedField: UInt64?
    var typedOccurrences = 0
    var stringCount = 0
    var external: [(key: String, value: String)] = []
    var dataLocation: Int64 = 0
    var hasSegment = false

    static let maxDims = 64

    /// Parses the message at `range`.
    static func parse(_ wire: inout ProtobufWire, _ range: Range<UInt64>) throws -> ONNXTensorProto {
        var t = ONNXTensorProto()
        t.range = range
        var dims: [Int64] = []
        try wire.forEachField(in: range) { w, f in
            switch f.number {
            case 1: try w.integers(f, into: &dims, max: maxDims, what: "tensor dims at offset \(range.lowerBound)")
            case 2: t.dataType = Int64(bitPattern: f.value)
            case 3: t.hasSegment = true
            case 4, 5, 7, 10, 11:
                if let other = t.typedField, other != f.number {
                    throw ModelError(w.path, "tensor at offset \(range.lowerBound) has elements in two fields (\(other) and \(f.number))")
                }
                t.typedField = f.number
                t.typedOccurrences += 1
            case 6: t.stringCount += 1
            case 8: t.name = try w.string(f, what: "tensor name")
            case 9:
                guard f.type == .length else { throw ModelError(w.path, "raw_data at offset \(f.range.lowerBound) is not bytes") }
                t.raw = f.range
            case 13:
                var key = "", value = ""
                guard f.type == .length else { throw ModelError(w.path, "external_data at offset \(f.range.lowerBound) is not a message") }
                try w.forEachField(in: f.range) { w2, e in
                    if e.number == 1 { key = try w2.string(e, what: "external_data key") }
                    if e.number == 2 { value = try w2.string(e, what: "external_data value") }
                }
                t.external.append((key, value))
            case 14: t.dataLocation = Int64(bitPattern: f.value)
            default: break
            }
        }
        t.dims = dims
        return t
    }

    /// The shape as Ints, checked: no negative dimension, no overflowing product.
    func shape(path: String) throws -> (shape: [Int], count: Int) {
        let shape = dims.map { Int($0) }
        guard let n = Shape.elementCount(shape) else {
            throw ModelError(path, "tensor '\(DisplayText.escaped(name))': dims \(dims) are negative or overflow")
        }
        return (shape, n)
    }

    /// The tensor's elements as `raw_data` would hold them (little-endian, sub-byte types packed), exactly
    /// `ONNXDataType.rawBytes` long: a slice of the file where they lie there, else decoded into memory.
    func rawSource(_ wire: inout ProtobufWire, count: Int, external: ONNXExternalData) throws -> any ByteSource {
        let path = wire.path
        let shown = "tensor '\(DisplayText.escaped(name))'"
        guard !hasSegment else { throw ModelError(path, "\(shown) is stored in segments, which ONNX itself no longer reads") }
        guard let needed = ONNXDataType.rawBytes(dataType, count: count) else {
            throw ModelError(path, "\(shown) has \(ONNXDataType.name(dataType)), which holds no numbers")
        }
        if dataLocation == 1 {
            guard raw == nil && typedField == nil else { throw ModelError(path, "\(shown) is external but also holds data in the file") }
            return try external.source(tensor: name, entries: self.external, count: needed)
        }
        if let raw {
            guard typedField == nil else { throw ModelError(path, "\(shown) holds both raw_data and a typed data field") }
            guard raw.count >= needed else {
                throw ModelError(path, "\(shown): raw_data holds \(raw.count) bytes, \(ONNXDataType.name(dataType)) \(dims) needs \(needed)")
            }
            return try SliceSource(wire.source, offset: raw.lowerBound, count: UInt64(needed))
        }
        guard let field = typedField else {
            guard count == 0 else { throw ModelError(path, "\(shown) has \(count) elements but no data") }
            return MemorySource([], path: path)
        }
        return try typedSource(&wire, field: field, count: count, needed: needed)
    }

    /// Elements from a typed field (onnx.proto3's table of which field holds which type), converted to
    /// `raw_data` bytes.
    private func typedSource(_ wire: inout ProtobufWire, field: UInt64, count: Int, needed: Int) throws -> any ByteSource {
        let path = wire.path
        let shown = "tensor '\(DisplayText.escaped(name))'"
        let t = dataType
        // Entries the field must hold, and bytes each becomes in raw_data.
        let entries: Int, width: Int
        let expectedField: UInt64
        switch t {
        case ONNXDataType.float, ONNXDataType.complex64: expectedField = 4; width = 4; entries = needed / 4
        case ONNXDataType.double, ONNXDataType.complex128: expectedField = 10; width = 8; entries = needed / 8
        case ONNXDataType.int64: expectedField = 7; width = 8; entries = count
        case ONNXDataType.uint32: expectedField = 11; width = 4; entries = count
        case ONNXDataType.uint64: expectedField = 11; width = 8; entries = count
        case ONNXDataType.int32: expectedField = 5; width = 4; entries = count
        case ONNXDataType.int16, ONNXDataType.uint16, ONNXDataType.float16, ONNXDataType.bfloat16:
            expectedField = 5; width = 2; entries = count
        case ONNXDataType.int4, ONNXDataType.uint4, ONNXDataType.float4e2m1, ONNXDataType.int2, ONNXDataType.uint2:
            // One byte per int32 entry holding two (four) elements.
            expectedField = 5; width = 1; entries = needed
        default:
            expectedField = 5; width = 1; entries = count
        }
        guard field == expectedField else {
            throw ModelError(path, "\(shown): \(ONNXDataType.name(t)) elements belong in field \(expectedField), not \(field)")
        }
        // Packed floats/doubles in one run are already raw_data bytes: read them in place.
        if (field == 4 || field == 10) && typedOccurrences == 1 {
            var span: Range<UInt64>?
            try wire.forEachField(in: range) { _, f in if f.number == field && f.type == .length { span = f.range } }
            if let span, span.count == needed {
                return try SliceSource(wire.source, offset: span.lowerBound, count: UInt64(needed))
            }
        }
        // Every element costs at least one byte in the file: bound the allocation by the message's size.
        guard entries <= range.count else {
            throw ModelError(path, "\(shown): \(entries) elements cannot fit in its \(range.count)-byte message")
        }
        var out = [UInt8](repeating: 0, count: needed)
        var k = 0
        try wire.forEachField(in: range) { w, f in
            guard f.number == field else { return }
            func put(_ v: UInt64) throws {
                guard k < entries else { throw ModelError(path, "\(shown): more than \(entries) elements in its data field") }
                for b in 0..<width { out[k * width + b] = UInt8(truncatingIfNeeded: v >> (8 * UInt64(b))) }
                k += 1
            }
            let fixed = field == 4 ? 4 : (field == 10 ? 8 : 0)
            switch (f.type, fixed) {
            case (.fixed32, 4), (.fixed64, 8):
                let b = try w.bytes(f.range, what: "element")
                var v: UInt64 = 0
                for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
                try put(v)
            case (.length, 4), (.length, 8):
                guard f.range.count % fixed == 0 else {
                    throw ModelError(path, "\(shown): packed data of \(f.range.count) bytes is not a whole number of elements")
                }
                var p = f.range.lowerBound
                while p < f.range.upperBound {
                    let n = Int(min(UInt64(1 << 16), f.range.upperBound - p))
                    let chunk = try w.bytes(p..<(p + UInt64(n)), what: "packed data")
                    var i = 0
                    while i < chunk.count {
                        var v: UInt64 = 0
                        for b in 0..<fixed { v |= UInt64(chunk[i + b]) << (8 * UInt64(b)) }
                        try put(v)
                        i += fixed
                    }
                    p += UInt64(n)
                }
            case (.varint, 0):
                try put(f.value)
            case (.length, 0):
                var p = f.range.lowerBound
                while p < f.range.upperBound {
                    let (v, next) = try w.varint(at: p, limit: f.range.upperBound)
                    try put(v)
                    p = next
                }
            default:
                throw ModelError(path, "\(shown): data field \(field) has wire type \(f.type.rawValue)")
            }
        }
        guard k == entries else {
            throw ModelError(path, "\(shown): its data field holds \(k) elements, \(ONNXDataType.name(t)) \(dims) needs \(entries)")
        }
        return MemorySource(out, path: path)
    }
}
