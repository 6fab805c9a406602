import Foundation
import WeightFormats

/// Any float model to a compressed-tensors checkpoint (what vLLM and transformers load): each tensor the
/// plan quantizes with an int or FP8 E4M3 grid becomes its module's packed tensors (`CompressedTensors.pack`:
/// pack-quantized for 2 and 4 bits, int-quantized for 8, naive-quantized otherwise, float-quantized for FP8),
/// other tensors are stored dense as the safetensors container stores them (pruned zeros included).
/// `config.json` beside the output is the input's `config.json` (from the model's directory) with
/// `quantization_config` set, or one holding only `quantization_config`.
///
/// A quantized tensor is packed whole (zero points are packed across rows), so memory is one tensor.
/// Verification decodes every module as compressed-tensors does, `(q − zp)·scale` in Float32 with the scale
/// and zero point broadcast over their group, independently of the packer.
public enum CompressedTensorsModelWriter: ModelWriter {
    public static let name = "compressed-tensors"
    public static let fileExtension = "safetensors"
    static let configName = "config.json"

    public static func refusal(for model: Model) -> String? { SafetensorsModelWriter.refusal(for: model) }

    public static func misfit(_ settings: LayerSettings, tensor: Tensor) -> String? {
        switch CompressedTensors.scheme(for: settings, name: tensor.name, shape: tensor.shape) {
        case .success: return nil
        case .failure(let item): return "\(item.setting) (\(item.reason))"
        }
    }

    /// The config written beside `output`.
    static func configPath(beside output: String) -> String {
        let directory = (output as NSString).deletingLastPathComponent
        return directory.isEmpty ? configName : (directory as NSString).appendingPathComponent(configName)
    }

    /// The input model's `config.json`, if its directory has one.
    static func inputConfig(_ model: Model) -> String? {
        var isDirectory: ObjCBool = false
        FileManager.default.fileExists(atPath: model.path, isDirectory: &isDirectory)
        let directory = isDirectory.boolValue ? model.path : (model.path as NSString).deletingLastPathComponent
        let p = directory.isEmpty ? configName : (directory as NSString).appendingPathComponent(configName)
        return FileManager.default.fileExists(atPath: p) ? p : nil
    }

    /// The stored tensors of one module, predicted from the scheme (the header is written before any data):
    /// the names, dtypes and shapes `CompressedTensors.pack` returns, in its order.
    static func packedEntries(module: String, shape: [Int], scheme: CompressedTensors.Scheme) -> [SafetensorsWriter.TensorEntry] {
        let n = shape[0], k = shape[1]
        let segments = TensorLayout(shape: shape).segmentCount(scheme.granularity)
        let scaleShape: [Int] = switch scheme.granularity {
        case .tensor: [1]
        case .channel: [n, 1]
        case .group: [n, segments / max(1, n)]
        }
        let scale = SafetensorsWriter.TensorEntry(name: module + ".weight_scale", dtype: .float32, shape: scaleShape)
        switch scheme.format {
        case .floatQuantized:
            return [.init(name: module + ".weight", dtype: .float8E4M3, shape: [n, k]), scale]
        case .packQuantized:
            let p = scheme.packFactor
            var out = [SafetensorsWriter.TensorEntry(name: module + ".weight_packed", dtype: .int32, shape: [n, (k + p - 1) / p]), scale]
            if !scheme.symmetric {
                out.append(scheme.granularity == .tensor
                    ? .init(name: module + ".weight_zero_point", dtype: .int8, shape: [1])
                    : .init(name: module + ".weight_zero_point", dtype: .int32, shape: [(n + p - 1) / p, scaleShape[1]]))
            }
            return out + [.init(name: module + ".weight_shape", dtype: .int64, shape: [2])]
        case .intQuantized, .naiveQuantized:
            return [.init(name: module + ".weight", dtype: .int8, shape: [n, k]), scale]
                + (scheme.symmetric ? [] : [.init(name: module + ".weight_zero_point", dtype: .int8, shape: scaleShape)])
        }
    }

