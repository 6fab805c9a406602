import WeightFormats

/// GGUF in, GGUF out, as llama-quantize does it but driven by a plan: every metadata key kept (with its
/// stored type) in order, `general.file_type` (llama_ftype of the dominant type) and
/// `general.quantization_version` = 2 set, tensor order, shapes and alignment kept. A tensor the plan
/// quantizes is re-quantized from its decoded values to the plan's ggml type (the bytes of ggml's reference
/// quantizer, `GGUFBlockQuantizer`); a tensor the plan only prunes keeps its float type (F32 when it was
/// block-quantized: pruned blocks are not representable in general); a tensor the plan leaves alone is copied
/// byte for byte.
public enum GGUFModelWriter: ModelWriter {
    public static let name = "gguf"
    public static let fileExtension = "gguf"
    static let fileTypeKey = "general.file_type"
    static let quantizationVersionKey = "general.quantization_version"
    /// ggml's `GGML_QNT_VERSION`.
    static let quantizationVersion: UInt32 = 2

    public static func refusal(for model: Model) -> String? {
        model.format == .gguf ? nil
            : "GGUF output needs a GGUF input (llama.cpp needs the architecture metadata a converter such as convert_hf_to_gguf.py writes); convert the model first, or write safetensors"
    }

    /// GGUF holds ggml types only: block formats of the codec table (`gguf` plan format), or pruned floats.
    public static func misfit(_ settings: LayerSettings, tensor: Tensor) -> String? {
        guard let codec = settings.quantize.codec else { return nil }
        return codec is GGMLBlockCodec ? nil : "\(codec.label) (not a ggml type)"
    }

    /// The ggml type tensor `t` is stored as under `settings`.
    static func storedType(_ t: Tensor, _ settings: LayerSettings) -> GGMLType {
        if case .gguf(let type) = settings.quantize { return type }
        if settings.isIdentity || ElementEncoder.canEncode(t.dtype) { return t.dtype.ggmlType ?? .f32 }
        return .f32
    }

    public static func write(_ job: ApplyJob) throws -> [WrittenTensor] {
        let model = job.model
        let stored = try GGUFReader.storedMetadata(model.path)
        let types = model.tensors.indices.map { storedType(model.tensors[$0], job.settings[$0]) }
        let fileType = LlamaFileType.dominant(zip(types, model.tensors).map { ($0, $1.parameters) })
        var metadata = stored.entries.map { (key: $0.key, value: $0.stored) }
        for (key, value) in [(fileTypeKey, GGUFValue.uint32(fileType)), (quantizationVersionKey, .uint32(quantizationVersion))] {
            if let k = metadata.firstIndex(where: { $0.key == key }) { metadata[k].value = value } else { metadata.append((key, value)) }
        }
        let entries = model.tensors.indices.map { GGUFWriter.TensorEntry(name: model.tensors[$0].name, type: types[$0], shape: model.tensors[$0].shape) }
        var written: [WrittenTensor] = []
        try GGUFWriter.write(to: job.output, metadata: metadata, tensors: entries, overwrite: job.overwrite,
                             inputs: model.sourceFiles,
                             beforeCommit: job.verifies ? { temporary in try job.verify(try GGUFReader.open(FileSource(path: temporary))) } : nil) { i, sink in
            let t = model.tensors[i], s = job.settings[i]
            let before = sink.count
            if s.isIdentity || !t.isFloating {
                try job.copyRaw(i, to: &sink)
            } else if s.quantize != .none {
                let importance = try job.importance(i)
                try job.writePieces(i, to: &sink, checkedAs: DType(ggml: types[i])) { shape, values, cut, rows in
                    guard let e = try ApplyJob.encode(s, shape: shape, values: values, cut: cut,
                        importance: ExpertImportance.slice(importance, shape: t.shape, rows: rows)) else { return [] }
                    return try e.part("blocks").bytes
                }
            } else {
                let dtype = DType(ggml: types[i])
                try job.writePieces(i, to: &sink, checkedAs: dtype) { shape, values, cut in
                    ApplyJob.bytes(ApplyJob.pruned(s, shape: shape, values: values, cut: cut), as: dtype)
                }
            }
            written.append(WrittenTensor(name: t.name, storedAs: types[i].name, bytes: Int(sink.count - before),
                                         copied: s.isIdentity || !t.isFloating))
        }
        return written
    }
}
