import Foundation
import WeightFormats

/// An ONNX model to ONNX with the plan applied (`apply --to onnx`): each int-quantized float initializer of
/// the main graph becomes the QDQ form (`ONNXQDQ`: codes, scale, zero point and a `DequantizeLinear` whose
/// output keeps the initializer's name, so its consumers are untouched); a float initializer only pruned is
/// rewritten in place with its zeros; everything else (nodes, other initializers, subgraphs, functions,
/// metadata) is copied byte for byte from the input, field by field, so nothing is decoded and re-encoded.
/// `ir_version` is raised to 10 when lower (INT4 and opset 21 need it); a model whose `ai.onnx` opset is
/// below what its DequantizeLinear needs is refused (ONNX's version converter should raise it, not us).
///
/// Verification reopens the written file with `ONNXReader`, which decodes every DequantizeLinear, and
/// compares each tensor with the engine's reconstruction bit for bit.
public enum ONNXModelWriter: ModelWriter {
    public static let name = "onnx"
    public static let fileExtension = "onnx"

    /// The ONNX file a model was read from: the model itself, or the one `.onnx` file of a directory.
    public static func onnxFile(_ model: Model) -> String? {
        if model.format == .onnx { return model.path }
        guard model.format == .directory else { return nil }
        let files = model.sourceFiles.filter { $0.hasSuffix(".onnx") }
        return files.count == 1 ? files[0] : nil
    }

    public static func refusal(for model: Model) -> String? {
        onnxFile(model) == nil ? "an ONNX output is the input ONNX model rewritten; this model was not read from one .onnx file" : nil
    }

    /// Offered for `.onnx` files and directories (which may hold one); refused later if they do not.
    public static func offered(forModelAt modelPath: String) -> Bool {
        modelPath.hasSuffix(".onnx") || !(modelPath as NSString).lastPathComponent.contains(".")
    }

    static let floatTypes: [Int64: DType] = [1: .float32, 10: .float16, 11: .float64, 16: .bfloat16]

    public static func misfit(_ settings: LayerSettings, tensor: Tensor) -> String? {
        guard let codec = settings.quantize.codec else {
            return ElementEncoder.canEncode(tensor.dtype) ? nil : "ONNX keeps a pruned tensor in its own dtype, which weightlab cannot write for \(tensor.dtype)"
        }
        guard ONNXQDQ(settings, shape: tensor.shape) != nil else {
            return "\(codec.label): ONNX's DequantizeLinear holds uniform int grids only"
        }
        guard tensor.dtype == .float32 else {
            return "\(codec.label): ONNX QDQ is written for F32 weights (DequantizeLinear's output has its scale's type), this is \(tensor.dtype)"
        }
        return nil
    }

    /// What becomes of one input tensor.
    enum Change {
        case copy
        case dense(field: Int, dtype: DType, onnxType: Int64, dims: [Int64])
        case qdq(field: Int, layout: ONNXQDQ, names: (codes: String, scale: String, zero: String))
    }

    public static func write(_ job: ApplyJob) throws -> [WrittenTensor] { try write(job, dense: false) }

    /// The model with each changed float initializer replaced in place by the engine's reconstruction (the
    /// fake-quantized or pruned floats, in the initializer's own dtype) instead of QDQ: what task evaluation
    /// runs in ONNX Runtime, for every codec (not only the uniform grids DequantizeLinear holds).
    public static func writeReconstruction(model: Model, settings: [LayerSettings], engine: Engine, output: String,
                                           cancel: CancellationToken = CancellationToken()) throws {
        precondition(settings.count == model.tensors.count)
        let job = ApplyJob(model: model, settings: settings, output: output, overwrite: true, verifies: false,
                           planText: "", engine: engine, cancel: cancel, progress: { _ in })
        _ = try write(job, dense: true)
    }

