import Foundation
import Testing
import TestSupport

/// `weightlab plan export` on the compare fixtures (a tiny llama model as HF safetensors and as GGUF).
struct PlanExportCommandTests {
    let gguf = Fixtures.path("compare/llama.gguf")
    let hf = Fixtures.path("compare/hf.safetensors")
    let mixed = Fixtures.path("plan_export/llama_mixed.json")
    let int4 = Fixtures.path("plan_export/int4_pruned.json")

    /// What llama_mixed.json asks for, spelled as llama-quantize reads it (llamacpp_quantize_facts.md §8):
    /// anchored, escaped, lowercase patterns; ggml type names; norms (never re-typed) and the output and
    /// embedding (given by their own options) absent.
    static let expectedTypes = (0..<2).map { i in
        ["attn_q": "q4_0", "attn_k": "q4_0", "attn_v": "q8_0", "attn_output": "q4_0",
         "ffn_gate": "q4_0", "ffn_up": "q4_0", "ffn_down": "q5_1"].sorted { a, b in
            ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"].firstIndex(of: a.key)!
                < ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"].firstIndex(of: b.key)!
        }.map { "^blk\\.\(i)\\.\($0.key)\\.weight$=\($0.value)\n" }.joined()
    }.joined()

    @Test func llamaQuantizeFromGGUF() throws {
        let tmp = try TemporaryDirectory()
        let out = tmp.path + "/types.txt"
        let r = try CommandRunner.run(["plan", "export", mixed, "--model", gguf, "--to", "llama-quantize", "-o", out])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let text = try String(contentsOfFile: out, encoding: .utf8)
        #expect(text == Self.expectedTypes)
        // The input already holds Q8_0/Q4_0 tensors, the output stays F16, the embedding goes to Q8_0, and
        // Q4_0 has the most parameters.
        let dir = (gguf as NSString).deletingLastPathComponent
        #expect(r.stdout == "llama-quantize --allow-requantize --tensor-type-file \(out) --output-tensor-type f16 --token-embedding-type q8_0 \(gguf) \(dir)/llama-Q4_0.gguf Q4_0\n")
        // Each pattern, searched as llama-quantize does (lowercased, std::regex_search), finds exactly its tensor.
        let names = ["token_embd.weight", "output.weight", "output_norm.weight"] + (0..<2).flatMap { i in
            ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"].map { "blk.\(i).\($0).weight" }
        }
        for line in text.split(separator: "\n") {
            let pattern = String(line.split(separator: "=", maxSplits: 1)[0]).lowercased()
            let regex = try NSRegularExpression(pattern: pattern)
            let hits = names.filter { regex.firstMatch(in: $0, range: NSRange($0.startIndex..., in: $0)) != nil }
            #expect(hits.count == 1, "\(pattern) matches \(hits)")
        }
        // An existing output is refused without --force.
        let again = try CommandRunner.run(["plan", "export", mixed, "--model", gguf, "--to", "llama-quantize", "-o", out])
        #expect(again.status == 2)
        #expect(try CommandRunner.run(["plan", "export", mixed, "--model", gguf, "--to", "llama-quantize", "-o", out, "--force"]).status == 0)
    }

    @Test func llamaQuantizeFromHFNamesTheGGUFTensors() throws {
        let r = try CommandRunner.run(["plan", "export", mixed, "--model", hf, "--to", "llama-quantize"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        // The same lines, in the HF file's tensor order.
        #expect(r.stdout.split(separator: "\n").sorted() == Self.expectedTypes.split(separator: "\n").sorted())
        #expect(r.stdout.hasSuffix("\n"))
        let dir = (hf as NSString).deletingLastPathComponent
        #expect(r.stderr.contains("# convert the model first: python convert_hf_to_gguf.py \(dir) --outtype f32 --outfile \(dir)/hf-f32.gguf\n"))
        #expect(r.stderr.contains("# llama-quantize --tensor-type-file tensor-types.txt --output-tensor-type f32 --token-embedding-type q8_0 \(dir)/hf-f32.gguf \(dir)/hf-Q4_0.gguf Q4_0\n"))
    }

    @Test func whatATargetCannotExpressIsOneError() throws {
        let lq = try CommandRunner.run(["plan", "export", int4, "--model", hf, "--to", "llama-quantize"])
        #expect(lq.status == 2)
        #expect(lq.stderr.hasPrefix("weightlab: llama-quantize cannot reproduce the settings of 16 tensors: 'lm_head.weight' (int4 g32): llama-quantize writes ggml block types only; can be written to compressed-tensors or safetensors (dequantized);"))
        #expect(lq.stderr.contains("(2:4 + int4 g32): llama-quantize does not prune"))
        #expect(lq.stderr.filter { $0 == "\n" }.count == 1)
        let ct = try CommandRunner.run(["plan", "export", mixed, "--model", hf, "--to", "compressed-tensors"])
        #expect(ct.status == 2)
        #expect(ct.stderr.hasPrefix("weightlab: compressed-tensors cannot hold the settings of 15 tensors: 'model.embed_tokens.weight' (Q8_0): compressed-tensors has no ggml block types; can be written to gguf or safetensors (dequantized)"))
    }

    @Test func compressedTensorsRecipe() throws {
        let tmp = try TemporaryDirectory()
        let plan = try tmp.write("int4.json", text: """
            {"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "symmetric": false, "granularity": {"group": 32}}},
             "rules": [{"match": "norm\\\\.weight$|^lm_head", "quantize": {"format": "none"}},
                       {"match": "down_proj", "quantize": {"format": "int", "bits": 8, "symmetric": true, "granularity": "channel"}}]}
            """)
        let r = try CommandRunner.run(["plan", "export", plan, "--model", hf, "--to", "compressed-tensors"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let q = try #require(json["quantization_config"] as? [String: Any])
        #expect(q["format"] as? String == "mixed-precision")
        #expect(q["ignore"] as? [String] == ["lm_head"])
        let groups = try #require(q["config_groups"] as? [String: [String: Any]])
        #expect(groups.count == 2)
        let int4 = try #require(groups.values.first { ($0["format"] as? String) == "pack-quantized" })
        let w4 = try #require(int4["weights"] as? [String: Any])
        #expect(w4["num_bits"] as? Int == 4 && w4["symmetric"] as? Bool == false && w4["group_size"] as? Int == 32 && w4["strategy"] as? String == "group")
        #expect((int4["targets"] as? [String])?.contains("model.layers.1.self_attn.q_proj") == true)
        #expect((int4["targets"] as? [String])?.count == 13)
        let int8 = try #require(groups.values.first { ($0["format"] as? String) == "int-quantized" })
        #expect(int8["targets"] as? [String] == ["model.layers.0.mlp.down_proj", "model.layers.1.mlp.down_proj"])
    }
}
