import Foundation

/// What the PyTorch readers share once a pickle is read: its tensor records become `Tensor`s over the
/// storage records, each checked against its storage (the declared size fits the record; offset, sizes and
/// strides stay inside it, with overflow-checked arithmetic), read lazily (a contiguous view is a window
/// of the file, any other view gathers through `StridedSource`); quantized tensors are shown dequantized as
/// F32 and labelled in the metadata; pruned `<name>_orig`/`<name>_mask` pairs become the masked `<name>`
/// with its sparsity in the metadata.
struct TorchCheckpoint {
    let path: String
    /// The storages' byte order (`byteorder` record; legacy files are little-endian).
    let byteOrder: ByteOrder
    /// The bytes of each storage record, by key.
    let storages: [String: any ByteSource]
    /// Where a storage lives, for messages ("record 'archive/data/3'").
    let describe: (String) -> String

    /// Metadata key prefixes for the labels this reader adds.
    static let prunedKey = "torch.pruned."

    /// The record of a storage, checked to hold the elements its persistent id declares.
    func storage(_ ref: TorchStorageRef) throws -> any ByteSource {
        guard let source = storages[ref.key] else {
            throw ModelError(path, "storage '\(DisplayText.escaped(ref.key))' has no record in the file")
        }
        let (need, o) = ref.elementCount.multipliedReportingOverflow(by: ref.element.byteSize)
        guard !o, UInt64(need) <= source.size else {
            throw ModelError(path, "storage '\(DisplayText.escaped(ref.key))' declares \(ref.elementCount) \(ref.element.name) elements but \(describe(ref.key)) holds only \(source.size) bytes")
        }
        return source
    }

    /// The row-major bytes of a record's view (its element type as stored), checked against its storage.
    func viewBytes(_ r: TorchTensorRecord, name: String) throws -> (source: any ByteSource, count: Int) {
        let shown = DisplayText.escaped(name)
        let base = try storage(r.storage)
        let es = r.element.byteSize
        let capacity = (r.storage.elementCount * r.storage.element.byteSize) / es
        guard let n = Shape.elementCount(r.size), n.multipliedReportingOverflow(by: es).overflow == false else {
            throw ModelError(path, "tensor '\(shown)': size \(r.size) overflows")
        }
        if n == 0 { return (try SliceSource(base, offset: 0, count: 0), 0) }
        var last = r.offset
        var contiguous = true
        var expected = 1
        for d in stride(from: r.size.count - 1, through: 0, by: -1) {
            let (span, o1) = (r.size[d] - 1).multipliedReportingOverflow(by: r.stride[d])
            let (sum, o2) = last.addingReportingOverflow(span)
            guard !o1, !o2 else { throw ModelError(path, "tensor '\(shown)': strides \(r.stride) overflow") }
            last = sum
            if r.size[d] > 1, r.stride[d] != expected { contiguous = false }
            expected *= r.size[d]
        }
        guard last < capacity else {
            throw ModelError(path, "tensor '\(shown)': offset \(r.offset), size \(r.size) and stride \(r.stride) reach element \(last) of storage '\(DisplayText.escaped(r.storage.key))', which holds \(capacity)")
        }
        if contiguous {
            return (try SliceSource(base, offset: UInt64(r.offset) * UInt64(es), count: UInt64(n * es)), n)
        }
        return (StridedSource(base: base, elementBytes: es, offset: r.offset, shape: r.size, strides: r.stride, count: n), n)
    }