    static func write(_ job: ApplyJob, dense: Bool) throws -> [WrittenTensor] {
        let model = job.model
        guard let file = onnxFile(model) else { throw ApplyError(.plan, refusal(for: model)!) }
        let layout = try ONNXModelLayout.read(file)
        var taken = layout.names
        func fresh(_ base: String) -> String {
            var name = base, k = 2
            while taken.contains(name) { name = "\(base)_\(k)"; k += 1 }
            taken.insert(name)
            return name
        }
        var changes: [Change] = []
        var refused: [ExportRefusal.Item] = []
        var opsetNeeded: Int64 = 0
        for (i, t) in model.tensors.enumerated() {
            let s = job.settings[i]
            guard !s.isIdentity else { changes.append(.copy); continue }
            let label = s.quantize.codec?.label ?? "prune"
            guard let initializer = layout.initializers[t.name], let dtype = floatTypes[initializer.dataType] else {
                refused.append(.init(tensor: t.name, setting: label, reason: "not a float initializer of the main graph (a Constant, a subgraph weight or an already-quantized weight)", containers: ["safetensors"]))
                changes.append(.copy)
                continue
            }
            guard !layout.graphInputs.contains(t.name) else {
                refused.append(.init(tensor: t.name, setting: label, reason: "it is also a graph input (a default value callers may replace)", containers: ["safetensors"]))
                changes.append(.copy)
                continue
            }
            if !dense, let q = ONNXQDQ(s, shape: t.shape) {
                opsetNeeded = max(opsetNeeded, q.minimumOpset)
                changes.append(.qdq(field: initializer.field, layout: q,
                                    names: (fresh(t.name + "_quantized"), fresh(t.name + "_scale"), q.hasZeroPoint ? fresh(t.name + "_zero_point") : "")))
            } else {
                changes.append(.dense(field: initializer.field, dtype: dtype, onnxType: initializer.dataType, dims: initializer.dims))
            }
        }
        if !refused.isEmpty { throw ApplyError(.plan, ExportRefusal(target: "onnx", items: refused).description) }
        if opsetNeeded > 0 && (layout.opset ?? 0) < opsetNeeded {
            throw ApplyError(.plan, "onnx: the model imports ai.onnx opset \(layout.opset ?? 0); these DequantizeLinear settings need opset \(opsetNeeded) (raise it with onnx.version_converter first)")
        }
        // Kept external initializers are named relative to the model's directory: the output must sit there.
        if layout.initializers.values.contains(where: \.isExternal) {
            let inDir = ONNXModelWriter.realDirectory(of: file), outDir = ONNXModelWriter.realDirectory(of: job.output)
            guard inDir == outDir else {
                throw ApplyError(.plan, "onnx: the model keeps tensors in external data files; write the output into the model's directory (\(inDir)) so they stay beside it")
            }
        }

        let plan = Plan(job: job, layout: layout, changes: changes)
        var written: [WrittenTensor] = []
        try AtomicFile.write(to: job.output, overwrite: job.overwrite, inputs: model.sourceFiles,
                             beforeCommit: job.verifies ? { temporary in
                                 try job.verify(try ONNXReader.open(FileSource(path: temporary)))
                             } : nil) { sink in
            written = try plan.write(to: &sink)
        }
        return written
    }

    static func realDirectory(of path: String) -> String {
        let dir = (path as NSString).deletingLastPathComponent
        let lexical = dir.isEmpty ? "." : dir
        guard let r = realpath(lexical, nil) else { return lexical }
        defer { free(r) }
        return String(cString: r)
    }

    /// The output, field by field.
    struct Plan {
        let job: ApplyJob
        let layout: ONNXModelLayout
        let changes: [Change]
        typealias P = ProtobufEncoding

        var replaced: [Int: Int] {
            var m: [Int: Int] = [:]
            for (i, c) in changes.enumerated() {
                switch c {
                case .copy: continue
                case .dense(let field, _, _, _), .qdq(let field, _, _): m[field] = i
                }
            }
            return m
        }

