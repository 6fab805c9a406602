import WeightFormats

/// A llama.cpp quantization preset (llama-quantize's `ftype` argument, such as `Q4_K_M`): one default ggml
/// type plus llama-quantize's per-tensor heuristics (`llama_tensor_get_type` in llama.cpp's
/// src/llama-quant.cpp), reproduced by `LlamaTypeSelection`.
public enum LlamaPreset: String, CaseIterable, Sendable, Hashable {
    case q2_K = "Q2_K", q3_K_S = "Q3_K_S", q3_K_M = "Q3_K_M", q3_K_L = "Q3_K_L"
    case q4_0 = "Q4_0", q4_1 = "Q4_1", q5_0 = "Q5_0", q5_1 = "Q5_1"
    case q4_K_S = "Q4_K_S", q4_K_M = "Q4_K_M", q5_K_S = "Q5_K_S", q5_K_M = "Q5_K_M", q6_K = "Q6_K", q8_0 = "Q8_0"
    case iq4_NL = "IQ4_NL", iq4_XS = "IQ4_XS"
    /// Made only with an importance matrix (`requiresImportance`).
    case q2_K_S = "Q2_K_S"

    /// llama-quantize stops with "this quantization requires an importance matrix!" without one: every Q2_K
    /// tensor of a Q2_K_S file needs one (`tensor_requires_imatrix`).
    public var requiresImportance: Bool { self == .q2_K_S }

    /// The preset named `name`, case-insensitively, with llama-quantize's aliases (`Q4_K` = `Q4_K_M`,
    /// `Q3_K` = `Q3_K_M`, `Q5_K` = `Q5_K_M`).
    public init?(name: String) {
        let upper = name.uppercased()
        let aliases = ["Q4_K": "Q4_K_M", "Q3_K": "Q3_K_M", "Q5_K": "Q5_K_M"]
        guard let p = Self.allCases.first(where: { $0.rawValue.uppercased() == (aliases[upper] ?? upper) }) else { return nil }
        self = p
    }

    /// The order the workbench's preset key cycles through: most bits first.
    public static let cycleOrder: [LlamaPreset] = [.q8_0, .q6_K, .q5_K_M, .q5_K_S, .q5_1, .q5_0, .q4_K_M, .q4_K_S, .q4_1, .q4_0,
                                                   .iq4_XS, .iq4_NL, .q3_K_L, .q3_K_M, .q3_K_S, .q2_K]

    /// llama.cpp's `llama_ftype` number, written as `general.file_type`.
    public var fileType: UInt32 {
        switch self {
        case .q4_0: 2
        case .q4_1: 3
        case .q8_0: 7
        case .q5_0: 8
        case .q5_1: 9
        case .q2_K: 10
        case .q2_K_S: 21
        case .q3_K_S: 11
        case .q3_K_M: 12
        case .q3_K_L: 13
        case .q4_K_S: 14
        case .q4_K_M: 15
        case .q5_K_S: 16
        case .q5_K_M: 17
        case .q6_K: 18
        case .iq4_NL: 25
        case .iq4_XS: 30
        }
    }

    /// `llama_ftype_get_default_type`: the type of every tensor no heuristic changes.
    public var defaultType: GGMLType {
        switch self {
        case .q4_0: .q4_0
        case .q4_1: .q4_1
        case .q5_0: .q5_0
        case .q5_1: .q5_1
        case .q8_0: .q8_0
        case .q2_K, .q2_K_S: .q2_K
        case .q3_K_S, .q3_K_M, .q3_K_L: .q3_K
        case .q4_K_S, .q4_K_M: .q4_K
        case .q5_K_S, .q5_K_M: .q5_K
        case .q6_K: .q6_K
        case .iq4_NL: .iq4_NL
        case .iq4_XS: .iq4_XS
        }
    }
}

