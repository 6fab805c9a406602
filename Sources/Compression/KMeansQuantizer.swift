import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014): a tiny deterministic generator, so clustering results do not
/// depend on the platform's random source. `next()` adds 0x9E3779B97F4A7C15 to the state and mixes it.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }
}

/// The result of clustering 1-D values.
public struct KMeansClustering: Hashable, Sendable {
    /// Final centroids, ascending (Float32; stored as float16 — see `storedCentroids`).
    public var centroids: [Float]
    /// The k-means++ seeds, ascending.
    public var initialCentroids: [Float]
    /// Lloyd iterations run.
    public var iterations: Int
    /// True when assignments stopped changing before the iteration cap.
    public var converged: Bool

    /// The centroids as stored (rounded to float16, via Float32); the reconstruction uses these.
    public var storedCentroids: [Float] { centroids.map { Float(Float16($0)) } }

    /// The cluster of `w`: the nearest centroid, compared against the midpoints between neighbouring
    /// centroids computed in Double; a value exactly on a midpoint goes to the lower centroid.
    public func cluster(of w: Float) -> Int {
        let x = Double(w)
        var lo = 0, hi = centroids.count - 1      // answer in lo...hi
        while lo < hi {
            let mid = (lo + hi) / 2
            if x <= (Double(centroids[mid]) + Double(centroids[mid + 1])) / 2 { hi = mid } else { lo = mid + 1 }
        }
        return lo
    }
}

/// k-means weight clustering ("Deep Compression" weight sharing) on the 1-D values of a tensor.
///
/// - Initialisation: greedy k-means++ with `SplitMix64(seed)`: the first seed is the sorted value at index
///   `Int(unit·n)`; each further step draws `2 + floor(ln k)` candidates with probability proportional to the
///   squared distance to the nearest seed so far (`u = unit·ΣD²`, the first sorted value where the running
///   ΣD² exceeds `u`) and keeps the candidate that lowers ΣD² most (scikit-learn's variant). The
///   squared distances are evaluated per nearest-seed range with prefix sums over the sorted values (exact only up to
///   rounding), so seeding costs O(k²·log n) after one sort and no further pass over the data. Seeding stops
///   early when every value already equals a seed (fewer distinct values than k).
/// - Lloyd iterations on the sorted values: assignments are contiguous ranges split at the midpoints between
///   neighbouring centroids (ties to the lower centroid); each centroid becomes its range's mean (Double),
///   rounded to Float32 (so the partition is exactly the one `KMeansClustering.cluster(of:)` uses); an
///   empty cluster keeps its centroid. Iteration stops when the ranges no longer change (cap 100).
/// - Restarts: seeding + Lloyd runs `restarts` times (default 8) from the same generator stream; the run with
///   the lowest SSE (first on ties) is kept. A run costs O(k²·log n), so restarts are cheap next to the sort.
/// - Reconstruction: each value is replaced by its centroid rounded to float16 (the stored form), so the
///   reported error includes the centroid storage rounding.
public struct KMeansQuantizer: Hashable, Sendable {
    public var clusters: Int
    public var seed: UInt64
    public var maxIterations: Int
    /// Independent seedings (continuing one SplitMix64 stream); the run with the lowest SSE is kept.
    public var restarts: Int

    public static let defaultSeed: UInt64 = 0x5EED_0F_C1_05_7E25

    public init(clusters: Int, seed: UInt64 = KMeansQuantizer.defaultSeed, maxIterations: Int = 100, restarts: Int = 8) {
        precondition(clusters >= 1)
        self.clusters = clusters
        self.seed = seed
        self.maxIterations = maxIterations
        self.restarts = restarts
    }

