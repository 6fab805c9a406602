/// Walks an ONNX `ModelProto` and finds every place a weight can live (the format digest §1.1): graph
/// initializers and sparse initializers, Constant nodes, tensors in node attributes, and all of these again
/// inside subgraphs (If/Loop/Scan bodies: GRAPH and GRAPHS attributes, to `maxGraphDepth`), model-local
/// functions and training-info graphs. It records where each tensor is, not its elements, plus the nodes
/// (for `DequantizeLinear`/`MatMulNBits` and for naming).
struct ONNXGraphScan {
    /// A weight as found, before its elements are located.
    enum Payload {
        case tensor(ONNXTensorProto)
        case sparse(values: ONNXTensorProto, indices: ONNXTensorProto, dims: [Int64])
        case floats([Float], shape: [Int])
        case ints([Int64], shape: [Int])
    }

    struct Weight {
        var name: String
        var payload: Payload
        /// The graph it was found in (index into `graphs`).
        var graph: Int
        /// "initializer", "Constant", …
        var origin: String
    }

    struct Node {
        var name: String
        var opType: String
        var domain: String
        var inputs: [String]
        var outputs: [String]
        var graph: Int
        var ints: [String: Int64]
    }

    struct Graph {
        var name: String
        var parent: Int?
        /// Graph inputs (an initializer named like one is only its default value).
        var inputs: [String] = []
    }

    var irVersion: Int64 = 0
    var opsets: [(domain: String, version: Int64)] = []
    var metadata: [(key: String, value: MetadataValue)] = []
    var weights: [Weight] = []
    var nodes: [Node] = []
    var graphs: [Graph] = []
    /// The main graph's message (for the writer).
    var mainGraph: Range<UInt64>?

    /// Subgraphs nest at most this deep (onnx's protobuf decoder stops at 100 message levels, 3 per graph).
    static let maxGraphDepth = 32
    static let maxNodeNames = 1 << 16

    static func scan(_ source: any ByteSource) throws -> ONNXGraphScan {
        var wire = ProtobufWire(source)
        var s = ONNXGraphScan()
        var sawGraph = false
        try wire.forEachField(in: 0..<source.size) { w, f in
            switch f.number {
            case 1: s.irVersion = Int64(bitPattern: f.value)
            case 2: s.metadata.append(("producer_name", .string(try w.string(f, what: "producer_name"))))
            case 3: s.metadata.append(("producer_version", .string(try w.string(f, what: "producer_version"))))
            case 4: s.metadata.append(("domain", .string(try w.string(f, what: "domain"))))
            case 5: s.metadata.append(("model_version", .int(Int64(bitPattern: f.value))))
            case 7:
                try s.requireMessage(f, w.path, "graph")
                guard !sawGraph else { throw ModelError(w.path, "model holds two graphs") }
                sawGraph = true
                s.mainGraph = f.range
                try s.graph(&w, f.range, name: "", parent: nil, depth: 0)
            case 8:
                try s.requireMessage(f, w.path, "opset_import")
                var domain = "", version: Int64 = 0
                try w.forEachField(in: f.range) { w2, e in
                    if e.number == 1 { domain = try w2.string(e, what: "opset domain") }
                    if e.number == 2 { version = Int64(bitPattern: e.value) }
                }
                s.opsets.append((domain, version))
            case 14:
                try s.requireMessage(f, w.path, "metadata_props")
                var key = "", value = ""
                try w.forEachField(in: f.range) { w2, e in
                    if e.number == 1 { key = try w2.string(e, what: "metadata key") }
                    if e.number == 2 { value = try w2.string(e, what: "metadata value") }
                }
                s.metadata.append((key, .string(value)))
            case 20:
                try s.requireMessage(f, w.path, "training_info")
                try w.forEachField(in: f.range) { w2, e in
                    guard e.number == 1 || e.number == 2 else { return }
                    try s.requireMessage(e, w2.path, "training graph")
                    try s.graph(&w2, e.range, name: e.number == 1 ? "training_initialization" : "training_algorithm", parent: 0, depth: 1)
                }
            case 25:
                try s.requireMessage(f, w.path, "function")
                try s.function(&w, f.range)
            default: break
            }
        }
        guard sawGraph else { throw ModelError(source.path, "is not an ONNX model (no graph)") }
        s.metadata.insert(("ir_version", .int(s.irVersion)), at: 0)
        for o in s.opsets { s.metadata.append(("opset " + (o.domain.isEmpty ? "ai.onnx" : o.domain), .int(o.version))) }
        return s
    }