/// What llama-quantize's choices depend on besides tensor names: the architecture and its hyperparameters,
/// read from GGUF metadata (`general.architecture`, `<arch>.block_count`, `<arch>.attention.head_count`,
/// `<arch>.attention.head_count_kv`, `<arch>.expert_count`). Absent values are inferred from the tensors:
/// layers from the highest `blk.N`, grouped-query attention from the row counts of `attn_q` and `attn_k`.
public struct LlamaModelFacts: Sendable, Equatable {
    public var architecture: String
    public var layerCount: Int
    public var headCount: Int
    public var headCountKV: Int
    public var expertCount: Int

    public init(architecture: String, layerCount: Int, headCount: Int, headCountKV: Int, expertCount: Int = 0) {
        self.architecture = architecture
        self.layerCount = layerCount
        self.headCount = headCount
        self.headCountKV = headCountKV
        self.expertCount = expertCount
    }

    public init(metadata: [(key: String, value: MetadataValue)], tensors: [(name: String, shape: [Int])]) {
        func value(_ key: String) -> MetadataValue? { metadata.first { $0.key == key }?.value }
        func integer(_ key: String) -> Int? {
            switch value(key) {
            case .int(let v)?: return Int(exactly: v)
            case .uint(let v)?: return Int(exactly: v)
            case .array(let items)?:       // per-layer arrays: llama.cpp's n_head(0)
                if case .int(let v)? = items.first { return Int(exactly: v) }
                if case .uint(let v)? = items.first { return Int(exactly: v) }
                return nil
            default: return nil
            }
        }
        var arch = "llama"
        if case .string(let a)? = value("general.architecture") { arch = a }
        let layers = tensors.compactMap { LlamaTypeSelection.layerIndex($0.name) }.max().map { $0 + 1 } ?? 0
        // Rows are the first NumPy dimension; attn_q has n_head·d rows, attn_k n_head_kv·d.
        let qRows = tensors.first { $0.name.hasSuffix("attn_q.weight") }?.shape.first
        let kRows = tensors.first { $0.name.hasSuffix("attn_k.weight") }?.shape.first
        let heads = integer("\(arch).attention.head_count") ?? qRows ?? 1
        let kvHeads = integer("\(arch).attention.head_count_kv")
            ?? (qRows.flatMap { q in kRows.map { k in k > 0 && q % k == 0 ? heads / (q / k) : heads } } ?? heads)
        self.init(architecture: arch, layerCount: integer("\(arch).block_count") ?? layers, headCount: heads,
                  headCountKV: kvHeads, expertCount: integer("\(arch).expert_count") ?? 0)
    }

    /// `n_gqa()`: query heads per key/value head (0 when there are no key/value heads).
    public var groupedQueryFactor: Int { headCountKV == 0 ? 0 : headCount / headCountKV }

    /// llama.cpp's `LLM_TYPE_70B`, the one model size its heuristics single out.
    public var is70B: Bool {
        switch architecture {
        case "llama": layerCount == 80 && headCount != headCountKV
        case "qwen2", "deci", "olmo": layerCount == 80
        case "jais2": layerCount == 68
        default: false
        }
    }

    var isFalcon: Bool { architecture == "falcon" }
}

/// One tensor's type under a preset and why, in words for the screen ("ffn_down: more bits in layer 3 of 32").
public struct PresetChoice: Sendable, Equatable {
    /// The ggml type to quantize to; nil when llama-quantize leaves the tensor as it is (1-D tensors, norms,
    /// expert routers) or must store it as F16 (a row that not even a 32-value block divides).
    public var type: GGMLType?
    public var reason: String

    public init(type: GGMLType?, reason: String) {
        self.type = type
        self.reason = reason
    }

    /// The settings this choice gives a tensor.
    public var quantize: QuantFormat { type.map { .gguf($0) } ?? .none }
}

