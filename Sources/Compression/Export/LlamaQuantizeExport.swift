import WeightFormats

/// A plan as llama.cpp's `llama-quantize` reproduces it: a `--tensor-type-file` with one anchored, exact
/// pattern per quantizable tensor (`^blk\.12\.ffn_down\.weight$=q6_K`), explicit `--output-tensor-type` and
/// `--token-embedding-type` (they take precedence over the patterns), and a default type (the ftype argument)
/// for anything unmatched. Rules from the shared reference `llamacpp_quantize_facts.md` §7–§8:
///
/// - llama-quantize lowercases each pattern before compiling it and searches it unanchored, so patterns are
///   anchored (`^…$`), with regex metacharacters escaped and no uppercase letters;
/// - type names are ggml's (`ggml_type_name`: lowercase, `_K` upper: `q4_0`, `q6_K`, `iq4_xs`, `f16`);
/// - tensors llama-quantize never re-types (fewer than 2 dimensions, not ending in `weight`, `*_norm.weight`,
///   `ffn_gate_inp.weight`, …) keep their input type, so a plan that changes them cannot be reproduced;
/// - it only re-types, so pruning and non-ggml formats cannot be reproduced;
/// - a tensor the plan leaves alone gets a pattern with its own type, so the default type does not touch it.
///
/// An HF model's tensors are named by their GGUF names (`LlamaTensorNames`); the model must first be converted
/// with llama.cpp's `convert_hf_to_gguf.py` at its own float type.
public struct LlamaQuantizeExport: Sendable, Equatable {
    public struct Line: Sendable, Equatable {
        /// The tensor's name in the model the plan was resolved against.
        public var tensor: String
        public var ggufName: String
        /// ggml's spelling (`q6_K`).
        public var type: String
        /// `^blk\.12\.ffn_down\.weight$=q6_K`.
        public var entry: String { "^" + LlamaQuantizeExport.escaped(ggufName) + "$=" + type }
    }

    /// One line per quantizable tensor except the output and token embedding, in model order.
    public private(set) var lines: [Line] = []
    /// The type for `output.weight` (nil when the model has none).
    public private(set) var outputType: String?
    /// The type for `token_embd.weight` (nil when the model has none).
    public private(set) var tokenEmbeddingType: String?
    /// The ftype argument: the ggml type with the most parameters in the plan, as llama-quantize names its ftype.
    public private(set) var ftype: String = ""
    /// Some tensor llama-quantize may re-type is already block-quantized (it then needs `--allow-requantize`).
    public private(set) var requantizes = false
    /// The model is not GGUF: its tensors were named by their GGUF names and it needs converting first.
    public private(set) var needsConversion = false
    /// The float type to convert an HF model to (its widest matrix type: `f32`, `f16` or `bf16`).
    public private(set) var conversionType: String?