    func requireMessage(_ f: ProtobufWire.Field, _ path: String, _ what: String) throws {
        guard f.type == .length else { throw ModelError(path, "\(what) at offset \(f.range.lowerBound) is not a message") }
    }

    mutating func graph(_ w: inout ProtobufWire, _ range: Range<UInt64>, name: String, parent: Int?, depth: Int) throws {
        guard depth <= Self.maxGraphDepth else {
            throw ModelError(w.path, "subgraphs nest deeper than \(Self.maxGraphDepth) levels (offset \(range.lowerBound))")
        }
        let index = graphs.count
        graphs.append(Graph(name: name, parent: parent))
        try w.forEachField(in: range) { w, f in
            switch f.number {
            case 1:
                try requireMessage(f, w.path, "node")
                try node(&w, f.range, graph: index, depth: depth)
            case 2:
                if graphs[index].name.isEmpty { graphs[index].name = try w.string(f, what: "graph name") }
            case 5:
                try requireMessage(f, w.path, "initializer")
                let t = try ONNXTensorProto.parse(&w, f.range)
                weights.append(Weight(name: t.name, payload: .tensor(t), graph: index, origin: "initializer"))
            case 15:
                try requireMessage(f, w.path, "sparse_initializer")
                let p = try sparse(&w, f.range)
                weights.append(Weight(name: p.name, payload: p.payload, graph: index, origin: "sparse initializer"))
            case 11:
                try requireMessage(f, w.path, "graph input")
                try w.forEachField(in: f.range) { w2, e in
                    if e.number == 1 { graphs[index].inputs.append(try w2.string(e, what: "input name")) }
                }
            default: break
            }
        }
    }

    mutating func function(_ w: inout ProtobufWire, _ range: Range<UInt64>) throws {
        var name = ""
        try w.forEachField(in: range) { w, f in if f.number == 1 { name = try w.string(f, what: "function name") } }
        let index = graphs.count
        graphs.append(Graph(name: "function " + name, parent: nil))
        try w.forEachField(in: range) { w, f in
            if f.number == 7 {
                try requireMessage(f, w.path, "function node")
                try node(&w, f.range, graph: index, depth: 1)
            }
        }
    }

    mutating func sparse(_ w: inout ProtobufWire, _ range: Range<UInt64>) throws -> (name: String, payload: Payload) {
        var values: ONNXTensorProto?, indices: ONNXTensorProto?, dims: [Int64] = []
        try w.forEachField(in: range) { w, f in
            switch f.number {
            case 1: try requireMessage(f, w.path, "sparse values"); values = try ONNXTensorProto.parse(&w, f.range)
            case 2: try requireMessage(f, w.path, "sparse indices"); indices = try ONNXTensorProto.parse(&w, f.range)
            case 3: try w.integers(f, into: &dims, max: ONNXTensorProto.maxDims, what: "sparse dims")
            default: break
            }
        }
        guard let values, let indices else {
            throw ModelError(w.path, "sparse tensor at offset \(range.lowerBound) lacks its values or indices")
        }
        return (values.name, .sparse(values: values, indices: indices, dims: dims))
    }

    mutating func node(_ w: inout ProtobufWire, _ range: Range<UInt64>, graph: Int, depth: Int) throws {
        var n = Node(name: "", opType: "", domain: "", inputs: [], outputs: [], graph: graph, ints: [:])
        var attributes: [Range<UInt64>] = []
        try w.forEachField(in: range) { w, f in
            switch f.number {
            case 1: n.inputs.append(try w.string(f, what: "node input"))
            case 2: n.outputs.append(try w.string(f, what: "node output"))
            case 3: n.name = try w.string(f, what: "node name")
            case 4: n.opType = try w.string(f, what: "op_type")
            case 7: n.domain = try w.string(f, what: "node domain")
            case 5: try requireMessage(f, w.path, "attribute"); attributes.append(f.range)
            default: break
            }
        }
        let isConstant = n.opType == "Constant" && (n.domain.isEmpty || n.domain == "ai.onnx")
        let label = n.name.isEmpty ? n.opType : "\(n.opType) '\(n.name)'"
        for a in attributes {
            try attribute(&w, a, node: &n, constant: isConstant, label: label, graph: graph, depth: depth)
        }
        nodes.append(n)
    }