/// llama-quantize's per-tensor type selection for a preset (`llama_tensor_get_type` and
/// `llama_tensor_get_type_impl` of src/llama-quant.cpp, llama.cpp as vendored by llama-cpp-python 0.3.36),
/// without `--tensor-type` overrides, `--pure`, `--output-tensor-type` or `--token-embedding-type`: in a
/// weightlab plan the rules play that part, applied on top of the preset's choices.
///
/// Tensors are visited in llama.cpp's `weights_map` order (by `blk.N`, names without a layer first, then by
/// name); the attn_v counter and, for models without experts, the ffn counters follow that order.
public enum LlamaTypeSelection {
    /// The `N` of a name starting `blk.N.` (the loader's `sscanf("blk.%d.")`), else nil.
    static func layerIndex(_ name: String) -> Int? {
        guard name.hasPrefix("blk.") else { return nil }
        let digits = name.dropFirst(4).prefix { $0.isNumber }
        guard !digits.isEmpty, name.dropFirst(4 + digits.count).first == "." else { return nil }
        return Int(digits)
    }

    /// llama.cpp's `weight_name_comparer`.
    static func precedes(_ a: String, _ b: String) -> Bool {
        let la = layerIndex(a) ?? -1, lb = layerIndex(b) ?? -1
        if la != lb { return la < lb }
        return Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
    }

    enum Category { case output, tokenEmbedding, attnQKV, attnKVB, attnV, attnK, attnQ, attnOutput, ffnUp, ffnGate, ffnDown, other
        var isAttnV: Bool { self == .attnV || self == .attnQKV || self == .attnKVB }
    }

    /// `tensor_get_category`: substring tests in llama.cpp's order.
    static func category(_ name: String) -> Category {
        if name == "output.weight" { return .output }
        if name == "token_embd.weight" || name == "per_layer_token_embd.weight" { return .tokenEmbedding }
        let tests: [(String, Category)] = [("attn_qkv.weight", .attnQKV), ("attn_kv_b.weight", .attnKVB), ("attn_v.weight", .attnV),
                                           ("attn_k.weight", .attnK), ("attn_q.weight", .attnQ), ("attn_output.weight", .attnOutput),
                                           ("ffn_up", .ffnUp), ("ffn_gate", .ffnGate), ("ffn_down", .ffnDown)]
        return tests.first { name.contains($0.0) }?.1 ?? .other
    }

    /// `tensor_allows_quantization` for the names llama-family models use: at least two dimensions (after
    /// dropping leading 1s, ggml's `n_dims`), a name ending in `weight`, and none of the tensors llama.cpp
    /// keeps as they are.
    public static func allowsQuantization(name: String, shape: [Int]) -> Bool {
        let dims = shape.drop { $0 == 1 }.count
        guard dims >= 2, name.hasSuffix("weight") else { return false }
        let kept = ["_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
                    "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
                    "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight",
                    "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight",
                    "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight", "time_mix_g2.weight",
                    "time_mix_decay_w1.weight", "time_mix_decay_w2.weight", "time_mix_lerp_fused.weight", "attn_rel_b.weight",
                    ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger",
                    "a.rvq.codebook", "mm.a.code_embd"]
        if kept.contains(where: { name.contains($0) }) { return false }
        return name != "position_embd.weight" && name != "token_types.weight"
    }

    /// `use_more_bits`: the first and last eighth of the layers and every third layer between them.
    public static func useMoreBits(_ i: Int, _ n: Int) -> Bool {
        i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2
    }

