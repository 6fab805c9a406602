import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Per-tensor types of every preset on small models, compared with what llama-quantize itself picks
/// (Tests/Fixtures/make_presets.py runs `llama-quantize --dry-run`), plus the worked example of the reference
/// digest (Llama-3-8B shapes) and the plan's `preset` field.
@Suite struct LlamaPresetTests {
    nonisolated(unsafe) static let reference: [String: Any] = {
        (try? Fixtures.json("presets/reference.json")) as? [String: Any] ?? [:]
    }()

    /// A Llama-3-8B-shaped tensor list: 32 layers, 32 query heads, 8 kv heads, untied output.
    static func llama3Tensors() -> [(name: String, shape: [Int])] {
        var t: [(name: String, shape: [Int])] = [("token_embd.weight", [128256, 4096]), ("output.weight", [128256, 4096]),
                                                 ("output_norm.weight", [4096]), ("rope_freqs.weight", [64])]
        for i in 0..<32 {
            let b = "blk.\(i)."
            t += [(b + "attn_norm.weight", [4096]), (b + "ffn_norm.weight", [4096]),
                  (b + "attn_q.weight", [4096, 4096]), (b + "attn_k.weight", [1024, 4096]), (b + "attn_v.weight", [1024, 4096]),
                  (b + "attn_output.weight", [4096, 4096]), (b + "ffn_gate.weight", [14336, 4096]),
                  (b + "ffn_up.weight", [14336, 4096]), (b + "ffn_down.weight", [4096, 14336])]
        }
        return t
    }

    @Test func llama3Q4KMatchesTheWorkedExample() {
        let facts = LlamaModelFacts(architecture: "llama", layerCount: 32, headCount: 32, headCountKV: 8)
        let c = LlamaTypeSelection.choose(.q4_K_M, facts: facts, tensors: Self.llama3Tensors())
        #expect(c["output.weight"]?.type == .q6_K)
        #expect(c["token_embd.weight"]?.type == .q4_K)
        #expect(c["rope_freqs.weight"]?.type == nil && c["blk.7.attn_norm.weight"]?.type == nil)
        let more: Set = [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]
        for i in 0..<32 {
            #expect(c["blk.\(i).attn_v.weight"]?.type == (more.contains(i) ? .q6_K : .q4_K))
            #expect(c["blk.\(i).ffn_down.weight"]?.type == (more.contains(i) ? .q6_K : .q4_K))
            for role in ["attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"] {
                #expect(c["blk.\(i).\(role).weight"]?.type == .q4_K)
            }
        }
        #expect(c["blk.3.ffn_down.weight"]?.reason == "ffn_down: more bits in layer 3 of 32")
        #expect(c["blk.4.ffn_down.weight"]?.reason == "ffn_down: Q4_K, the Q4_K_M default")
        let m = LlamaTypeSelection.choose(.q3_K_M, facts: facts, tensors: Self.llama3Tensors())
        #expect((0..<32).map { m["blk.\($0).attn_v.weight"]?.type } == [.q5_K, .q5_K] + Array(repeating: .q4_K, count: 30))
        #expect((0..<32).map { m["blk.\($0).ffn_down.weight"]?.type } == [.q5_K, .q5_K] + Array(repeating: .q4_K, count: 30))
        #expect(m["blk.5.attn_output.weight"]?.type == .q4_K && m["blk.5.attn_q.weight"]?.type == .q3_K)
    }

    @Test func fallbacksForRowsThatDoNotDivide256() {
        #expect(LlamaTypeSelection.fallback(.q4_K, rowLength: 288)?.type == .q5_0)
        #expect(LlamaTypeSelection.fallback(.q5_K, rowLength: 288)?.type == .q5_1)
        #expect(LlamaTypeSelection.fallback(.q6_K, rowLength: 288)?.type == .q8_0)
        #expect(LlamaTypeSelection.fallback(.q2_K, rowLength: 288)?.type == .q4_0)
        #expect(LlamaTypeSelection.fallback(.q3_K, rowLength: 288)?.type == .q4_0)
        #expect(LlamaTypeSelection.fallback(.iq4_XS, rowLength: 288)?.type == .iq4_NL)
        #expect(LlamaTypeSelection.fallback(.q4_K, rowLength: 512) == nil)
        let f16 = LlamaTypeSelection.fallback(.q4_K, rowLength: 100)
        #expect(f16 != nil && f16?.type == nil)
        // The committed ggml fixture records the same table.
        let table = (try? Fixtures.json("kquants/reference.json") as? [String: Any])?["fallback"] as? [String: String] ?? [:]
        #expect(table.count == 6)
        for (from, to) in table {
            #expect(LlamaTypeSelection.fallback(GGMLType(name: from)!, rowLength: 288)?.type == GGMLType(name: to), "\(from)")
        }
    }

