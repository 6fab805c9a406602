import Foundation
import Testing
import WeightFormats
@testable import Compression

/// The fused kernel that reads stored BF16 bytes (`wl_int_minmax_runs_bf16_avx2`, used by `report`'s
/// evaluation and the streamed menu) against the Float32 path on the decoded values: equal error sums bit for
/// bit, equal zero counts, and `LayerEvaluator.evaluateStoredBFloat16` equal to `LayerEvaluator.evaluate`
/// (metrics, size, zeros) with the portable kernels. Shapes as in `FusedIntegerKernelTests`, plus ±0, NaN and
/// ±∞ among the values and an all-zero group.
struct StoredBFloat16KernelTests {
    /// BF16 values (little-endian 2-byte patterns) and the Floats they decode to.
    static func stored(_ n: Int, seed: UInt64, nonFinite: Bool) -> (raw: [UInt8], values: [Float]) {
        var v = AVX2KernelTests.bf16(AVX2KernelTests.values(n, seed: seed, nonFinite: nonFinite))
        for i in 0..<min(n, 16) { v[i] = 0 }          // an all-zero first group
        var raw: [UInt8] = []
        raw.reserveCapacity(2 * n)
        for x in v {
            let h = UInt16(x.bitPattern >> 16)
            raw.append(UInt8(h & 0xFF))
            raw.append(UInt8(h >> 8))
        }
        return (raw, v)
    }

    static func bits(_ m: ErrorMetrics) -> [UInt64] {
        [UInt64(m.count), m.sumSquares.bitPattern, m.sumSquaredError.bitPattern, m.maxAbsError.bitPattern,
         m.sumProducts.bitPattern, m.sumSquaresReconstructed.bitPattern, UInt64(m.zeros)]
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2), arguments: 0..<FusedIntegerKernelTests.shapes.count)
    func storedBytesEqualDecodedValues(_ c: Int) {
        let (shape, granularity) = FusedIntegerKernelTests.shapes[c]
        let n = shape.reduce(1, *)
        for nonFinite in [false, true] {
            let (raw, values) = Self.stored(n, seed: UInt64(200 + c), nonFinite: nonFinite)
            for bits in 2...8 {
                for symmetric in [true, false] {
                    let q = IntegerQuantizer(bits: bits, symmetric: symmetric, granularity: granularity)
                    var out = [Float](repeating: .nan, count: n)
                    // Finite values: against the portable per-group path. With NaN and ±∞ the sums are NaN, whose
                    // payload may depend on the order of operations: against the Float32 fused kernel, bit for bit.
                    let expected = values.withUnsafeBufferPointer { x in
                        out.withUnsafeMutableBufferPointer { q.fakeQuantize(x, shape: shape, into: $0, measuringAgainst: x, fused: nonFinite) }
                    }
                    let got = raw.withUnsafeBytes { q.measureBFloat16($0, shape: shape) }
                    let zeros = values.withUnsafeBufferPointer { KernelSIMD.zeroCount($0) }
                    let what = "\(shape) \(granularity) int\(bits) sym \(symmetric) nonFinite \(nonFinite)"
                    #expect(got.map { Self.bits($0.metrics) } == expected.map(Self.bits) && expected != nil, "\(what)")
                    #expect(got?.zeros == zeros, "\(what)")
                }
            }
        }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func evaluatorFromStoredBytesEqualsEvaluator() throws {
        let shape = [48, 384]
        let (raw, values) = Self.stored(48 * 384, seed: 9, nonFinite: false)
        for option in SolverMenu.integer.options {
            let fromBytes = try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(option, shape: shape, raw: $0) }
            if option.quantize == .none {
                #expect(fromBytes == nil)
                continue
            }
            let decoded = try LayerEvaluator.evaluate(option, shape: shape, values: values, originalDType: .bfloat16)
            #expect(fromBytes == decoded, "\(option)")
        }
        // Pruning and non-min/max grids are not answered from the bytes.
        let pruned = LayerSettings(prune: .threshold(0.1), quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))
        let mse = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .mse))
        let perTensor = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .tensor, clip: .minmax))
        for s in [pruned, mse, perTensor] {
            #expect(try raw.withUnsafeBytes { try LayerEvaluator.evaluateStoredBFloat16(s, shape: shape, raw: $0) } == nil)
        }
    }

    /// `report`'s evaluation of a BF16 model (the stored-bytes path) equals the Float path's, piece for piece.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func engineFromStoredBytesEqualsDecodedValues() throws {
        let rows = 700, columns = 2048          // 1.4 M values: two row pieces of the engine
        let (raw, values) = Self.stored(rows * columns, seed: 11, nonFinite: false)
        let tensor = try Tensor(name: "w", dtype: .bfloat16, shape: [rows, columns], data: MemorySource(raw))
        let model = Model(path: "<memory>", format: .safetensors, metadata: [], tensors: [tensor])
        let settings = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))
        let fromBytes = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateAll([settings])[0]
        // The same pieces from decoded Floats (the path the workbench takes, which also finds the levels).
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        let decoded = try values.withUnsafeBufferPointer {
            try engine.evaluate(tensor, settings: settings, cut: nil, token: CancellationToken(), withLevels: false, decoded: $0)
        }
        #expect(fromBytes == decoded.evaluation)
    }
}