    /// Clusters `values`; with `skipZeros`, exact zeros (pruned weights) are left out of the clustering.
    public func cluster(_ values: UnsafeBufferPointer<Float>, skipZeros: Bool = false) -> KMeansClustering {
        var xs = skipZeros ? values.filter { $0 != 0 } : Array(values)
        xs.sort()
        let n = xs.count
        guard n > 0 else { return KMeansClustering(centroids: [0], initialCentroids: [0], iterations: 0, converged: true) }
        // Prefix sums of x and x² (Double).
        var s1 = [Double](repeating: 0, count: n + 1), s2 = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { let x = Double(xs[i]); s1[i + 1] = s1[i] + x; s2[i + 1] = s2[i] + x * x }

        /// Index of the first sorted value above `m` (values ≤ m go left).
        func upperBound(_ m: Double) -> Int {
            var lo = 0, hi = n
            while lo < hi { let mid = (lo + hi) / 2; if Double(xs[mid]) <= m { lo = mid + 1 } else { hi = mid } }
            return lo
        }
        /// Range boundaries of the nearest-centroid partition for ascending centroids.
        func boundaries(_ c: [Double]) -> [Int] {
            var b = [0]
            for i in 0..<(c.count - 1) { b.append(upperBound((c[i] + c[i + 1]) / 2)) }
            b.append(n)
            return b
        }
        func cost(_ a: Int, _ b: Int, _ c: Double) -> Double {
            guard b > a else { return 0 }
            let v = (s2[b] - s2[a]) - 2 * c * (s1[b] - s1[a]) + c * c * Double(b - a)
            return max(0, v)
        }

        // Greedy k-means++ seeding (as scikit-learn does it): each step draws 2 + floor(ln k) candidates by
        // D² sampling and keeps the one that lowers the potential most (first on ties).
        var rng = SplitMix64(seed: seed)
        /// One seeding + Lloyd run; returns (seeds, centroids, iterations, converged, SSE).
        func run() -> (seeds: [Double], centroids: [Double], iterations: Int, converged: Bool, sse: Double) {
            var seeds: [Double] = [Double(xs[min(n - 1, Int(rng.unit() * Double(n)))])]
            let trials = 2 + Int(log(Double(clusters)))
            while seeds.count < clusters {
                let b = boundaries(seeds)
                let costs = (0..<seeds.count).map { cost(b[$0], b[$0 + 1], seeds[$0]) }
                let total = costs.reduce(0, +)
                if !(total > 0) { break }
                var best: (pick: Double, potential: Double)? = nil
                for _ in 0..<trials {
                    var u = rng.unit() * total
                    var r = 0
                    while r < costs.count - 1 && u >= costs[r] { u -= costs[r]; r += 1 }
                    // First index j in range r with cost(b[r], j+1) > u.
                    var lo = b[r], hi = b[r + 1] - 1
                    while lo < hi { let mid = (lo + hi) / 2; if cost(b[r], mid + 1, seeds[r]) > u { hi = mid } else { lo = mid + 1 } }
                    let pick = Double(xs[min(lo, n - 1)])
                    if seeds.contains(pick) { continue }   // only possible through rounding when nearly everything is covered
                    // ΣD² after adding `pick`: only the ranges of its two neighbouring seeds change.
                    let pos = seeds.firstIndex { $0 > pick } ?? seeds.count
                    let first = max(pos - 1, 0), last = min(pos, seeds.count - 1)
                    let lo0 = b[first], hi0 = b[last + 1]
                    var old = 0.0
                    for i in first...last { old += costs[i] }
                    var centres: [Double] = []
                    if pos > 0 { centres.append(seeds[pos - 1]) }
                    centres.append(pick)
                    if pos < seeds.count { centres.append(seeds[pos]) }
                    var a = lo0, fresh = 0.0
                    for i in centres.indices {
                        let end = i + 1 < centres.count ? min(max(upperBound((centres[i] + centres[i + 1]) / 2), a), hi0) : hi0
                        fresh += cost(a, end, centres[i])
                        a = end
                    }
                    let p = total - old + fresh
                    if best == nil || p < best!.potential { best = (pick, p) }
                }
                guard let chosen = best else { break }
                seeds.append(chosen.pick)
                seeds.sort()
            }

            // Lloyd iterations.
            var c = seeds
            var b = boundaries(c)
            var iterations = 0, converged = false
            while iterations < maxIterations {
                iterations += 1
                for i in 0..<c.count where b[i + 1] > b[i] {
                    c[i] = Double(Float((s1[b[i + 1]] - s1[b[i]]) / Double(b[i + 1] - b[i])))
                }
                c.sort()
                let nb = boundaries(c)
                if nb == b { converged = true; break }
                b = nb
            }
            let sse = (0..<c.count).reduce(0.0) { $0 + cost(b[$1], b[$1 + 1], c[$1]) }
            return (seeds, c, iterations, converged, sse)
        }
        var best = run()
        for _ in 1..<max(1, restarts) {
            let r = run()
            if r.sse < best.sse { best = r }
        }
        let (seeds, c, iterations, converged) = (best.seeds, best.centroids, best.iterations, best.converged)
        return KMeansClustering(centroids: c.map { Float($0) }, initialCentroids: seeds.map { Float($0) },
                                iterations: iterations, converged: converged)
    }

    /// Clusters and writes every value's stored (float16) centroid into `output`; with `skipZeros`, zeros
    /// stay exactly zero.
    /// With `original`, `metrics` receives the output measured against it (fused).
    @discardableResult
    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>,
                             skipZeros: Bool = false, measuringAgainst original: UnsafeBufferPointer<Float>? = nil,
                             metrics: UnsafeMutablePointer<ErrorMetrics?>? = nil) -> KMeansClustering {
        precondition(output.count >= input.count)
        let result = cluster(input, skipZeros: skipZeros)
        let stored = result.storedCentroids
        let pieces = KernelWork.pieces([0..<input.count])
        let m = KernelWork.run(pieces, totalWork: input.count, output: output, measuringAgainst: original) { piece in
            for i in piece.range {
                let w = input[i]
                output[i] = skipZeros && w == 0 ? 0 : stored[result.cluster(of: w)]
            }
        }
        metrics?.pointee = m
        return result
    }
}