    /// Builds the export for `settings` (one per tensor of `model`), or throws one `ExportRefusal` naming every
    /// tensor whose setting llama-quantize cannot reproduce.
    public init(model: Model, settings: [LayerSettings]) throws {
        precondition(model.tensors.count == settings.count)
        let isGGUF = model.format == .gguf
        needsConversion = !isGGUF
        var refused: [ExportRefusal.Item] = []
        var parametersByType: [String: Int] = [:]
        var floatTypes = Set<DType>()
        for (t, s) in zip(model.tensors, settings) {
            func refuse(_ reason: String) {
                refused.append(ExportRefusal.Item(tensor: t.name, setting: SettingsText.summary(s), reason: reason,
                                                  containers: Self.containers(for: s, name: t.name, shape: t.shape)))
            }
            let name: String
            if isGGUF {
                name = t.name
            } else if let g = LlamaTensorNames.gguf(forHF: t.name) {
                name = g
            } else {
                if !s.isIdentity { refuse("the tensor has no llama.cpp GGUF name") }
                continue
            }
            guard s.prune == .none else {
                refuse("llama-quantize does not prune")
                continue
            }
            let allowed = Self.allowsQuantization(name, shape: t.shape)
            if allowed, case .ggml = t.dtype { requantizes = true }
            let target: String
            if let codec = GGMLBlockCodec(s.quantize) {
                let ggml = codec.type
                guard allowed else {
                    refuse("llama-quantize never re-types this tensor (it keeps its input type)")
                    continue
                }
                guard (t.shape.last ?? 1) % ggml.blockSize == 0 else {
                    refuse("its rows (\(t.shape.last ?? 1)) are not whole \(ggml.name) blocks; llama-quantize would substitute another type")
                    continue
                }
                target = Self.typeName(ggml)
                parametersByType[target, default: 0] += t.parameters
            } else if s.quantize == .none {
                guard allowed else { continue }
                guard let own = Self.typeName(t.dtype) else {
                    refuse("llama-quantize cannot keep a \(t.dtype) tensor as it is")
                    continue
                }
                if !t.dtype.isBlockQuantized { floatTypes.insert(t.dtype) }
                target = own
            } else {
                refuse("llama-quantize writes ggml block types only")
                continue
            }
            if name != name.lowercased() {
                refuse("llama-quantize lowercases its patterns, so a name with capitals cannot be matched exactly")
                continue
            }
            switch name {
            case "output.weight": outputType = target
            case "token_embd.weight", "per_layer_token_embd.weight": tokenEmbeddingType = target
            default: lines.append(Line(tensor: t.name, ggufName: name, type: target))
            }
        }
        if !refused.isEmpty { throw ExportRefusal(target: "llama-quantize", verb: "reproduce", items: refused) }
        guard let dominant = parametersByType.max(by: { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) })?.key else {
            throw CompressionError("the plan quantizes no tensor to a ggml type, so there is nothing for llama-quantize to do")
        }
        ftype = Self.ftypeName(dominant)
        if needsConversion {
            conversionType = floatTypes.contains(.float32) || floatTypes.isEmpty ? "f32" : (floatTypes.contains(.bfloat16) ? "bf16" : "f16")
        }
    }

    /// The `--tensor-type-file` text: one `NAME=TYPE` token per line (llama-quantize reads whitespace-separated
    /// tokens; it has no comments).
    public var tensorTypeFile: String { lines.map { $0.entry + "\n" }.joined() }

    /// The llama-quantize command line for `input` → `output` with the tensor-type file at `typesFile`, every
    /// argument shell-quoted where needed.
    public func commandLine(input: String, output: String, typesFile: String) -> String {
        var args = ["llama-quantize"]
        if requantizes { args.append("--allow-requantize") }
        args += ["--tensor-type-file", typesFile]
        // Without an output.weight llama.cpp reuses token_embd for the output: the same type either way.
        if let t = outputType ?? tokenEmbeddingType { args += ["--output-tensor-type", t] }
        if let t = tokenEmbeddingType ?? outputType { args += ["--token-embedding-type", t] }
        args += [input, output, ftype]
        return args.map(Self.shellWord).joined(separator: " ")
    }

    /// The containers `weightlab apply` can write `settings` to: dequantized safetensors always, GGUF for
    /// ggml types and float tensors, compressed-tensors when it holds the setting.
    static func containers(for settings: LayerSettings, name: String, shape: [Int]) -> [String] {
        var out: [String] = []
        if settings.quantize == .none || GGMLBlockCodec(settings.quantize) != nil { out.append("gguf (weightlab apply)") }
        if case .success = CompressedTensors.scheme(for: settings, name: name, shape: shape) { out.append("compressed-tensors") }
        return out + ["safetensors (dequantized)"]
    }

    // MARK: - llama.cpp's rules

    /// ggml's name of a ggml type (`ggml_type_name`): `q4_0`, `q6_K`, `iq4_xs`.
    public static func typeName(_ t: GGMLType) -> String {
        var s = t.name.lowercased()
        if s.hasSuffix("_k") { s = String(s.dropLast()) + "K" }
        return s
    }

    /// ggml's name of a stored dtype that llama-quantize can keep, or nil.
    static func typeName(_ d: DType) -> String? {
        switch d {
        case .float32: "f32"
        case .float16: "f16"
        case .bfloat16: "bf16"
        case .ggml(let t): typeName(t)
        default: nil
        }
    }

    /// The llama-quantize ftype whose default type is `type` (its `Q4_K` alias is Q4_K_M, and so on).
    static func ftypeName(_ type: String) -> String {
        switch type {
        case "q3_K": "Q3_K_M"
        case "q4_K": "Q4_K_M"
        case "q5_K": "Q5_K_M"
        default: type.uppercased()
        }
    }

    /// `tensor_allows_quantization` (the name-based rules that apply to dense models): at least 2 dimensions
    /// (ggml counts dimensions up to the last of length > 1, so numpy-order leading 1s do not count), a name
    /// ending in `weight`, not a norm, router, positional or token-type embedding, or ssm convolution.
    public static func allowsQuantization(_ ggufName: String, shape: [Int]) -> Bool {
        let dims = shape.drop(while: { $0 == 1 }).count
        guard dims >= 2, ggufName.hasSuffix("weight"), !ggufName.hasSuffix("_norm.weight") else { return false }
        for excluded in ["ffn_gate_inp.weight", "pos_embd", "token_types", "ssm_conv1d", "altup", "laurel",
                         "per_layer_model_proj", "time_mix_", "attn_rel_b"] where ggufName.contains(excluded) {
            return false
        }
        return true
    }

    /// `name` with every ECMAScript regex metacharacter escaped.
    static func escaped(_ name: String) -> String {
        var out = ""
        for ch in name {
            if "\\^$.|?*+()[]{}/".contains(ch) { out.append("\\") }
            out.append(ch)
        }
        return out
    }

    /// `s` as one shell word, quoted only when it needs it.
    public static func shellWord(_ s: String) -> String {
        let plain = s.allSatisfy { $0.isLetter || $0.isNumber || "-_./=:,+@%".contains($0) }
        return plain && !s.isEmpty ? s : "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}

private extension DType {
    var isBlockQuantized: Bool { if case .ggml = self { return true } else { return false } }
}