    /// `tensor_type_fallback`: the type llama-quantize substitutes when `type`'s block does not divide the
    /// row length, and F16 (nil here) when not even the substitute's does.
    public static func fallback(_ type: GGMLType, rowLength: Int) -> (type: GGMLType?, reason: String)? {
        guard rowLength % type.blockSize != 0 else { return nil }
        let substitute: GGMLType
        switch type {
        case .iq4_XS, .iq1_S, .iq1_M, .iq2_XXS, .iq2_XS, .iq2_S, .iq3_XXS, .iq3_S: substitute = .iq4_NL
        case .q2_K, .q3_K, .tq1_0, .tq2_0: substitute = .q4_0
        case .q4_K: substitute = .q5_0
        case .q5_K: substitute = .q5_1
        case .q6_K: substitute = .q8_0
        default: substitute = type
        }
        let why = "rows of \(rowLength) do not divide \(type.name)'s blocks of \(type.blockSize)"
        if rowLength % substitute.blockSize != 0 { return (nil, why + ": F16 (source kept)") }
        return (substitute, why + ": \(substitute.name)")
    }

    /// Every tensor's choice under `preset`, keyed by name. `tensors` are the model's (any order); names are
    /// GGUF names. `hasImportance`: an importance matrix is given (changes the Q4_0/Q5_0 and IQ4 rules).
    public static func choose(_ preset: LlamaPreset, facts: LlamaModelFacts, tensors: [(name: String, shape: [Int])],
                              hasImportance: Bool = false) -> [String: PresetChoice] {
        let ordered = tensors.sorted { precedes($0.name, $1.name) }
        let categories = ordered.map { category($0.name) }
        let nAttnV = categories.filter(\.isAttnV).count
        let tied = !categories.contains(.output)
        let nLayers = facts.layerCount
        let experts = max(1, facts.expertCount)
        let gqa = facts.groupedQueryFactor
        let p = preset
        var iAttnV = 0, iFFNDown = 0
        var out: [String: PresetChoice] = [:]

        for (t, cat) in zip(ordered, categories) {
            guard allowsQuantization(name: t.name, shape: t.shape) else {
                out[t.name] = PresetChoice(type: nil, reason: "kept: llama-quantize does not quantize this tensor")
                continue
            }
            let short = shortName(t.name)
            let layer = layerIndex(t.name)
            let rowLength = t.shape.last ?? 1
            var type = preset.defaultType
            var why: String { "\(short): \(type.name), the \(p.rawValue) default" }
            var reason: String?

            func set(_ newType: GGMLType, _ because: String) { type = newType; reason = because }

            if cat == .output || (tied && cat == .tokenEmbedding) {
                let what = cat == .output ? "output" : "token_embd (tied to the output)"
                if facts.isFalcon || rowLength % type.blockSize != 0 {
                    set(.q8_0, "\(what): Q8_0")
                } else if type != .q8_0 {
                    set(.q6_K, "\(what): Q6_K")
                }
            } else if cat == .tokenEmbedding {
                // No ftype among the presets changes an untied token embedding.
            } else if cat.isAttnV {
                let i = iAttnV
                switch p {
                case .q2_K: set(gqa >= 4 ? .q4_K : .q3_K, gqa >= 4 ? "\(short): grouped-query attention (\(gqa) heads per kv head)" : "\(short): Q3_K in Q2_K")
                case .q2_K_S where gqa >= 4: set(.q4_K, "\(short): grouped-query attention (\(gqa) heads per kv head)")
                case .q3_K_M: set(i < 2 ? .q5_K : .q4_K, i < 2 ? "\(short): more bits in the first 2 layers" : "\(short): Q4_K in Q3_K_M")
                case .q3_K_L: set(.q5_K, "\(short): Q5_K in Q3_K_L")
                case .iq4_NL where gqa >= 4, .iq4_XS where gqa >= 4: set(.q5_K, "\(short): grouped-query attention (\(gqa) heads per kv head)")
                case .q4_K_M where useMoreBits(i, nAttnV), .q5_K_M where useMoreBits(i, nAttnV): set(.q6_K, "\(short): more bits in layer \(layer ?? i) of \(nAttnV)")
                case .q4_K_S where i < 4: set(.q5_K, "\(short): more bits in the first 4 layers")
                default: break
                }
                if facts.is70B && (type == .q3_K || type == .q4_K) { set(.q5_K, "\(short): 70B model, Q5_K") }
                if facts.expertCount == 8 { set(.q8_0, "\(short): 8-expert model, Q8_0") }
                iAttnV += 1
            } else if cat == .attnK {
                if facts.expertCount == 8 { set(.q8_0, "\(short): 8-expert model, Q8_0") }
            } else if cat == .ffnDown {
                let i = experts > 1 ? (layer ?? 0) : iFFNDown
                let n = nLayers
                let more = "\(short): more bits in layer \(i) of \(n)"
                switch p {
                case .q2_K: set(.q3_K, "\(short): Q3_K in Q2_K")
                case .q2_K_S where i < n / 8: set(.q4_K, "\(short): more bits in the first \(n / 8) layers")
                case .q3_K_M:
                    if i < n / 16 { set(.q5_K, "\(short): more bits in the first \(n / 16) layers") }
                    else if !facts.isFalcon || useMoreBits(i, n) { set(.q4_K, "\(short): Q4_K in Q3_K_M") }
                    else { set(.q3_K, "\(short): Q3_K in Q3_K_M (falcon)") }
                case .q3_K_L: set(facts.isFalcon ? .q4_K : .q5_K, "\(short): \(facts.isFalcon ? "Q4_K" : "Q5_K") in Q3_K_L")
                case .q4_K_M:
                    if facts.isFalcon {
                        if i < n / 16 { set(.q6_K, "\(short): more bits in the first \(n / 16) layers") }
                        else if useMoreBits(i, n) { set(.q5_K, more) }
                    } else if useMoreBits(i, n) { set(.q6_K, more) }
                case .iq4_NL where i < n / 8 && !hasImportance, .iq4_XS where i < n / 8 && !hasImportance:
                    set(.q5_K, "\(short): first \(n / 8) layers without an importance matrix")
                case .q5_K_M where useMoreBits(i, n): set(.q6_K, more)
                case .q4_K_S where !facts.isFalcon && i < n / 8: set(.q5_K, "\(short): more bits in the first \(n / 8) layers")
                case .q4_0 where hasImportance && i < n / 8, .q5_0 where hasImportance && i < n / 8:
                    set(p == .q4_0 ? .q4_1 : .q5_1, "\(short): first \(n / 8) layers with an importance matrix")
                default: break
                }
                iFFNDown += 1
            } else if cat == .attnOutput {
                if !facts.isFalcon {
                    if facts.expertCount == 8 {
                        if [.q2_K, .q3_K_S, .q3_K_M, .iq4_NL, .q4_K_S, .q4_K_M, .iq4_XS].contains(p) {
                            set(.q5_K, "\(short): 8-expert model, Q5_K")
                        }
                    } else {
                        switch p {
                        case .q2_K: set(.q3_K, "\(short): Q3_K in Q2_K")
                        case .q3_K_M: set(.q4_K, "\(short): Q4_K in Q3_K_M")
                        case .q3_K_L: set(.q5_K, "\(short): Q5_K in Q3_K_L")
                        default: break
                        }
                    }
                } else if p == .q3_K_L {
                    set(.q4_K, "\(short): Q4_K in Q3_K_L (falcon)")
                }
            } else if cat == .attnQKV {
                // Unreachable in llama.cpp: attn_qkv takes the attn_v branch above.
            }
            if let f = fallback(type, rowLength: rowLength) {
                out[t.name] = PresetChoice(type: f.type, reason: "\(short): \(f.reason)")
            } else {
                out[t.name] = PresetChoice(type: type, reason: reason ?? why)
            }
        }
        return out
    }

    /// `ffn_down` for `blk.3.ffn_down.weight`, the tensor's role without layer and suffix.
    static func shortName(_ name: String) -> String {
        var s = Substring(name)
        if let l = layerIndex(name) { s = s.dropFirst(4 + String(l).count + 1) }
        if s.hasSuffix(".weight") { s = s.dropLast(7) }
        return String(s)
    }
}
