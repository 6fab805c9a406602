import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

@Suite struct MetricsAndSizeTests {
    @Test func mergingChunksEqualsWhole() throws {
        let w = try CompressionReference.input("normal_16x256")
        let h = try CompressionReference.floats("outputs/179.bin")
        let whole = w.withUnsafeBufferPointer { wp in h.withUnsafeBufferPointer { ErrorMetrics(original: wp, reconstructed: $0) } }
        var merged = ErrorMetrics()
        for start in stride(from: 0, to: w.count, by: 777) {
            let r = start..<min(start + 777, w.count)
            w.withUnsafeBufferPointer { wp in h.withUnsafeBufferPointer { hp in
                merged.merge(ErrorMetrics(original: UnsafeBufferPointer(rebasing: wp[r]), reconstructed: UnsafeBufferPointer(rebasing: hp[r])))
            } }
        }
        #expect(merged.count == whole.count && merged.zeros == whole.zeros && merged.maxAbsError == whole.maxAbsError)
        // Chunk boundaries change which products share a Float32 lane partial sum: agreement to ~1e-7.
        #expect(CompressionReference.close(merged.sumSquaredError, whole.sumSquaredError, rel: 1e-6))
        #expect(CompressionReference.close(merged.sqnrDB, whole.sqnrDB, rel: 1e-6))
        let parallel = w.withUnsafeBufferPointer { wp in h.withUnsafeBufferPointer { ErrorMetrics.measure(original: wp, reconstructed: $0) } }
        #expect(CompressionReference.close(parallel.sumProducts, whole.sumProducts, rel: 1e-6))
    }

    @Test func exactAndDegenerateCases() {
        let w: [Float] = [1, -2, 0, 3, 4]
        let m = w.withUnsafeBufferPointer { ErrorMetrics(original: $0, reconstructed: $0) }
        #expect(m.sqnrDB == .infinity && m.mse == 0 && m.maxAbsError == 0)
        #expect(m.cosineSimilarity == 1)
        #expect(m.sparsity == 0.2)
        let z = [Float](repeating: 0, count: 5)
        let allPruned = w.withUnsafeBufferPointer { wp in z.withUnsafeBufferPointer { ErrorMetrics(original: wp, reconstructed: $0) } }
        #expect(allPruned.sqnrDB == 0 && allPruned.cosineSimilarity == 0 && allPruned.sparsity == 1)
        #expect(ErrorMetrics().mse == 0 && ErrorMetrics().sparsity == 0)
    }

    @Test func sizeEncodings() {
        let shape = [4096, 4096], n = 4096 * 4096
        func size(_ q: QuantFormat, prune p: PruneMethod = .none, zeros: Int = 0, rows: Int = 0, dtype: DType = .float32) -> CompressedSize {
            SizeModel.size(LayerSettings(prune: p, quantize: q), shape: shape, originalDType: dtype, zerosAfterPruning: zeros, prunedRows: rows)
        }
        let int4g128 = size(.int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))
        #expect(int4g128.encoding == "dense int4 g128 + f16 scales")
        #expect(int4g128.bitsPerWeight == 4.125)
        let int8 = size(.int(bits: 8, symmetric: false, granularity: .channel, clip: .minmax))
        #expect(int8.bits == n * 8 + 4096 * (16 + 8))
        #expect(size(.gguf(.q4_0)).bitsPerWeight == 4.5)
        #expect(size(.gguf(.q8_0), prune: .sparsity(0.5), zeros: n / 2).bitsPerWeight == 8.5)
        #expect(size(.nf4(group: 64)).bitsPerWeight == 4.5)
        #expect(size(.fp8(.e4m3, granularity: .tensor)).bits == n * 8 + 32)
        #expect(size(.kmeans(clusters: 16)).bits == n * 4 + 16 * 16)
        #expect(size(.none, dtype: .float16).bitsPerWeight == 16)
        #expect(size(.none, dtype: .ggml(.q6_K)).encoding == "Q6_K blocks")
        let nm = size(.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax), prune: .nm(n: 2, m: 4))
        #expect(nm.encoding.hasPrefix("2:4 + int8 per-channel"))
        #expect(nm.bits == n / 2 * 10 + 4096 * 16)
        let bitmap = size(.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax), prune: .sparsity(0.9), zeros: n / 10 * 9)
        #expect(bitmap.encoding.hasPrefix("bitmap + int8"))
        let dense = size(.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax), prune: .sparsity(0.05), zeros: n / 20)
        #expect(dense.encoding.hasPrefix("dense int8"))
        let rows = size(.none, prune: .rows(norm: .l2, sparsity: 0.25), rows: 1024)
        #expect(rows.bits == 4096 + 3072 * 4096 * 32 && rows.encoding == "row mask + F32")
        #expect(SizeModel.ceilLog2(1) == 0 && SizeModel.ceilLog2(2) == 1 && SizeModel.ceilLog2(5) == 3 && SizeModel.ceilLog2(256) == 8)
        #expect(CompressedSize(bits: 9, count: 2, encoding: "").bytes == 2)
    }
}