        /// A TensorProto's fields up to raw_data's length prefix (the raw bytes follow).
        static func tensorHeader(name: String, dataType: Int64, dims: [Int], rawCount: Int) -> [UInt8] {
            var out: [UInt8] = []
            if !dims.isEmpty { out += P.field(1, dims.flatMap { P.varint(UInt64($0)) }) }
            out += P.field(2, int: dataType)
            out += P.field(8, name)
            out += P.header(9, count: rawCount)
            return out
        }

        static func tensorField(name: String, dataType: Int64, dims: [Int], raw: [UInt8]) -> [UInt8] {
            P.field(5, tensorHeader(name: name, dataType: dataType, dims: dims, rawCount: raw.count) + raw)
        }

        static func node(inputs: [String], output: String, name: String, ints: [(String, Int)]) -> [UInt8] {
            var out: [UInt8] = []
            for i in inputs { out += P.field(1, i) }
            out += P.field(2, output)
            out += P.field(3, name)
            out += P.field(4, "DequantizeLinear")
            for (k, v) in ints {
                out += P.field(5, P.field(1, k) + P.field(3, int: Int64(v)) + P.field(20, int: 2))
            }
            return P.field(1, out)
        }

        func dequantizeNodes() -> [UInt8] {
            var out: [UInt8] = []
            for (i, c) in changes.enumerated() {
                guard case .qdq(_, let q, let names) = c else { continue }
                let t = job.model.tensors[i]
                var ints: [(String, Int)] = []
                if let a = q.axis { ints.append(("axis", a)) }
                if let b = q.blockSize { ints.append(("block_size", b)) }
                out += Self.node(inputs: [names.codes, names.scale] + (q.hasZeroPoint ? [names.zero] : []), output: t.name,
                                 name: t.name + "_DequantizeLinear", ints: ints)
            }
            return out
        }

        /// Size of the new graph message.
        func graphSize(nodes: Int) throws -> Int {
            let replaced = self.replaced
            var size = nodes
            for (k, f) in layout.graphFields.enumerated() {
                if let i = replaced[k] {
                    if case .dense(_, let dtype, let onnxType, let dims) = changes[i] {
                        let t = job.model.tensors[i]
                        let raw = t.parameters * dtype.blockBytes
                        let body = Self.tensorHeader(name: t.name, dataType: onnxType, dims: dims.map { Int($0) }, rawCount: raw).count + raw
                        size += P.header(5, count: body).count + body
                    }
                    continue
                }
                size += Int(f.bytes.count)
            }
            for (i, c) in changes.enumerated() {
                guard case .qdq(_, let q, let names) = c else { continue }
                let t = job.model.tensors[i]
                for (name, type, dims, count) in parts(t, q, names) {
                    let body = Self.tensorHeader(name: name, dataType: type, dims: dims, rawCount: count).count + count
                    size += P.header(5, count: body).count + body
                }
            }
            return size
        }

        /// The QDQ initializers of tensor `t`: name, data type, dims, raw byte count.
        func parts(_ t: Tensor, _ q: ONNXQDQ, _ names: (codes: String, scale: String, zero: String)) -> [(String, Int64, [Int], Int)] {
            var out: [(String, Int64, [Int], Int)] = [
                (names.codes, q.codeType, t.shape, q.codeBytes(count: t.parameters)),
                (names.scale, 1, q.scaleDims, q.scaleCount * 4),
            ]
            if q.hasZeroPoint { out.append((names.zero, q.codeType, q.scaleDims, q.codeBytes(count: q.scaleCount))) }
            return out
        }

        func copy(_ range: Range<UInt64>, to sink: inout FileSink) throws {
            var p = range.lowerBound
            while p < range.upperBound {
                try job.checkCancelled()
                let n = Int(min(UInt64(8 << 20), range.upperBound - p))
                try sink.write(try layout.source.bytes(at: p, count: n))
                p += UInt64(n)
            }
        }

