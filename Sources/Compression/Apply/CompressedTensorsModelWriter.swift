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
/// Verification reads the checkpoint back as a loader does (`CompressedTensorsCheckpoint`, a reader written
/// apart from the packer) and compares every value with the engine's reconstruction.
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
                let e = CompressedTensors.entries(module: module, shape: t.shape, scheme: scheme)
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

        // Both files are written into a staging directory beside the output and moved in together once the
        // checkpoint is verified, config.json first and the output last: a kill mid-write leaves neither.
        let outName = (job.output as NSString).lastPathComponent
        guard outName != configName else { throw ApplyError(.plan, "\(DisplayText.escaped(job.output)): the checkpoint cannot be named \(configName), which is written beside it") }
        var written: [WrittenTensor] = []
        try AtomicFile.writeStaged(output: job.output, names: [configName, outName], overwrite: job.overwrite,
                                   inputs: model.sourceFiles + (inputConfig(model).map { [$0] } ?? [])) { staged in
            try AtomicFile.write(config, to: staged(configName), overwrite: true)
            var packed: (index: Int, tensors: [CompressedTensors.StoredTensor])? = nil
            try SafetensorsWriter.write(to: staged(outName), tensors: entries, metadata: metadata, overwrite: true,
                                        inputs: model.sourceFiles,
                                        beforeCommit: job.verifies ? { temporary in
                                            try verify(job, try SafetensorsReader.open(FileSource(path: temporary)), config: config)
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
                    let importance = try job.importance(i)
                    try job.writePieces(i, to: &sink) { shape, values, cut, rows in
                        ApplyJob.bytes(try ApplyJob.decodedEncoding(s, shape: shape, values: values, cut: cut,
                        importance: ExpertImportance.slice(importance, shape: t.shape, rows: rows)), as: dtype)
                    }
                }
                written.append(WrittenTensor(name: entries[e].name, storedAs: entries[e].dtype.description,
                                             bytes: Int(sink.count - before), copied: schemes[i] == nil && (!t.isFloating || (s.isIdentity && SafetensorsModelWriter.copiesRaw(t)))))
            }
        }
        return written
    }

    /// The whole tensor `i` encoded (with its group cut) and packed.
    static func pack(_ job: ApplyJob, _ i: Int, module: String, scheme: CompressedTensors.Scheme) throws -> [CompressedTensors.StoredTensor] {
        try job.checkCancelled()
        let t = job.model.tensors[i]
        let values = try job.engine.values(of: t)
        let importance = try job.importance(i)
        let encoded = try values.withUnsafeBufferPointer {
            try ApplyJob.encode(job.settings[i], shape: t.shape, values: $0, cut: try job.globalCut(i), importance: importance)
        }
        guard let encoded else { throw ApplyError(.write, "internal error: '\(DisplayText.escaped(t.name))' has no encoding") }
        return try CompressedTensors.pack(encoded, module: module, scheme: scheme)
    }

    /// Verifies a written checkpoint as a loader reads it: the file reopened with our reader, its modules
    /// decoded through the config it was written with (`CompressedTensorsCheckpoint.decoded`, compressed-tensors'
    /// `(q − zp)·scale` in Float32), then every tensor compared with the engine's reconstruction.
    static func verify(_ job: ApplyJob, _ out: Model, config: String) throws {
        try job.verify(try CompressedTensorsCheckpoint.decoded(out, config: Array(config.utf8)))
    }
}