    @Test func everyPresetOnEveryModelEqualsLlamaQuantize() throws {
        let choices = try #require(Self.reference["choices"] as? [String: [String: [String: String]]])
        try checkEveryPreset(against: choices, hasImportance: false)
    }

    /// With an importance matrix (presets/with_imatrix.json, `llama-quantize --dry-run --imatrix`): the
    /// Q4_0/Q5_0/IQ4 rules that look at it, and Q2_K_S, which llama-quantize makes only with one.
    @Test func everyPresetWithAnImportanceMatrixEqualsLlamaQuantize() throws {
        let file = try #require(try Fixtures.json("presets/with_imatrix.json") as? [String: Any])
        let choices = try #require(file["choices"] as? [String: [String: [String: String]]])
        try checkEveryPreset(against: choices, hasImportance: true)
    }

    func checkEveryPreset(against choices: [String: [String: [String: String]]], hasImportance: Bool) throws {
        let models = try #require(Self.reference["models"] as? [String: [String: Any]])
        #expect(models.count == 4)
        for (name, model) in models.sorted(by: { $0.key < $1.key }) {
            let meta = model["metadata"] as! [String: Any]
            let tensors = (model["tensors"] as! [[Any]]).map { (name: $0[0] as! String, shape: $0[1] as! [Int]) }
            let arch = meta["architecture"] as! String
            let metadata: [(key: String, value: MetadataValue)] = [
                ("general.architecture", .string(arch)),
                ("\(arch).block_count", .uint(UInt64(meta["block_count"] as! Int))),
                ("\(arch).attention.head_count", .uint(UInt64(meta["head_count"] as! Int))),
                ("\(arch).attention.head_count_kv", .uint(UInt64(meta["head_count_kv"] as! Int))),
                ("\(arch).expert_count", .uint(UInt64(meta["expert_count"] as! Int))),
            ]
            let facts = LlamaModelFacts(metadata: metadata, tensors: tensors)
            let sources = Dictionary(uniqueKeysWithValues: tensors.map {
                ($0.name, $0.shape.count == 1 || $0.name.hasSuffix("ffn_gate_inp.weight") ? "F32" : "F16")
            })
            var checked = 0
            for preset in LlamaPreset.allCases {
                let expected = try #require(choices[name]?[preset.rawValue], "\(name) \(preset.rawValue)")
                let got = LlamaTypeSelection.choose(preset, facts: facts, tensors: tensors, hasImportance: hasImportance)
                for t in tensors {
                    // llama-quantize prints the source type for a kept tensor and F16 when it must store one.
                    let ours = got[t.name]?.type?.name ?? (got[t.name]?.reason.contains("F16") == true ? "F16" : sources[t.name]!)
                    #expect(ours == expected[t.name], "\(name) \(preset.rawValue) \(t.name): ours \(ours), llama-quantize \(expected[t.name] ?? "-")")
                    checked += 1
                }
            }
            #expect(checked == tensors.count * LlamaPreset.allCases.count)
        }
    }

    @Test func planPresetResolvesWithRulesOnTop() throws {
        let text = #"{"version": 1, "preset": "q4_k_m", "rules": [{"match": "attn_q", "quantize": {"format": "gguf", "type": "q8_0"}}]}"#
        let plan = try Plan.parse(text, path: "p")
        #expect(plan.preset == .q4_K_M)
        #expect(try Plan.parse(plan.jsonText(), path: "p") == plan)
        let tensors = Self.llama3Tensors().map { (name: $0.name, dtype: DType.float16, shape: $0.shape) }
        let metadata: [(key: String, value: MetadataValue)] = [("general.architecture", .string("llama")), ("llama.block_count", .uint(32)),
                                                               ("llama.attention.head_count", .uint(32)), ("llama.attention.head_count_kv", .uint(8))]
        let settings = try plan.resolve(for: Array(tensors), metadata: metadata)
        let byName = Dictionary(uniqueKeysWithValues: zip(tensors.map { $0.name }, settings))
        #expect(byName["output.weight"]?.quantize == .gguf(.q6_K))
        #expect(byName["blk.0.attn_v.weight"]?.quantize == .gguf(.q6_K))
        #expect(byName["blk.0.attn_q.weight"]?.quantize == .gguf(.q8_0))
        #expect(byName["blk.0.attn_norm.weight"]?.quantize == QuantFormat.none)
        #expect(throws: PlanError.self) { try Plan.parse(#"{"version": 1, "preset": "Q4_K_X"}"#, path: "p") }
        #expect(throws: PlanError.self) {
            try Plan.parse(#"{"version": 1, "preset": "Q6_K", "default": {"quantize": {"format": "gguf", "type": "q8_0"}}}"#, path: "p")
        }
    }
}
