import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats

/// `ModelComparison` against the numbers numpy computed for the same files (`Tests/Fixtures/make_compare.py`):
/// an HF checkpoint against a noisy copy (matched by name), and against the GGUF file llama.cpp's converter
/// would make of the noisy copy (names mapped, q/k rows permuted, Q8_0/Q4_0/F16 storage).
@Suite struct ModelComparisonTests {
    static let dir = Fixtures.path("compare")

    static func reference(_ which: String) throws -> [String: Any] {
        let all = try #require(try Fixtures.json("compare/reference.json") as? [String: Any])
        return try #require(all[which] as? [String: Any])
    }

    /// Sums to 1e-6 relative (Float32 lane sums, DESIGN.md §5 accuracy); max error and zero counts exact.
    static func check(_ m: ErrorMetrics, _ r: [String: Any], _ context: String) {
        func close(_ a: Double, _ key: String) -> Bool {
            let b = (r[key] as! NSNumber).doubleValue
            return abs(a - b) <= 1e-6 * max(abs(b), 1e-30)
        }
        #expect(m.count == (r["count"] as! NSNumber).intValue, "\(context) count")
        #expect(m.zeros == (r["zeros"] as! NSNumber).intValue, "\(context) zeros")
        // A Float32 difference either way (Foundation's JSON reader may be an ulp off in the Double).
        #expect(Float(m.maxAbsError) == Float((r["max_abs_error"] as! NSNumber).doubleValue), "\(context) max error")
        for (v, k) in [(m.sumSquares, "sum_squares"), (m.sumSquaredError, "sum_squared_error"), (m.sumProducts, "sum_products"),
                       (m.sumSquaresReconstructed, "sum_squares_reconstructed"), (m.mse, "mse"), (m.cosineSimilarity, "cosine")] {
            #expect(close(v, k), "\(context) \(k): \(v) vs numpy \(r[k]!)")
        }
        #expect(abs(m.sqnrDB - (r["sqnr_db"] as! NSNumber).doubleValue) < 1e-5, "\(context) SQNR")
    }

    func compare(_ b: String, _ mapping: ModelComparison.Mapping, pieceElements: Int = 1 << 18) throws -> ModelComparison {
        try ModelComparison(a: ModelFile.open(Self.dir + "/hf.safetensors"), b: ModelFile.open(Self.dir + "/" + b),
                            mapping: mapping, pieceElements: pieceElements)
    }

    @Test(arguments: [1 << 18, 100])   // one piece per tensor; many pieces (of whole heads when permuted)
    func byNameMatchesNumpy(pieceElements: Int) throws {
        let c = try compare("noisy.safetensors", .identity, pieceElements: pieceElements)
        let ref = try Self.reference("plain")
        let pairs = try #require(ref["pairs"] as? [[String: Any]])
        #expect(Set(c.pairs.map(\.nameA)) == Set(pairs.map { $0["name"] as! String }))
        for r in pairs {
            let name = r["name"] as! String
            let p = try #require(c.pairs.first { $0.nameA == name })
            #expect(!p.unpermuted)
            Self.check(p.metrics, r, name)
        }
        Self.check(c.total, try #require(ref["total"] as? [String: Any]), "total")
        #expect(c.onlyInA == ref["only_in_a"] as? [String])
        #expect(c.onlyInB == ref["only_in_b"] as? [String])
        #expect(c.shapeMismatches.map(\.nameA) == ref["shape_mismatches"] as? [String])
        #expect(c.shapeMismatches.first?.shapeB == [64, 96])
        #expect(c.notCompared == ref["not_compared"] as? [String])
    }

    @Test(arguments: [1 << 18, 100])
    func llamaMappingUndoesThePermutation(pieceElements: Int) throws {
        let c = try compare("llama.gguf", .llama(heads: nil, kvHeads: nil), pieceElements: pieceElements)
        let ref = try Self.reference("llama")
        let pairs = try #require(ref["pairs"] as? [[String: Any]])
        #expect(c.pairs.count == pairs.count)
        for r in pairs {
            let name = r["name"] as! String
            let p = try #require(c.pairs.first { $0.nameA == name })
            #expect(p.unpermuted == (name.hasSuffix("q_proj.weight") || name.hasSuffix("k_proj.weight")), "\(name)")
            Self.check(p.metrics, r, name)
        }
        Self.check(c.total, try #require(ref["total"] as? [String: Any]), "total")
        #expect(c.onlyInA == ref["only_in_a"] as? [String])
        #expect(c.onlyInB.isEmpty)
        // The permutation matters: read without undoing it, the query rows are far off.
        let wrong = try compare("llama.gguf", .llama(heads: 2, kvHeads: 1))
        let q = try #require(wrong.pairs.first { $0.nameA == "model.layers.0.self_attn.q_proj.weight" })
        #expect(q.metrics.sqnrDB < 3)
    }

    @Test func withoutTheMapNothingMatchesTheGGUFNames() throws {
        let c = try compare("llama.gguf", .identity)
        #expect(c.pairs.isEmpty)
        #expect(c.onlyInB.contains("blk.0.attn_q.weight"))
    }

    @Test func namesAndRows() {
        #expect(LlamaTensorNames.gguf(forHF: "model.layers.12.mlp.down_proj.weight") == "blk.12.ffn_down.weight")
        #expect(LlamaTensorNames.gguf(forHF: "model.layers.3.self_attn.k_proj.bias") == "blk.3.attn_k.bias")
        #expect(LlamaTensorNames.gguf(forHF: "lm_head.weight") == "output.weight")
        #expect(LlamaTensorNames.gguf(forHF: "model.layers.x.mlp.down_proj.weight") == nil)
        #expect(LlamaTensorNames.gguf(forHF: "model.layers.01.mlp.down_proj.weight") == nil)
        #expect(LlamaTensorNames.permuted("blk.0.attn_q.weight") == .query)
        #expect(LlamaTensorNames.permuted("blk.0.attn_v.weight") == nil)
        // One head of 8 rows: HF rows 0…3 are the even GGUF rows, 4…7 the odd ones.
        #expect((0..<8).map { LlamaTensorNames.ggufRow(ofHFRow: $0, rows: 8, heads: 1)! } == [0, 2, 4, 6, 1, 3, 5, 7])
        #expect(LlamaTensorNames.ggufRow(ofHFRow: 0, rows: 6, heads: 2) == nil)   // heads of 3 rows
    }
}
