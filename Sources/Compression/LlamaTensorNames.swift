import WeightFormats

/// Hugging Face ↔ llama.cpp GGUF tensor names for llama-family models, and the row permutation llama.cpp's
/// converter applies to the query and key projections (`convert_hf_to_gguf.py` `LlamaModel.permute`; the
/// shared reference `llamacpp_quantize_facts.md` §11). Used to compare an HF checkpoint with a GGUF file
/// (`compare --map llama`) and to name an HF model's tensors in a llama-quantize tensor-type file.
public enum LlamaTensorNames {
    /// The GGUF name of an HF tensor name, or nil when the name is not one of the llama-family tensors.
    public static func gguf(forHF name: String) -> String? {
        if let whole = whole[name] { return whole }
        let prefix = "model.layers."
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: "."), let layer = Int(rest[..<dot]), layer >= 0,
              String(layer) == rest[..<dot] else { return nil }
        let tail = String(rest[rest.index(after: dot)...])
        for suffix in [".weight", ".bias"] where tail.hasSuffix(suffix) {
            if let mapped = perLayer[String(tail.dropLast(suffix.count))] { return "blk.\(layer).\(mapped)\(suffix)" }
        }
        return nil
    }

    static let whole = [
        "model.embed_tokens.weight": "token_embd.weight",
        "lm_head.weight": "output.weight",
        "model.norm.weight": "output_norm.weight",
    ]

    static let perLayer = [
        "input_layernorm": "attn_norm",
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "post_attention_layernorm": "ffn_norm",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
    ]

    /// Which head count the converter permuted a GGUF tensor's rows with: `.query` for `attn_q` (n_head),
    /// `.key` for `attn_k` (n_head_kv), nil for tensors it leaves alone.
    public enum Permuted: Sendable, Equatable { case query, key }

    public static func permuted(_ ggufName: String) -> Permuted? {
        guard ggufName.hasPrefix("blk.") else { return nil }
        if ggufName.hasSuffix(".attn_q.weight") || ggufName.hasSuffix(".attn_q.bias") { return .query }
        if ggufName.hasSuffix(".attn_k.weight") || ggufName.hasSuffix(".attn_k.bias") { return .key }
        return nil
    }

    /// The GGUF row holding HF row `row` of a tensor of `rows` rows permuted with `heads` heads: within head
    /// `h` of `hd` rows, HF row `h·hd + r` is GGUF row `h·hd + 2·(r mod hd/2) + r div hd/2`. Nil when the
    /// rows do not split into heads of an even size.
    public static func ggufRow(ofHFRow row: Int, rows: Int, heads: Int) -> Int? {
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0, (0..<rows).contains(row) else { return nil }
        let hd = rows / heads, half = hd / 2
        let h = row / hd, r = row % hd
        return h * hd + 2 * (r % half) + r / half
    }

    /// Head counts from GGUF metadata: `<general.architecture>.attention.head_count` and `…head_count_kv`
    /// (the key heads default to the query heads, as llama.cpp does).
    public static func headCounts(ggufMetadata metadata: [(key: String, value: MetadataValue)]) -> (heads: Int, kvHeads: Int)? {
        func int(_ key: String) -> Int? {
            switch metadata.first(where: { $0.key == key })?.value {
            case .int(let v)?: return Int(v)
            case .uint(let v)?: return Int(v)
            default: return nil
            }
        }
        guard case .string(let arch)? = metadata.first(where: { $0.key == "general.architecture" })?.value,
              let heads = int(arch + ".attention.head_count"), heads > 0 else { return nil }
        return (heads, int(arch + ".attention.head_count_kv") ?? heads)
    }
}
