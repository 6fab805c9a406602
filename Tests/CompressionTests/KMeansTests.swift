import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// numpy cannot share the SplitMix64 seeding, so k-means is checked by properties a reference can state.
@Suite struct KMeansTests {
    static func sse(_ w: [Float], _ c: KMeansClustering, stored: Bool = false) -> Double {
        let cs = stored ? c.storedCentroids : c.centroids
        return w.reduce(0.0) { acc, v in let d = Double(v) - Double(cs[c.cluster(of: v)]); return acc + d * d }
    }

    @Test func fixedPointNearestAndQuality() throws {
        for entry in CompressionReference.json["kmeans"] as! [[String: Any]] {
            let name = entry["input"] as! String
            let k = (entry["k"] as! NSNumber).intValue
            let w = try CompressionReference.input(name)
            let r = w.withUnsafeBufferPointer { KMeansQuantizer(clusters: k).cluster($0) }
            #expect(r.converged, "\(name) k=\(k) converged")
            #expect(r.centroids == r.centroids.sorted())
            #expect(r.centroids.count == min(k, (entry["distinct"] as! NSNumber).intValue))
            // Fixed point of Lloyd's step: every centroid is the mean of the values assigned to it.
            var sums = [Double](repeating: 0, count: r.centroids.count), counts = [Int](repeating: 0, count: r.centroids.count)
            for v in w { let c = r.cluster(of: v); sums[c] += Double(v); counts[c] += 1 }
            for i in r.centroids.indices where counts[i] > 0 {
                let mean = sums[i] / Double(counts[i])
                #expect(Swift.abs(Double(r.centroids[i]) - mean) <= 1e-6 * Swift.max(1e-3, Swift.abs(mean)), "\(name) centroid \(i)")
            }
            // Nearest assignment: no value is closer to another centroid.
            for v in w {
                let mine = Swift.abs(Double(v) - Double(r.centroids[r.cluster(of: v)]))
                #expect(r.centroids.allSatisfy { Swift.abs(Double(v) - Double($0)) >= mine })
            }
            // Quality: within 5 % of numpy's Lloyd from quantile seeds (both are local optima).
            let ref = (entry["reference_sse"] as! NSNumber).doubleValue
            #expect(Self.sse(w, r) <= ref * 1.05 + 1e-12, "\(name) k=\(k): SSE \(Self.sse(w, r)) vs numpy \(ref)")
        }
    }

    @Test func exactlyKDistinctValuesReproduce() throws {
        let w = try CompressionReference.input("levels_600")   // 5 distinct values, all exact in float16
        var out = [Float](repeating: .nan, count: w.count)
        let r = w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { KMeansQuantizer(clusters: 5).fakeQuantize(wp, into: $0) } }
        #expect(r.centroids == [-1.5, -0.25, 0.5, 2.0, 3.75])
        #expect(out == w)
        // More clusters than distinct values: still exact, with only the distinct values as centroids.
        let r8 = w.withUnsafeBufferPointer { KMeansQuantizer(clusters: 8).cluster($0) }
        #expect(r8.centroids == [-1.5, -0.25, 0.5, 2.0, 3.75])
    }

    @Test func deterministicAndReconstructsWithFloat16Centroids() throws {
        let w = try CompressionReference.input("normal_16x256")
        let a = w.withUnsafeBufferPointer { KMeansQuantizer(clusters: 16).cluster($0) }
        let b = w.withUnsafeBufferPointer { KMeansQuantizer(clusters: 16).cluster($0) }
        #expect(a == b)
        var out = [Float](repeating: .nan, count: w.count)
        _ = w.withUnsafeBufferPointer { wp in out.withUnsafeMutableBufferPointer { KMeansQuantizer(clusters: 16).fakeQuantize(wp, into: $0) } }
        let stored = Set(a.storedCentroids)
        #expect(out.allSatisfy { stored.contains($0) })
        #expect(a.storedCentroids.allSatisfy { Float(Float16($0)) == $0 })
    }

    @Test func splitMix64KnownValues() {
        // Reference outputs of SplitMix64 seeded with 1234567 (from the published C implementation).
        var g = SplitMix64(seed: 1234567)
        #expect(g.next() == 6457827717110365317)
        #expect(g.next() == 3203168211198807973)
    }
}
