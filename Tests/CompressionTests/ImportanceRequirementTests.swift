import Foundation
import Testing
@testable import Compression
import WeightFormats

/// llama-quantize refuses some types and presets without an importance matrix (`tensor_requires_imatrix` in
/// llama.cpp's src/llama-quant.cpp); plans asking for them are refused with that reason, which is not the
/// reason weightlab gives for a type it cannot quantize.
struct ImportanceRequirementTests {
    let tensors: [(name: String, dtype: DType, shape: [Int])] = [
        ("token_embd.weight", .float32, [8, 256]), ("blk.0.attn_q.weight", .float32, [8, 256]),
        ("blk.0.ffn_down.weight", .float32, [8, 256]), ("output.weight", .float32, [8, 256]),
    ]

    func plan(_ json: String) throws -> Plan { try Plan.parse(json, path: "p.json") }

    func failure(_ p: Plan) -> PlanError? {
        do { _ = try p.resolve(for: tensors); return nil } catch { return error }
    }

    @Test(arguments: ["iq2_xxs", "iq2_xs", "iq2_s", "iq1_s", "iq1_m", "iq3_xxs"])
    func typeNeedsAnImportanceMatrix(_ type: String) throws {
        var p = try plan(#"{"version": 1, "rules": [{"match": "blk", "quantize": {"format": "gguf", "type": "\#(type)"}}]}"#)
        let e = try #require(failure(p))
        #expect(e.field == "rules[0].quantize.type")
        #expect(e.reason.contains("needs an importance matrix (llama-quantize refuses it without one"), "\(e.reason)")
        #expect(e.reason.contains("blk.0.attn_q.weight") && e.reason.contains("blk.0.ffn_down.weight"))
        // With a matrix llama-quantize would make it; weightlab cannot (a different reason).
        p.imatrix = "imatrix.gguf"
        let w = try #require(failure(p))
        #expect(w.reason.contains("cannot quantize to") && !w.reason.contains("importance"), "\(w.reason)")
        // token_embd and output are exempt in llama.cpp: only weightlab's own limit applies to them.
        var q = try plan(#"{"version": 1, "rules": [{"match": "^(token_embd|output)\\.", "quantize": {"format": "gguf", "type": "\#(type)"}}]}"#)
        #expect(failure(q)?.reason.contains("importance") == false)
        q.imatrix = "x"
        #expect(failure(q)?.reason.contains("cannot quantize to") == true)
    }

    /// `tensor_requires_imatrix` per tensor: Q2_K only inside Q2_K_S; never the embedding or the output, under
    /// their GGUF or Hugging Face names.
    @Test func perTensorRequirementFollowsLlamaQuantize() {
        #expect(ImportanceRequirement.requires(.q2_K, tensor: "blk.3.ffn_up.weight", preset: .q2_K_S))
        #expect(!ImportanceRequirement.requires(.q2_K, tensor: "blk.3.ffn_up.weight", preset: .q2_K))
        #expect(!ImportanceRequirement.requires(.q2_K, tensor: "blk.3.ffn_up.weight", preset: nil))
        #expect(ImportanceRequirement.requires(.iq2_XS, tensor: "blk.3.ffn_up.weight", preset: nil))
        #expect(ImportanceRequirement.requires(.q2_K, tensor: "model.layers.3.mlp.up_proj.weight", preset: .q2_K_S))
        for exempt in ["token_embd.weight", "output.weight", "model.embed_tokens.weight", "lm_head.weight"] {
            #expect(!ImportanceRequirement.requires(.q2_K, tensor: exempt, preset: .q2_K_S), "\(exempt)")
            #expect(!ImportanceRequirement.requires(.iq2_XXS, tensor: exempt, preset: nil), "\(exempt)")
        }
    }

    @Test func kQuantsAndIQ4NeedNone() throws {
        for type in ["q2_k", "q3_k", "q4_k", "iq4_xs", "iq4_nl", "q4_0"] {
            let p = try plan(#"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "\#(type)"}}}"#)
            #expect(failure(p) == nil, "\(type)")
        }
    }

    @Test(arguments: ["Q2_K_S", "IQ2_XXS", "IQ2_XS", "IQ2_S", "IQ2_M", "IQ1_S", "IQ1_M", "IQ3_XXS", "iq2_xs"])
    func presetNeedsAnImportanceMatrix(_ name: String) throws {
        var p = try plan(#"{"version": 1, "preset": "\#(name)"}"#)
        let e = try #require(failure(p))
        #expect(e.field == "preset")
        #expect(e.reason == "llama-quantize refuses preset \(name.uppercased()) without an importance matrix (give --imatrix or the plan's \"imatrix\")")
        p.imatrix = "imatrix.gguf"
        if name == "Q2_K_S" {
            // With a matrix llama-quantize makes Q2_K_S, and so does weightlab (its types: LlamaPresetTests).
            #expect(failure(p) == nil)
            #expect(p.preset == .q2_K_S)
        } else {
            let w = try #require(failure(p))
            #expect(w.reason.hasPrefix("weightlab cannot produce preset \(name.uppercased())"), "\(w.reason)")
        }
        // Unknown names stay unknown.
        #expect(throws: PlanError.self) { try plan(#"{"version": 1, "preset": "IQ9_Z"}"#) }
    }
}
