import Foundation
import Testing
import WeightFormats
@testable import Evaluation

/// Every kernel against numpy float64 references (make_evalnet.py). Tolerances: 1e-5 absolute for
/// element-wise kernels, 1e-4 relative + 1e-5 absolute for anything that sums (GEMM, conv, attention,
/// LayerNorm), which covers Float32 accumulation over up to 300 terms.
struct KernelReferenceTests {
    let t: WeightTable
    init() throws { t = try EvalFixtures.table("kernels.safetensors") }
    func a(_ name: String) throws -> EvalArray { try t.array(name) }

    static let kernels: [any GEMM] = [PortableGEMM(threads: 1), PortableGEMM(threads: 4, parallelThreshold: 0)]
        + (BLASGEMM.load().map { [$0] } ?? []) + [AVX2GEMM(threads: 1), AVX2GEMM(threads: 4, parallelThreshold: 0)].compactMap { $0 }

    @Test(arguments: ["gemm_small", "gemm_odd", "gemm_big"])
    func gemmMatchesNumpyInBothLayouts(_ name: String) throws {
        let (av, bv, btv, cv) = (try a("\(name).a"), try a("\(name).b"), try a("\(name).bt"), try a("\(name).c"))
        let (m, k, n) = (av.shape[0], av.shape[1], bv.shape[1])
        for g in Self.kernels {
            let plain = EvalArray(shape: [m, n], values: g.multiply(av.values, bv.values, m: m, n: n, k: k, bTransposed: false))
            let viaT = EvalArray(shape: [m, n], values: g.multiply(av.values, btv.values, m: m, n: n, k: k, bTransposed: true))
            expectClose(plain, cv, atol: 1e-5, rtol: 1e-4, "\(name) with \(g.name)")
            expectClose(viaT, cv, atol: 1e-5, rtol: 1e-4, "\(name)ᵀ with \(g.name)")
        }
    }

    @Test func gemmWithEmptyInnerDimensionGivesZeros() {
        let c = PortableGEMM().multiply([], [], m: 2, n: 3, k: 0, bTransposed: false)
        #expect(c == [0, 0, 0, 0, 0, 0])
    }

    @Test func linear() throws {
        let y = try Kernel.linear(try a("linear.x"), weight: try a("linear.w"), bias: try a("linear.b"), gemm: PortableGEMM())
        expectClose(y, try a("linear.y"), atol: 1e-5, rtol: 1e-4, "linear")
        #expect(throws: EvaluationError.self) {
            try Kernel.linear(try a("linear.x"), weight: EvalArray(zeros: [4, 6]), bias: nil, gemm: PortableGEMM())
        }
    }

    @Test func activations() throws {
        let x = try a("act.x")
        expectClose(Kernel.relu(x), try a("act.relu"), atol: 0, "relu")
        expectClose(Kernel.gelu(x), try a("act.gelu"), atol: 1e-5, rtol: 1e-5, "gelu")
        expectClose(Kernel.geluTanh(x), try a("act.gelu_tanh"), atol: 1e-5, rtol: 1e-5, "gelu_tanh")
    }

    @Test func layerNormAndSoftmax() throws {
        let y = try Kernel.layerNorm(try a("layer_norm.x"), gamma: try a("layer_norm.g"), beta: try a("layer_norm.b"), eps: 1e-5)
        expectClose(y, try a("layer_norm.y"), atol: 1e-5, rtol: 1e-4, "layer_norm")
        let s = Kernel.softmax(try a("softmax.x"))
        expectClose(s, try a("softmax.y"), atol: 1e-6, rtol: 1e-5, "softmax of large logits")
        #expect(s.values.allSatisfy { $0.isFinite })
    }

    @Test func embeddingLookup() throws {
        let ids = try a("embedding.ids").values.map { Int($0) }
        expectClose(try Kernel.embedding(ids, table: try a("embedding.table")), try a("embedding.y"), atol: 0, "embedding")
        #expect(throws: EvaluationError.self) { try Kernel.embedding([11], table: try a("embedding.table")) }
    }

    @Test(arguments: KernelReferenceTests.kernels.indices)
    func conv2dWithStridePaddingDilationAndGroups(_ g: Int) throws {
        let gemm = Self.kernels[g]
        let ya = try Kernel.conv2d(try a("conv_a.x"), weight: try a("conv_a.w"), bias: try a("conv_a.b"), stride: Pair2(2, 1),
                                   padding: Pair2(1, 0), dilation: Pair2(1, 2), groups: 1, gemm: gemm)
        expectClose(ya, try a("conv_a.y"), atol: 1e-5, rtol: 1e-4, "conv stride/pad/dilation with \(gemm.name)")
        let yg = try Kernel.conv2d(try a("conv_g.x"), weight: try a("conv_g.w"), bias: try a("conv_g.b"), padding: Pair2(1),
                                   groups: 2, gemm: gemm)
        expectClose(yg, try a("conv_g.y"), atol: 1e-5, rtol: 1e-4, "conv groups=2 with \(gemm.name)")
        #expect(throws: EvaluationError.self) {
            try Kernel.conv2d(try a("conv_g.x"), weight: try a("conv_g.w"), bias: nil, groups: 1, gemm: gemm)
        }
    }

    @Test func pooling() throws {
        let x = try a("pool.x")
        expectClose(try Kernel.maxPool2d(x, kernel: Pair2(3), stride: Pair2(2), padding: Pair2(1)), try a("pool.max"), atol: 0, "max pool")
        expectClose(try Kernel.avgPool2d(x, kernel: Pair2(3), stride: Pair2(2), padding: Pair2(1)), try a("pool.avg"), atol: 1e-6, rtol: 1e-5, "avg pool")
        #expect(Kernel.flatten(x).shape == [2, 147])
    }

    @Test func maskedAttentionAndMeanPooling() throws {
        let mask = EvalFixtures.intRows(try a("attention.mask"))
        let y = try Kernel.attention(q: try a("attention.q"), k: try a("attention.k"), v: try a("attention.v"), heads: 2,
                                     mask: mask, gemm: PortableGEMM())
        expectClose(y, try a("attention.y"), atol: 1e-5, rtol: 1e-4, "attention")
        expectClose(try Kernel.meanPool(try a("mean_pool.h"), mask: mask), try a("mean_pool.y"), atol: 1e-6, rtol: 1e-5, "mean pool")
    }
}
