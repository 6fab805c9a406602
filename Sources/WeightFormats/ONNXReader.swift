import Foundation

extension ModelFormat {
    public static let onnx = ModelFormat(rawValue: "onnx")
}

/// Reads an ONNX model (`.onnx`, a protobuf `ModelProto`): every weight wherever it lives (`ONNXGraphScan`),
/// in every storage form (`ONNXTensorProto`), external data only beside the model (`ONNXExternalData`), and
/// already-quantized weights decoded (`ONNXQuantizedWeights`).
///
/// Names are the ones users see in Netron: an initializer's name; a Constant's output name; an attribute
/// tensor's `<node>.<attribute>`. A name met again in a subgraph (If branches often reuse them) is shown as
/// `<subgraph>/<name>`. Metadata: `ir_version`, producer, opsets, `metadata_props`, then one
/// `quantized <name>` entry per decoded quantized weight and one `constant <name>` entry naming the nodes
/// that read each Constant.
///
/// The file is walked with a bounded protobuf reader (`ProtobufWire`), never decoded whole: tensor bytes are
/// read from the file when a tensor is read, so a 2 GB model is not held in memory.
public enum ONNXReader: ModelReader {
    public static let name = "ONNX"
    public static let fileExtensions = [".onnx"]

    /// No magic number: a ModelProto starts with `ir_version` (field 1, varint: byte 0x08) and a small
    /// version. With the `.onnx` name that is a signature; without it, a guess.
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        let starts = head.count >= 2 && head[0] == 0x08 && head[1] >= 1 && head[1] <= 30
        if name.hasSuffix(".onnx") { return starts ? .signature : .guess }
        return nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        let scan = try ONNXGraphScan.scan(source)
        var wire = ProtobufWire(source)
        let external = ONNXExternalData(modelPath: source.path)
        var found: [ONNXFoundWeight] = []
        var skipped: [String] = []
        for w in scan.weights {
            if let (t, raw) = try tensor(w, &wire, external: external, skipped: &skipped) {
                found.append(ONNXFoundWeight(weight: w, tensor: t, raw: raw))
            }
        }
        var metadata = scan.metadata
        try ONNXQuantizedWeights.decode(scan: scan, found: &found)
        metadata += constantConsumers(scan: scan, found: found)
        if !skipped.isEmpty { metadata.append(("not read", .string(skipped.joined(separator: ", ")))) }
        let tensors = try uniqueNames(found, scan: scan)
        return Model(path: source.path, format: .onnx, metadata: metadata, tensors: tensors)
    }

    /// The tensor of one found weight and, for a dense TensorProto, its elements in `raw_data` layout; nil
    /// for a STRING tensor (listed under "not read").
    static func tensor(_ w: ONNXGraphScan.Weight, _ wire: inout ProtobufWire, external: ONNXExternalData,
                       skipped: inout [String]) throws -> (Tensor, (any ByteSource)?)? {
        let path = wire.path
        switch w.payload {
        case .floats(let v, let shape):
            return (try Tensor(name: w.name, dtype: .float32, shape: shape, data: MemorySource(floats: v, path: path)), nil)
        case .ints(let v, let shape):
            let bytes = v.flatMap { x in (0..<8).map { UInt8(truncatingIfNeeded: UInt64(bitPattern: x) >> (8 * UInt64($0))) } }
            return (try Tensor(name: w.name, dtype: .int64, shape: shape, data: MemorySource(bytes, path: path)), nil)
        case .tensor(let p):
            if p.dataType == ONNXDataType.string {
                skipped.append("'\(DisplayText.escaped(w.name))' (STRING)")
                return nil
            }
            let (shape, count) = try p.shape(path: path)
            let raw = try p.rawSource(&wire, count: count, external: external)
            return (try ONNXTensorValues.tensor(name: w.name, dataType: p.dataType, shape: shape, count: count, raw: raw, path: path), raw)
        case .sparse(let values, let indices, let dims):
            let shown = "sparse tensor '\(DisplayText.escaped(w.name))'"
            guard let dtype = ONNXDataType.plainDType(values.dataType) else {
                throw ModelError(path, "\(shown) has \(ONNXDataType.name(values.dataType)) values, which weightlab does not read sparse")
            }
            guard indices.dataType == ONNXDataType.int64 else {
                throw ModelError(path, "\(shown): indices are \(ONNXDataType.name(indices.dataType)), ONNX requires INT64")
            }
            let (_, nnz) = try values.shape(path: path)
            let valueBytes = try values.rawSource(&wire, count: nnz, external: external)
            let (_, indexCount) = try indices.shape(path: path)
            let indexSource = try indices.rawSource(&wire, count: indexCount, external: external)
            let raw = try indexSource.bytes(at: 0, count: Int(indexSource.size))
            var index = [Int64](repeating: 0, count: indexCount)
            raw.withUnsafeBytes { r in for k in 0..<indexCount { index[k] = Int64(littleEndian: r.loadUnaligned(fromByteOffset: 8 * k, as: Int64.self)) } }
            let shape = dims.map { Int($0) }
            guard shape.allSatisfy({ $0 >= 0 }) else { throw ModelError(path, "\(shown): negative dims \(dims)") }
            let dense = try ONNXSparseSource(values: valueBytes, elementBytes: dtype.blockBytes, indices: index, dims: shape,
                                             name: w.name, path: path)
            return (try Tensor(name: w.name, dtype: dtype, shape: shape, data: dense), nil)
        }
    }

    /// "constant <name>" = the nodes reading a float Constant (`MatMul '/enc/MatMul' input 1`), so a
    /// Constant's output name leads to the layer users know.
    static func constantConsumers(scan: ONNXGraphScan, found: [ONNXFoundWeight]) -> [(key: String, value: MetadataValue)] {
        var readers: [String: [String]] = [:]
        let wanted = Set(found.filter { $0.weight.origin == "Constant" && $0.tensor.isFloating }.map(\.weight.name))
        guard !wanted.isEmpty else { return [] }
        for n in scan.nodes {
            for (k, input) in n.inputs.enumerated() where wanted.contains(input) {
                readers[input, default: []].append("\(n.opType) '\(n.name)' input \(k)")
            }
        }
        return found.compactMap { f in
            guard let r = readers[f.weight.name], f.weight.origin == "Constant" else { return nil }
            return ("constant " + f.tensor.name, .string(r.prefix(4).joined(separator: ", ") + (r.count > 4 ? ", …" : "")))
        }
    }

    /// Tensors with unique names: the first of a name keeps it, later ones get their graph's name in front.
    static func uniqueNames(_ found: [ONNXFoundWeight], scan: ONNXGraphScan) throws -> [Tensor] {
        var taken = Set<String>()
        var out: [Tensor] = []
        for f in found where !f.consumed {
            var name = f.tensor.name
            if taken.contains(name) {
                let graph = scan.graphs[f.weight.graph].name
                name = (graph.isEmpty ? "graph" : graph) + "/" + f.tensor.name
                var k = 2
                let base = name
                while taken.contains(name) { name = base + "#\(k)"; k += 1 }
            }
            taken.insert(name)
            let t = f.tensor
            out.append(name == t.name ? t : try t.renamed(name))
        }
        return out
    }
}

/// A weight found in the model and opened as a tensor.
struct ONNXFoundWeight {
    var weight: ONNXGraphScan.Weight
    var tensor: Tensor
    /// A dense TensorProto's elements as `raw_data` holds them (sub-byte codes still packed).
    var raw: (any ByteSource)?
    /// Read by a quantized operator that this reader decodes: not listed on its own.
    var consumed = false

    /// Bytes the file stores for this weight: its elements as `raw_data` holds them (sub-byte codes packed,
    /// whichever field the file used), else the tensor's own bytes.
    var storedBytes: Int { raw.map { Int($0.size) } ?? tensor.originalBytes }

    var dataType: Int64? {
        if case .tensor(let p) = weight.payload { return p.dataType }
        return nil
    }
}