    /// A record as a tensor; a quantized one shown dequantized, labelled and sized as stored.
    func tensor(named name: String, _ r: TorchTensorRecord) throws -> Tensor {
        guard let dtype = r.element.dtype else {
            throw ModelError(path, "tensor '\(DisplayText.escaped(name))' is \(r.element.name), which weightlab does not read")
        }
        let (view, n) = try viewBytes(r, name: name)
        guard let q = r.quantization else {
            return try Tensor(name: name, dtype: dtype, shape: r.size, data: view, byteOrder: byteOrder)
        }
        let source: DequantizedSource
        let label: String
        // Stored: the integer codes, and the quantizer's parameters as torch keeps them (a double scale and
        // an int64 zero point per tensor; per channel, the scale and zero-point tensors' own storage).
        var bytes = Int(view.size)
        switch q {
        case .perTensor(let scheme, let scale, let zeroPoint):
            source = DequantizedSource(quantized: view, integer: dtype, byteOrder: byteOrder, count: n, scales: [scale],
                                       zeroPoints: [Double(zeroPoint)], floatZeroPoints: false, inner: n, channels: 1)
            label = "\(r.element.name) \(scheme) (scale \(scale), zero point \(zeroPoint)), shown dequantized as F32"
            bytes += 8 + 8
        case .perChannel(let scheme, let scalesRecord, let zeroPointsRecord, let axis):
            let scales = try values(scalesRecord, name: name + " scales")
            let zeroPoints = try values(zeroPointsRecord, name: name + " zero points")
            let inner = r.size[(axis + 1)...].reduce(1, *)
            source = DequantizedSource(quantized: view, integer: dtype, byteOrder: byteOrder, count: n, scales: scales,
                                       zeroPoints: zeroPoints, floatZeroPoints: scheme == "per_channel_affine_float_qparams",
                                       inner: inner, channels: r.size[axis])
            label = "\(r.element.name) \(scheme) (axis \(axis), \(scales.count) scales), shown dequantized as F32"
            bytes += Int(try viewBytes(scalesRecord, name: name + " scales").0.size)
                + Int(try viewBytes(zeroPointsRecord, name: name + " zero points").0.size)
        }
        var tensor = try Tensor(name: name, dtype: .float32, shape: r.size, data: source)
        tensor.stored(as: label, bytes: bytes)
        return tensor
    }

    /// A small tensor's values in Double (per-channel scales and zero points).
    func values(_ r: TorchTensorRecord, name: String) throws -> [Double] {
        guard let dtype = r.element.dtype, !r.element.isQuantized else {
            throw ModelError(path, "tensor '\(DisplayText.escaped(name))' is \(r.element.name), not plain numbers")
        }
        let (view, n) = try viewBytes(r, name: name)
        let raw = try view.bytes(at: 0, count: Int(view.size))
        if dtype == .float64 || dtype == .int64 {
            return (0..<n).map { i in
                var bits: UInt64 = 0
                for b in 0..<8 { bits |= UInt64(raw[8 * i + b]) << (8 * UInt64(b)) }
                if byteOrder == .big { bits = bits.byteSwapped }
                return dtype == .float64 ? Double(bitPattern: bits) : Double(Int64(bitPattern: bits))
            }
        }
        var out = [Float](repeating: 0, count: n)
        try raw.withUnsafeBytes { r in
            try out.withUnsafeMutableBufferPointer { try ElementDecoder.decode(r, dtype: dtype, byteOrder: byteOrder, count: n, into: $0, path: path) }
        }
        return out.map(Double.init)
    }

    /// The model's tensors in pickle order, with pruned pairs joined (and described in the metadata).
    func tensors(_ found: [(name: String, record: TorchTensorRecord)]) throws -> (tensors: [Tensor], metadata: [(key: String, value: MetadataValue)]) {
        var names = Set<String>()
        var unique: [(name: String, record: TorchTensorRecord)] = []
        for f in found {
            var name = f.name
            var k = 2
            while !names.insert(name).inserted { name = f.name + "#\(k)"; k += 1 }
            unique.append((name, f.record))
        }
        let byName = Dictionary(unique.map { ($0.name, $0.record) }, uniquingKeysWith: { a, _ in a })
        var tensors: [Tensor] = []
        var metadata: [(key: String, value: MetadataValue)] = []
        var masksUsed = Set<String>()
        for (name, record) in unique where !masksUsed.contains(name) {
            let t = try tensor(named: name, record)
            if name.hasSuffix("_orig") {
                let base = String(name.dropLast(5))
                let maskName = base + "_mask"
                if let maskRecord = byName[maskName], !names.contains(base), maskRecord.size == record.size,
                   t.dtype.blockSize == 1, t.isFloating {
                    let mask = try tensor(named: maskName, maskRecord)
                    let masked = try Tensor(name: base, dtype: t.dtype, shape: t.shape,
                                            data: MaskedSource(orig: t, mask: mask), byteOrder: t.byteOrder)
                    var zeros = 0
                    try mask.forEachChunk { _, values in for v in values where v == 0 { zeros += 1 } }
                    let fraction = mask.parameters == 0 ? 0 : Double(zeros) / Double(mask.parameters)
                    metadata.append((Self.prunedKey + base, .string(
                        "\(name) × \(maskName): mask zeroes \(zeros) of \(mask.parameters) (sparsity \(String(format: "%.2f", fraction * 100))%)")))
                    masksUsed.insert(maskName)
                    tensors.removeAll { $0.name == maskName }
                    tensors.append(masked)
                    continue
                }
            }
            tensors.append(t)
        }
        return (tensors, metadata)
    }
}
