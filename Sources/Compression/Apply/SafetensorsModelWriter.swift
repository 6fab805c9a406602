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

    public static func write(_ job: ApplyJob) throws -> [WrittenTensor] {
        let model = job.model
        var metadata: [(key: String, value: String)] = []
        if model.format == .safetensors {
            for (k, v) in model.metadata { if case .string(let s) = v, k != planKey { metadata.append((k, s)) } }
        }
        metadata.append((planKey, job.planText))
        let types = model.tensors.indices.map { storedType(model.tensors[$0], job.settings[$0]) }
        let entries = model.tensors.indices.map { SafetensorsWriter.TensorEntry(name: model.tensors[$0].name, dtype: types[$0], shape: model.tensors[$0].shape) }
        var written: [WrittenTensor] = []
        try SafetensorsWriter.write(to: job.output, tensors: entries, metadata: metadata, overwrite: job.overwrite,
                                    inputs: model.sourceFiles,
                                    beforeCommit: job.verifies ? { temporary in try job.verify(try SafetensorsReader.open(FileSource(path: temporary))) } : nil) { i, sink in
            let t = model.tensors[i], s = job.settings[i]
            let before = sink.count
            let copied = !t.isFloating || (s.isIdentity && copiesRaw(t))
            if copied {
                try job.copyRaw(i, to: &sink)
            } else {
                let dtype = types[i]
                try job.writePieces(i, to: &sink) { shape, values, cut in
                    ApplyJob.bytes(try ApplyJob.decodedEncoding(s, shape: shape, values: values, cut: cut), as: dtype)
                }
            }
            written.append(WrittenTensor(name: t.name, storedAs: types[i].description, bytes: Int(sink.count - before), copied: copied))
        }
        return written
    }
}
