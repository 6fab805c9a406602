import Foundation
import WeightFormats

/// Any model to safetensors, "fake-quant": the input's names, shapes and dtypes, values replaced by the
/// plan's reconstruction (decoded from the codec's encoding) stored in the tensor's own dtype, so any
/// framework can evaluate the compressed model. F16 and BF16 tensors store the reconstruction rounded to
/// them (the verification compares after the same rounding); pruned weights are exactly 0. Tensors with no
/// float dtype to round to (ggml blocks, FP8) are stored as F32. The plan is recorded in `__metadata__`
/// (`weightlab.plan`) beside the input's own metadata.
public enum SafetensorsModelWriter: ModelWriter {
    public static let name = "safetensors"
    public static let fileExtension = "safetensors"
    static let planKey = "weightlab.plan"

    public static func refusal(for model: Model) -> String? {
        for t in model.tensors where !t.isFloating && (t.dtype.safetensorsName == nil || t.byteOrder != .little || t.fortranOrder) {
            return "tensor '\(DisplayText.escaped(t.name))' (\(t.dtype)\(t.byteOrder == .big ? ", big-endian" : "")) cannot be copied into safetensors"
        }
        return nil
    }

    /// Fake-quant holds every setting: the reconstruction is plain floats.
    public static func misfit(_ settings: LayerSettings, tensor: Tensor) -> String? { nil }

    /// The dtype tensor `t` is stored as: its own when it can be copied or rounded to, else F32.
    static func storedType(_ t: Tensor, _ settings: LayerSettings) -> DType {
        if !t.isFloating { return t.dtype }
        if settings.isIdentity && copiesRaw(t) { return t.dtype }
        return ElementEncoder.canEncode(t.dtype) ? t.dtype : .float32
    }

    /// Whether `t`'s stored bytes are already safetensors bytes.
    static func copiesRaw(_ t: Tensor) -> Bool {
        t.dtype.safetensorsName != nil && (t.byteOrder == .little || t.dtype.blockBytes == 1) && !t.fortranOrder
    }

    static let indexSuffix = ".safetensors.index.json"

    /// The input's shards: tensor indices grouped by the file they come from, in order (one group for a
    /// single-file model). A model read through a safetensors index with several shards is written sharded.
    static func shards(_ model: Model) -> [[Int]] {
        guard model.format == .safetensors, model.path.hasSuffix(indexSuffix) else { return [Array(model.tensors.indices)] }
        var order: [String] = []
        var groups: [String: [Int]] = [:]
        for (i, t) in model.tensors.enumerated() {
            if groups[t.data.path] == nil { order.append(t.data.path) }
            groups[t.data.path, default: []].append(i)
        }
        return order.map { groups[$0]! }
    }

    /// A sharded output is named by its index: `DIR/NAME.safetensors.index.json` with shards
    /// `DIR/NAME-0000k-of-0000n.safetensors`.
    static func shardPaths(index: String, count: Int) -> [String] {
        let stem = String(index.dropLast(indexSuffix.count))
        return (1...count).map { stem + String(format: "-%05d-of-%05d.safetensors", $0, count) }
    }

    static func outputRefusal(_ model: Model, output: String) -> String? {
        if shards(model).count > 1 && !output.hasSuffix(indexSuffix) {
            return "the model is sharded; give -o NAME\(indexSuffix) (shards are written beside it as NAME-0000k-of-0000n.safetensors)"
        }
        return nil
    }

    public static func write(_ job: ApplyJob) throws -> [WrittenTensor] {
        let model = job.model
        if let r = outputRefusal(model, output: job.output) { throw ApplyError(.plan, r) }
        var metadata: [(key: String, value: String)] = []
        if model.format == .safetensors {
            for (k, v) in model.metadata { if case .string(let s) = v, k != planKey { metadata.append((k, s)) } }
        }
        metadata.append((planKey, job.planText))
        let groups = shards(model)
        guard groups.count > 1 else {
            return try writeFile(job, tensors: groups[0], to: job.output, metadata: metadata)
        }
        // Shards first, each verified before it is renamed into place; the index last, so the output (the
        // index) appears only when everything under it is there. An error or an interrupt removes the shards.
        let paths = shardPaths(index: job.output, count: groups.count)
        var done: [(path: String, token: InterruptCleanup.Token?)] = []
        defer { for d in done { InterruptCleanup.unregister(d.token) } }
        var written: [WrittenTensor] = []
        do {
            for (k, group) in groups.enumerated() {
                written += try writeFile(job, tensors: group, to: paths[k], metadata: metadata)
                done.append((paths[k], InterruptCleanup.register(paths[k])))
            }
            var map: [(String, String)] = []
            for (k, group) in groups.enumerated() {
                for i in group { map.append((model.tensors[i].name, (paths[k] as NSString).lastPathComponent)) }
            }
            map.sort { $0.0 < $1.0 }
            let total = written.reduce(0) { $0 + $1.bytes }
            let index = "{\n  \"metadata\": {\n    \"total_size\": \(total)\n  },\n  \"weight_map\": {\n"
                + map.map { "    " + JSONText.quoted($0.0) + ": " + JSONText.quoted($0.1) }.joined(separator: ",\n") + "\n  }\n}\n"
            try AtomicFile.write(index, to: job.output, overwrite: job.overwrite, inputs: model.sourceFiles)
        } catch {
            for d in done { unlink(d.path) }
            throw error
        }
        return written
    }

    /// One safetensors file holding the input tensors `indices`, verified before it is put in place.
    static func writeFile(_ job: ApplyJob, tensors indices: [Int], to path: String,
                          metadata: [(key: String, value: String)]) throws -> [WrittenTensor] {
        let model = job.model
        let types = indices.map { storedType(model.tensors[$0], job.settings[$0]) }
        let entries = indices.enumerated().map { k, i in SafetensorsWriter.TensorEntry(name: model.tensors[i].name, dtype: types[k], shape: model.tensors[i].shape) }
        var written: [WrittenTensor] = []
        try SafetensorsWriter.write(to: path, tensors: entries, metadata: metadata, overwrite: job.overwrite,
                                    inputs: model.sourceFiles,
                                    beforeCommit: job.verifies ? { temporary in
                                        try job.verify(try SafetensorsReader.open(FileSource(path: temporary)), only: indices)
                                    } : nil) { k, sink in
            let i = indices[k]
            let t = model.tensors[i], s = job.settings[i]
            let before = sink.count
            let copied = !t.isFloating || (s.isIdentity && copiesRaw(t))
            if copied {
                try job.copyRaw(i, to: &sink)
            } else {
                let dtype = types[k]
                let importance = try job.importance(i)
                try job.writePieces(i, to: &sink) { shape, values, cut, rows in
                    ApplyJob.bytes(try ApplyJob.decodedEncoding(s, shape: shape, values: values, cut: cut,
                        importance: ExpertImportance.slice(importance, shape: t.shape, rows: rows)), as: dtype)
                }
            }
            written.append(WrittenTensor(name: t.name, storedAs: types[k].description, bytes: Int(sink.count - before), copied: copied))
        }
        return written
    }
}
