import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

@Suite struct PruningKernelTests {
    @Test func globalMagnitudeMatchesNumpy() throws {
        let list = CompressionReference.json["global"] as! [[String: Any]]
        #expect(list.count == 2)
        for entry in list {
            let names = entry["inputs"] as! [String]
            let s = (entry["sparsity"] as! NSNumber).doubleValue
            var tensors = try names.map { try CompressionReference.input($0) }
            let expected = try (entry["outputs"] as! [String]).map { try CompressionReference.floats("outputs/\($0).bin") }
            // Through the cuts (what the engine resolves once) and applied per layer.
            let cuts = try tensors.withUnsafeBufferPointers { Pruning.globalMagnitudeCuts($0, sparsity: s) }
            for i in tensors.indices {
                var t = tensors[i]
                t.withUnsafeMutableBufferPointer { _ = Pruning.apply(cuts[i], to: $0) }
                #expect(CompressionReference.mismatches(t, expected[i]).isEmpty, "global \(names) tensor \(i)")
                // The evaluator with the resolved cut gives the same pruned weights.
                let ev = try LayerEvaluator.evaluate(LayerSettings(prune: .globalMagnitude(sparsity: s)),
                                                     shape: CompressionReference.shape(names[i]), values: tensors[i],
                                                     globalCut: cuts[i])
                #expect(ev.zerosAfterPruning == expected[i].filter { $0 == 0 }.count)
            }
            // In place over all tensors at once.
            let counts = tensors.withUnsafeMutableBufferPointers { Pruning.applyGlobalMagnitude($0, sparsity: s) }
            let total = tensors.reduce(0) { $0 + $1.count }
            #expect(counts.reduce(0, +) == Int((s * Double(total)).rounded(.down)))
            for i in tensors.indices { #expect(tensors[i] == expected[i]) }
        }
    }

    @Test func sparsityBreaksTiesByIndex() {
        var w: [Float] = [1, -1, 1, 0.5, -0.5, 1]
        let k = w.withUnsafeMutableBufferPointer { Pruning.applySparsity($0, sparsity: 0.5) }  // floor(3) = 3
        #expect(k == 3)
        #expect(w == [0, -1, 1, 0, 0, 1])
    }

    @Test func sparsityCountIsFloored() {
        #expect(Pruning.pruneCount(sparsity: 0.5, of: 7) == 3)
        #expect(Pruning.pruneCount(sparsity: 0.999, of: 10) == 9)
        #expect(Pruning.pruneCount(sparsity: 1, of: 10) == 10)
        #expect(Pruning.pruneCount(sparsity: 0, of: 10) == 0)
        var all: [Float] = [3, -2, 1]
        all.withUnsafeMutableBufferPointer { _ = Pruning.applySparsity($0, sparsity: 1) }
        #expect(all == [0, 0, 0])
    }

    @Test func thresholdKeepsEqualMagnitudes() {
        var w: [Float] = [0.25, -0.25, 0.2499, -0.3, 0]
        let k = w.withUnsafeMutableBufferPointer { Pruning.applyThreshold($0, threshold: 0.25) }
        #expect(w == [0.25, -0.25, 0, -0.3, 0])
        #expect(k == 2)
    }

    @Test func nmKeepsEarlierOnTies() {
        var w: [Float] = [1, 1, 1, 1, -3, 2, -2, 0.5]
        w.withUnsafeMutableBufferPointer { _ = Pruning.applyNM($0, shape: [2, 4], n: 2, m: 4) }
        #expect(w == [1, 1, 0, 0, -3, 2, 0, 0])
    }

    @Test func nmRejectsIndivisibleLastDimension() {
        #expect(throws: CompressionError.self) {
            try LayerEvaluator.validate(LayerSettings(prune: .nm(n: 2, m: 4)), shape: [3, 6])
        }
    }

    @Test func rowsTieByIndex() {
        var w: [Float] = [1, 1, -1, -1, 2, 0, 0.5, 0.5]   // rows 0,1 tie on L1 = 2, row 3 has L1 = 1
        let rows = w.withUnsafeMutableBufferPointer { Pruning.applyRows($0, shape: [4, 2], norm: .l1, sparsity: 0.5) }
        #expect(rows == [0, 3])
        #expect(w == [0, 0, -1, -1, 2, 0, 0, 0])
    }

    @Test func pruneThenQuantizeKeepsPrunedWeightsZero() throws {
        let w = try CompressionReference.input("normal_16x256")
        let formats: [QuantFormat] = [
            .int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax),
            .int(bits: 3, symmetric: false, granularity: .group(32), clip: .mse),
            .int(bits: 8, symmetric: false, granularity: .tensor, clip: .percentile(99)),
            .nf4(group: 64), .fp8(.e4m3, granularity: .tensor), .fp8(.e5m2, granularity: .channel),
            .kmeans(clusters: 8), .gguf(.q8_0), .gguf(.q4_0), .gguf(.q5_0),
        ]
        let prunes: [PruneMethod] = [.sparsity(0.5), .nm(n: 2, m: 4), .rows(norm: .l2, sparsity: 0.25), .threshold(0.02)]
        for q in formats {
            for p in prunes {
                var pruned = w
                pruned.withUnsafeMutableBufferPointer { _ = Pruning.apply(p, to: $0, shape: [16, 256]) }
                var out = [Float](repeating: .nan, count: w.count)
                _ = try w.withUnsafeBufferPointer { wp in
                    try out.withUnsafeMutableBufferPointer {
                        try LayerEvaluator.evaluate(LayerSettings(prune: p, quantize: q), shape: [16, 256], values: wp, reconstruction: $0)
                    }
                }
                let leaked = pruned.indices.filter { pruned[$0] == 0 && out[$0] != 0 }
                #expect(leaked.isEmpty, "\(p) then \(q): \(leaked.count) pruned weights became non-zero")
            }
        }
    }
}

extension Array where Element == [Float] {
    func withUnsafeBufferPointers<R>(_ body: ([UnsafeBufferPointer<Float>]) throws -> R) rethrows -> R {
        let ptrs = map { a -> UnsafeMutableBufferPointer<Float> in
            let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: a.count)
            _ = p.initialize(from: a)
            return p
        }
        defer { ptrs.forEach { $0.deallocate() } }
        return try body(ptrs.map { UnsafeBufferPointer($0) })
    }

    mutating func withUnsafeMutableBufferPointers<R>(_ body: ([UnsafeMutableBufferPointer<Float>]) throws -> R) rethrows -> R {
        let ptrs = map { a -> UnsafeMutableBufferPointer<Float> in
            let p = UnsafeMutableBufferPointer<Float>.allocate(capacity: a.count)
            _ = p.initialize(from: a)
            return p
        }
        defer { ptrs.forEach { $0.deallocate() } }
        let r = try body(ptrs)
        self = ptrs.map { [Float]($0) }
        return r
    }
}