    public static func write(_ job: ApplyJob) throws -> [WrittenTensor] {
        let model = job.model
        let schemes = try model.tensors.indices.map { i -> CompressedTensors.Scheme? in
            try CompressedTensors.scheme(for: job.settings[i], name: model.tensors[i].name, shape: model.tensors[i].shape).get()
        }
        // Output entries, each tagged with the input tensor it comes from.
        var entries: [SafetensorsWriter.TensorEntry] = []
        var source: [Int] = []
        var denseTypes: [Int: DType] = [:]
        for (i, t) in model.tensors.enumerated() {
            if let scheme = schemes[i], let module = CompressedTensors.module(of: t.name) {
                let e = packedEntries(module: module, shape: t.shape, scheme: scheme)
                entries += e
                source += Array(repeating: i, count: e.count)
            } else {
                let dtype = SafetensorsModelWriter.storedType(t, job.settings[i])
                denseTypes[i] = dtype
                entries.append(.init(name: t.name, dtype: dtype, shape: t.shape))
                source.append(i)
            }
        }
        let recipe = CompressedTensors.quantizationConfig(model.tensors.indices.map { (model.tensors[$0].name, model.tensors[$0].shape, schemes[$0]) })
        let original = try inputConfig(model).map { [UInt8](try Data(contentsOf: URL(fileURLWithPath: $0))) }
        let config = try CompressedTensors.modelConfig(original: original, recipe: recipe)
        var metadata: [(key: String, value: String)] = []
        if model.format == .safetensors {
            for (k, v) in model.metadata { if case .string(let s) = v, k != SafetensorsModelWriter.planKey { metadata.append((k, s)) } }
        }
        metadata.append((SafetensorsModelWriter.planKey, job.planText))

        // config.json first, removed again if the model is not written: the output appears last.
        let configPath = configPath(beside: job.output)
        try AtomicFile.write(config, to: configPath, overwrite: job.overwrite, inputs: model.sourceFiles + (inputConfig(model).map { [$0] } ?? []))
        let cleanup = InterruptCleanup.register(configPath)
        defer { InterruptCleanup.unregister(cleanup) }
        var written: [WrittenTensor] = []
        do {
            var packed: (index: Int, tensors: [CompressedTensors.StoredTensor])? = nil
            try SafetensorsWriter.write(to: job.output, tensors: entries, metadata: metadata, overwrite: job.overwrite,
                                        inputs: model.sourceFiles,
                                        beforeCommit: job.verifies ? { temporary in
                                            try verify(job, try SafetensorsReader.open(FileSource(path: temporary)), schemes: schemes)
                                        } : nil) { e, sink in
                let i = source[e], t = model.tensors[i], s = job.settings[i]
                let before = sink.count
                if let scheme = schemes[i], let module = CompressedTensors.module(of: t.name) {
                    if packed?.index != i {
                        packed = (i, try pack(job, i, module: module, scheme: scheme))
                    }
                    guard let part = packed?.tensors.first(where: { $0.name == entries[e].name }),
                          part.entry == entries[e] else {
                        throw ApplyError(.write, "internal error: packed '\(DisplayText.escaped(entries[e].name))' does not match its header entry")
                    }
                    try sink.write(part.bytes)
                    if e + 1 == entries.count || source[e + 1] != i { packed = nil }
                } else if !t.isFloating || (s.isIdentity && SafetensorsModelWriter.copiesRaw(t)) {
                    try job.copyRaw(i, to: &sink)
                } else {
                    let dtype = denseTypes[i]!
                    try job.writePieces(i, to: &sink) { shape, values, cut in
                        ApplyJob.bytes(try ApplyJob.decodedEncoding(s, shape: shape, values: values, cut: cut), as: dtype)
                    }
                }
                written.append(WrittenTensor(name: entries[e].name, storedAs: entries[e].dtype.description,
                                             bytes: Int(sink.count - before), copied: schemes[i] == nil && (!t.isFloating || (s.isIdentity && SafetensorsModelWriter.copiesRaw(t)))))
            }
        } catch {
            unlink(configPath)
            throw error
        }
        return written
    }

    /// The whole tensor `i` encoded (with its group cut) and packed.
    static func pack(_ job: ApplyJob, _ i: Int, module: String, scheme: CompressedTensors.Scheme) throws -> [CompressedTensors.StoredTensor] {
        try job.checkCancelled()
        let t = job.model.tensors[i]
        let values = try job.engine.values(of: t)
        let encoded = try values.withUnsafeBufferPointer {
            try LayerEvaluator.encode(job.settings[i], shape: t.shape, values: $0, globalCut: try job.globalCut(i))
        }
        guard let encoded else { throw ApplyError(.write, "internal error: '\(DisplayText.escaped(t.name))' has no encoding") }
        return try CompressedTensors.pack(encoded, module: module, scheme: scheme)
    }

    /// Verifies a written checkpoint: dense tensors as the safetensors container's are verified; each packed
    /// module decoded (`decode`) and compared with the engine's reconstruction.
    static func verify(_ job: ApplyJob, _ out: Model, schemes: [CompressedTensors.Scheme?]) throws {
        var byName: [String: Tensor] = [:]
        for t in out.tensors { byName[t.name] = t }
        let decoded = DecodedModules(byName: byName)
        try job.verify(out) { i in
            guard let scheme = schemes[i], let module = CompressedTensors.module(of: job.model.tensors[i].name) else { return nil }
            return try decoded.values(module: module, shape: job.model.tensors[i].shape, scheme: scheme)
        }
    }

