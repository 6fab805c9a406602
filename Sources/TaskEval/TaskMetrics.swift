import Foundation

/// The task-level comparisons of an original model's outputs with the compressed model's outputs on the same
/// inputs. Pure functions over row-major `[rows × width]` Float arrays, accumulated in Double; checked against
/// numpy/scipy values (Tests/Fixtures/make_taskmetrics.py).
public enum TaskMetrics {
    /// Index of the largest value of each row (the first on ties, as numpy's argmax).
    public static func argmax(_ values: [Float], width: Int) -> [Int] {
        guard width > 0 else { return [] }
        return stride(from: 0, to: values.count, by: width).map { start in
            var best = start
            for i in start..<(start + width) where values[i] > values[best] { best = i }
            return best - start
        }
    }

    /// Share of rows whose argmax equals the label.
    public static func accuracy(logits: [Float], width: Int, labels: [Int64]) -> Double {
        let p = argmax(logits, width: width)
        guard !p.isEmpty, p.count == labels.count else { return .nan }
        return Double(zip(p, labels).filter { Int64($0) == $1 }.count) / Double(p.count)
    }

    /// Share of rows whose argmax differs between the two outputs.
    public static func flipRate(original: [Float], compressed: [Float], width: Int) -> Double {
        let a = argmax(original, width: width), b = argmax(compressed, width: width)
        guard !a.isEmpty else { return .nan }
        return Double(zip(a, b).filter { $0 != $1 }.count) / Double(a.count)
    }

    /// log-softmax of one row, in Double.
    static func logSoftmax(_ v: ArraySlice<Float>) -> [Double] {
        let m = Double(v.max() ?? 0)
        let lse = m + log(v.reduce(0.0) { $0 + exp(Double($1) - m) })
        return v.map { Double($0) - lse }
    }

    /// Mean over rows of KL(softmax(original) ‖ softmax(compressed)) in nats.
    public static func meanKL(original: [Float], compressed: [Float], width: Int) -> Double {
        let rows = width > 0 ? original.count / width : 0
        guard rows > 0, compressed.count == original.count else { return .nan }
        var total = 0.0
        for r in 0..<rows {
            let range = (r * width)..<((r + 1) * width)
            let lp = logSoftmax(original[range]), lq = logSoftmax(compressed[range])
            var kl = 0.0
            for i in 0..<width { kl += exp(lp[i]) * (lp[i] - lq[i]) }
            total += kl
        }
        return total / Double(rows)
    }

    /// Cosine similarity of each row pair (0 when either row is all zeros).
    public static func rowCosines(_ a: [Float], _ b: [Float], width: Int) -> [Double] {
        let rows = width > 0 ? a.count / width : 0
        return (0..<rows).map { r in
            var ab = 0.0, aa = 0.0, bb = 0.0
            for i in (r * width)..<((r + 1) * width) {
                let x = Double(a[i]), y = Double(b[i])
                ab += x * y; aa += x * x; bb += y * y
            }
            return aa > 0 && bb > 0 ? ab / (aa.squareRoot() * bb.squareRoot()) : 0
        }
    }

    /// For each row, the index of its most cosine-similar other row (the first on ties).
    public static func nearestNeighbours(_ e: [Float], width: Int) -> [Int] {
        let rows = width > 0 ? e.count / width : 0
        guard rows > 1 else { return [] }
        let norms: [Double] = (0..<rows).map { r in
            var s = 0.0
            for i in (r * width)..<((r + 1) * width) { s += Double(e[i]) * Double(e[i]) }
            return s.squareRoot()
        }
        return (0..<rows).map { r in
            var best = -1, bestValue = -Double.infinity
            for o in 0..<rows where o != r {
                var dot = 0.0
                for i in 0..<width { dot += Double(e[r * width + i]) * Double(e[o * width + i]) }
                let c = norms[r] > 0 && norms[o] > 0 ? dot / (norms[r] * norms[o]) : 0
                if c > bestValue { bestValue = c; best = o }
            }
            return best
        }
    }

    /// Share of rows whose nearest neighbour (by cosine, among the other rows) is the same row in both.
    public static func neighbourAgreement(original: [Float], compressed: [Float], width: Int) -> Double {
        let a = nearestNeighbours(original, width: width), b = nearestNeighbours(compressed, width: width)
        guard !a.isEmpty, a.count == b.count else { return .nan }
        return Double(zip(a, b).filter { $0 == $1 }.count) / Double(a.count)
    }

    /// Signal-to-quantization-noise ratio of `compressed` against `original` in dB: 10·log10(Σx² / Σ(x−y)²).
    /// +∞ when they are equal.
    public static func sqnr(original: [Float], compressed: [Float]) -> Double {
        var signal = 0.0, noise = 0.0
        for (x, y) in zip(original, compressed) {
            signal += Double(x) * Double(x)
            noise += (Double(x) - Double(y)) * (Double(x) - Double(y))
        }
        return noise == 0 ? .infinity : 10 * log10(signal / noise)
    }
}