        /// Tensor `i` encoded and written as its QDQ initializers, where the float initializer was (so the
        /// model keeps its order).
        func writeQDQ(_ i: Int, _ q: ONNXQDQ, _ names: (codes: String, scale: String, zero: String),
                      to sink: inout FileSink) throws -> WrittenTensor {
            try job.checkCancelled()
            let t = job.model.tensors[i]
            let values = try job.engine.values(of: t)
            let encoded = try values.withUnsafeBufferPointer {
                try LayerEvaluator.encode(job.settings[i], shape: t.shape, values: $0, globalCut: try job.globalCut(i))
            }
            guard let encoded else { throw ApplyError(.write, "internal error: '\(DisplayText.escaped(t.name))' has no encoding") }
            let packed = try q.pack(encoded)
            let data = [packed.codes, packed.scales, packed.zeros]
            var bytes = 0
            for (k, part) in parts(t, q, names).enumerated() {
                guard data[k].count == part.3 else {
                    throw ApplyError(.write, "internal error: '\(DisplayText.escaped(part.0))' packs \(data[k].count) bytes, not \(part.3)")
                }
                try sink.write(Self.tensorField(name: part.0, dataType: part.1, dims: part.2, raw: data[k]))
                bytes += part.3
            }
            let type = q.codeType == ONNXQDQ.int4 ? "INT4" : q.codeType == ONNXQDQ.uint4 ? "UINT4" : q.codeType == ONNXQDQ.int8 ? "INT8" : "UINT8"
            return WrittenTensor(name: t.name, storedAs: "\(type) QDQ", bytes: bytes, copied: false)
        }

        func write(to sink: inout FileSink) throws -> [WrittenTensor] {
            let model = job.model
            let nodes = dequantizeNodes()
            var written: [WrittenTensor?] = Array(repeating: nil, count: model.tensors.count)
            let replaced = self.replaced
            var sawIR = false
            for f in layout.modelFields {
                switch f.number {
                case 1:
                    sawIR = true
                    try sink.write(P.field(1, int: max(layout.irVersion, 10)))
                case 7:
                    try sink.write(P.header(7, count: try graphSize(nodes: nodes.count)))
                    var nodesWritten = false
                    for (k, g) in layout.graphFields.enumerated() {
                        if g.number == 1 && !nodesWritten {
                            try sink.write(nodes)
                            nodesWritten = true
                        }
                        if let i = replaced[k] {
                            if case .dense(_, let dtype, let onnxType, let dims) = changes[i] {
                                let t = model.tensors[i], s = job.settings[i]
                                let raw = t.parameters * dtype.blockBytes
                                let header = Self.tensorHeader(name: t.name, dataType: onnxType, dims: dims.map { Int($0) }, rawCount: raw)
                                try sink.write(P.header(5, count: header.count + raw) + header)
                                try job.writePieces(i, to: &sink) { shape, values, cut in
                                    ApplyJob.bytes(try ApplyJob.decodedEncoding(s, shape: shape, values: values, cut: cut), as: dtype)
                                }
                                written[i] = WrittenTensor(name: t.name, storedAs: dtype.description, bytes: raw, copied: false)
                            } else if case .qdq(_, let q, let names) = changes[i] {
                                written[i] = try writeQDQ(i, q, names, to: &sink)
                            }
                            continue
                        }
                        try copy(g.bytes, to: &sink)
                    }
                    if !nodesWritten { try sink.write(nodes) }
                default:
                    try copy(f.bytes, to: &sink)
                }
            }
            guard sawIR else { throw ApplyError(.write, "onnx: the input model has no ir_version") }
            return model.tensors.enumerated().map { i, t in
                written[i] ?? WrittenTensor(name: t.name, storedAs: t.dtype.description, bytes: t.byteCount, copied: true)
            }
        }
    }
}