    /// compressed-tensors' dequantization of the modules of a written file, read back with our reader.
    struct DecodedModules {
        let byName: [String: Tensor]

        func tensor(_ name: String) throws -> Tensor {
            guard let t = byName[name] else { throw ApplyError(.write, "verification failed, nothing written: '\(DisplayText.escaped(name))' is missing") }
            return t
        }

        func raw(_ name: String) throws -> [UInt8] {
            let t = try tensor(name)
            return try t.data.bytes(at: 0, count: t.byteCount)
        }

        /// `(q − zp)·scale` of every element, in Float32, scale and zero point broadcast over their group.
        func values(module: String, shape: [Int], scheme: CompressedTensors.Scheme) throws -> [Float] {
            let n = shape[0], k = shape[1]
            let scaleTensor = try tensor(module + ".weight_scale")
            var scales = [Float](repeating: 0, count: scaleTensor.parameters)
            try scales.withUnsafeMutableBufferPointer { try scaleTensor.decode(0..<scaleTensor.parameters, into: $0) }
            let perRow: Int = switch scheme.granularity {
            case .tensor: 0
            case .channel: 1
            case .group: scales.count / max(1, n)
            }
            func unit(_ r: Int, _ c: Int) -> Int {
                switch scheme.granularity {
                case .tensor: 0
                case .channel: r
                case .group(let g): r * perRow + c / g
                }
            }
            let half = 1 << (scheme.bits - 1)
            var codes = [Int](repeating: 0, count: n * k)
            var zeros = [Int](repeating: 0, count: scheme.symmetric ? 0 : max(1, scales.count))
            var out = [Float](repeating: 0, count: n * k)
            switch scheme.format {
            case .floatQuantized:
                let w = try tensor(module + ".weight")
                try out.withUnsafeMutableBufferPointer { try w.decode(0..<(n * k), into: $0) }
                for r in 0..<n { for c in 0..<k { out[r * k + c] = out[r * k + c] * scales[unit(r, c)] } }
                return out
            case .packQuantized:
                let p = scheme.packFactor, mask = (1 << scheme.bits) - 1, words = (k + p - 1) / p
                let packed = try raw(module + ".weight_packed")
                for r in 0..<n {
                    for c in 0..<k {
                        let o = 4 * (r * words + c / p)
                        let word = Int(UInt32(packed[o]) | UInt32(packed[o + 1]) << 8 | UInt32(packed[o + 2]) << 16 | UInt32(packed[o + 3]) << 24)
                        codes[r * k + c] = (word >> ((c % p) * scheme.bits)) & mask - half
                    }
                }
                if !scheme.symmetric {
                    let zp = try raw(module + ".weight_zero_point")
                    if scheme.granularity == .tensor {
                        zeros[0] = Int(Int8(bitPattern: zp[0]))
                    } else {
                        let columns = perRow
                        for r in 0..<n {
                            for j in 0..<columns {
                                let o = 4 * ((r / p) * columns + j)
                                let word = Int(UInt32(zp[o]) | UInt32(zp[o + 1]) << 8 | UInt32(zp[o + 2]) << 16 | UInt32(zp[o + 3]) << 24)
                                zeros[r * columns + j] = (word >> ((r % p) * scheme.bits)) & mask - half
                            }
                        }
                        if scheme.granularity == .channel { zeros = (0..<n).map { zeros[$0 * columns] } }
                    }
                }
                let shapeBytes = try raw(module + ".weight_shape")
                let stored = (0..<2).map { d in (0..<8).reduce(Int64(0)) { $0 | Int64(shapeBytes[8 * d + $1]) << (8 * $1) } }
                guard stored == [Int64(n), Int64(k)] else {
                    throw ApplyError(.write, "verification failed, nothing written: '\(DisplayText.escaped(module)).weight_shape' is \(stored)")
                }
            case .intQuantized, .naiveQuantized:
                let w = try raw(module + ".weight")
                for e in 0..<(n * k) { codes[e] = Int(Int8(bitPattern: w[e])) }
                if !scheme.symmetric {
                    let zp = try raw(module + ".weight_zero_point")
                    for u in 0..<zeros.count { zeros[u] = Int(Int8(bitPattern: zp[u])) }
                }
            }
            for r in 0..<n {
                for c in 0..<k {
                    let u = unit(r, c)
                    let z = scheme.symmetric ? 0 : zeros[scheme.granularity == .tensor ? 0 : u]
                    out[r * k + c] = Float(codes[r * k + c] - z) * scales[u]
                }
            }
            return out
        }
    }
}
