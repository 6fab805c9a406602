/// Where things are in an ONNX file, for a writer that copies it and changes only some initializers of the
/// main graph (`apply --to onnx`): the top-level fields and the main graph's fields as byte ranges, the main
/// graph's initializers by name, and every name the model uses (so added names do not collide).
public struct ONNXModelLayout: Sendable {
    /// One field as stored: its number and its whole bytes (key, length and payload).
    public struct Field: Sendable {
        public let number: Int
        public let bytes: Range<UInt64>
        public let payload: Range<UInt64>
    }

    public struct Initializer: Sendable {
        /// Index into `graphFields`.
        public let field: Int
        public let dataType: Int64
        public let dims: [Int64]
        public let isExternal: Bool
    }

    public let source: FileSource
    public let modelFields: [Field]
    public let graphFields: [Field]
    public let irVersion: Int64
    /// The `ai.onnx` opset the model imports (nil: none).
    public let opset: Int64?
    public let initializers: [String: Initializer]
    public let graphInputs: Set<String>
    /// Every tensor, node output and graph input name in the model (subgraphs included).
    public let names: Set<String>

    public static func read(_ path: String) throws -> ONNXModelLayout {
        let source = try FileSource(path: path)
        let scan = try ONNXGraphScan.scan(source)
        var wire = ProtobufWire(source)
        var modelFields: [Field] = []
        try wire.forEachField(in: 0..<source.size) { _, f in
            modelFields.append(Field(number: Int(f.number), bytes: f.start..<f.range.upperBound, payload: f.range))
        }
        guard let graph = scan.mainGraph else { throw ModelError(path, "is not an ONNX model (no graph)") }
        var graphFields: [Field] = []
        var initializers: [String: Initializer] = [:]
        try wire.forEachField(in: graph) { w, f in
            if f.number == 5 {
                let t = try ONNXTensorProto.parse(&w, f.range)
                initializers[t.name] = Initializer(field: graphFields.count, dataType: t.dataType, dims: t.dims, isExternal: t.dataLocation == 1)
            }
            graphFields.append(Field(number: Int(f.number), bytes: f.start..<f.range.upperBound, payload: f.range))
        }
        var names = Set(scan.weights.map(\.name))
        for n in scan.nodes { names.formUnion(n.outputs); names.formUnion(n.inputs) }
        for g in scan.graphs { names.formUnion(g.inputs) }
        return ONNXModelLayout(source: source, modelFields: modelFields, graphFields: graphFields, irVersion: scan.irVersion,
                               opset: scan.opsets.last { $0.domain.isEmpty || $0.domain == "ai.onnx" }?.version,
                               initializers: initializers, graphInputs: Set(scan.graphs.first?.inputs ?? []), names: names)
    }
}