    /// One attribute: tensors become weights (a Constant's under its output's name, others under
    /// `<node>.<attribute>`), graphs are walked, small integers are kept for the quantized-op readers.
    mutating func attribute(_ w: inout ProtobufWire, _ range: Range<UInt64>, node n: inout Node, constant: Bool,
                            label: String, graph: Int, depth: Int) throws {
        var name = ""
        var tensors: [(Range<UInt64>, sparse: Bool)] = []
        var subgraphs: [Range<UInt64>] = []
        var f32: Float?, i64: Int64?
        var floats: [Float] = [], ints: [Int64] = [], hasFloats = false, hasInts = false
        try w.forEachField(in: range) { w, f in
            switch f.number {
            case 1: name = try w.string(f, what: "attribute name")
            case 2:
                guard f.type == .fixed32 else { return }
                let b = try w.bytes(f.range, what: "float")
                f32 = Float(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24)
            case 3: i64 = Int64(bitPattern: f.value)
            case 5, 10: try requireMessage(f, w.path, "attribute tensor"); tensors.append((f.range, false))
            case 22, 23: try requireMessage(f, w.path, "attribute sparse tensor"); tensors.append((f.range, true))
            case 6, 11: try requireMessage(f, w.path, "attribute graph"); subgraphs.append(f.range)
            case 7:
                hasFloats = true
                if f.type == .fixed32 {
                    let b = try w.bytes(f.range, what: "float")
                    floats.append(Float(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24))
                } else if f.type == .length {
                    guard f.range.count % 4 == 0 else { throw ModelError(w.path, "packed floats at offset \(f.range.lowerBound) are not whole floats") }
                    let b = try w.bytes(f.range, maxBytes: 1 << 28, what: "floats")
                    for k in stride(from: 0, to: b.count, by: 4) {
                        floats.append(Float(bitPattern: UInt32(b[k]) | UInt32(b[k + 1]) << 8 | UInt32(b[k + 2]) << 16 | UInt32(b[k + 3]) << 24))
                    }
                }
            case 8:
                hasInts = true
                try w.integers(f, into: &ints, max: 1 << 26, what: "attribute ints")
            default: break
            }
        }
        if let i64 { n.ints[name] = i64 }
        let output = n.outputs.first ?? ""
        let owner = constant && !output.isEmpty ? output : "\(n.name.isEmpty ? n.opType : n.name).\(name)"
        let origin = constant ? "Constant" : "\(label) attribute '\(name)'"
        if constant {
            switch name {
            case "value_float": if let f32 { weights.append(Weight(name: owner, payload: .floats([f32], shape: []), graph: graph, origin: origin)) }
            case "value_floats": if hasFloats { weights.append(Weight(name: owner, payload: .floats(floats, shape: [floats.count]), graph: graph, origin: origin)) }
            case "value_int": if let i64 { weights.append(Weight(name: owner, payload: .ints([i64], shape: []), graph: graph, origin: origin)) }
            case "value_ints": if hasInts { weights.append(Weight(name: owner, payload: .ints(ints, shape: [ints.count]), graph: graph, origin: origin)) }
            default: break
            }
        }
        for (k, t) in tensors.enumerated() {
            let suffix = tensors.count > 1 ? "[\(k)]" : ""
            if t.sparse {
                let p = try sparse(&w, t.0)
                weights.append(Weight(name: owner + suffix, payload: p.payload, graph: graph, origin: origin))
            } else {
                let proto = try ONNXTensorProto.parse(&w, t.0)
                weights.append(Weight(name: owner + suffix, payload: .tensor(proto), graph: graph, origin: origin))
            }
        }
        for g in subgraphs {
            try self.graph(&w, g, name: "\(n.name.isEmpty ? n.opType : n.name).\(name)", parent: graph, depth: depth + 1)
        }
    }
}
