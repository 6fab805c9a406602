import WeightFormats

/// What llama-quantize refuses to produce without an importance matrix, so that a plan asking for it is
/// refused for that reason — not as "weightlab cannot quantize to this", a different limit with a different
/// remedy (llama.cpp's src/llama-quant.cpp as vendored by llama-cpp-python 0.3.36: `tensor_requires_imatrix`,
/// and the ftypes whose default type is one of these).
///
/// - Types: IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S and IQ3_XXS need one, except for `token_embd.weight`,
///   `per_layer_token_embd.weight` and `output.weight`; Q2_K needs one only inside a Q2_K_S file.
/// - Presets: Q2_K_S, IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M and IQ3_XXS (llama-quantize stops with
///   "this quantization requires an importance matrix!").
public enum ImportanceRequirement {
    public static let types: Set<GGMLType> = [.iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS]
    public static let presets = ["Q2_K_S", "IQ1_S", "IQ1_M", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ3_XXS"]

    /// Whether llama-quantize needs an importance matrix to store `tensor` as `type` (outside Q2_K_S).
    public static func requires(_ type: GGMLType, tensor: String) -> Bool {
        types.contains(type) && !["token_embd.weight", "per_layer_token_embd.weight", "output.weight"].contains(tensor)
    }

    /// Whether llama-quantize needs an importance-matrix entry for `tensor` stored as `type` in a file of
    /// `preset` (`tensor_requires_imatrix`): the types above, and Q2_K inside a Q2_K_S file; never the token
    /// embedding or the output (a Hugging Face name counts as its GGUF name).
    public static func requires(_ type: GGMLType, tensor: String, preset: LlamaPreset?) -> Bool {
        let name = LlamaTensorNames.gguf(forHF: tensor) ?? tensor
        if ["token_embd.weight", "per_layer_token_embd.weight", "output.weight"].contains(name) { return false }
        return types.contains(type) || (type == .q2_K && preset == .q2_K_S)
    }

    /// llama-quantize's refusal per tensor: with an importance matrix that has no entry for a tensor that
    /// needs one (`requires(_:tensor:preset:)`), it stops ("Missing importance matrix for tensor … in a very
    /// low-bit quantization") instead of quantizing that tensor without weights, so weightlab refuses the same
    /// plan, naming the tensor, before anything is evaluated or written.
    public static func checkEntries(_ settings: [LayerSettings], model: Model, preset: LlamaPreset?,
                                    importance: ImportanceMatrix?) throws {
        guard let importance else { return }   // no matrix at all: the resolver's refusal says so
        let missing = zip(model.tensors, settings).compactMap { t, s -> (String, GGMLType)? in
            guard case .gguf(let type) = s.quantize, requires(type, tensor: t.name, preset: preset),
                  importance.entryName(for: t.name) == nil else { return nil }
            return (t.name, type)
        }
        guard let (name, type) = missing.first else { return }
        let more = missing.count > 1 ? " (and \(missing.count - 1) more)" : ""
        throw ModelError(importance.path, "has no entry for tensor '\(DisplayText.escaped(name))', which \(preset == .q2_K_S && type == .q2_K ? "preset Q2_K_S stores" : "the plan stores") as \(type.name)\(more): llama-quantize refuses it without one (\"Missing importance matrix for tensor\")")
    }

    /// The preset of `name` (case-insensitive) if it is one of `presets`.
    public static func preset(named name: String) -> String? {
        presets.first { $0 == name.uppercased() }
    }

    /// How to get one, said the same way everywhere.
    static let remedy = "give --imatrix or the plan's \"imatrix\""

    /// A type misfit's reason (the resolver appends " of tensor '…' [shape]").
    static func typeReason(_ type: GGMLType) -> String {
        "\(type.name) needs an importance matrix (llama-quantize refuses it without one; \(remedy)) as the type"
    }

    /// Why a plan with one of `presets` cannot be resolved: without a matrix, llama-quantize's refusal;
    /// with one, weightlab's own limit (its types are decoded, not produced).
    static func presetReason(_ preset: String, hasImportance: Bool) -> String {
        hasImportance
            ? "weightlab cannot produce preset \(preset) yet (its low-bit IQ types are decoded only); presets it produces: \(LlamaPreset.allCases.map(\.rawValue).joined(separator: ", "))"
            : "llama-quantize refuses preset \(preset) without an importance matrix (\(remedy))"
    }
}
