import Foundation

extension Kernel {
    /// Scaled dot-product self-attention over `heads` heads. `q`, `k`, `v` are [batch, seq, heads·headDim]
    /// (the projections' outputs); `mask` is [batch][seq] with 1 for real tokens and 0 for padding. Padding
    /// keys get the most negative Float added to their score, as Hugging Face BERT's extended attention mask
    /// does, so they receive zero weight. Returns [batch, seq, heads·headDim] with heads concatenated.
    public static func attention(q: EvalArray, k: EvalArray, v: EvalArray, heads: Int, mask: [[Int]]?,
                                 gemm: any GEMM) throws -> EvalArray {
        guard q.rank == 3, q.shape == k.shape, q.shape == v.shape, heads > 0, q.shape[2] % heads == 0 else {
            throw EvaluationError("attention: q \(q.shape), k \(k.shape), v \(v.shape) do not fit \(heads) heads")
        }
        let (b, s, width) = (q.shape[0], q.shape[1], q.shape[2])
        let dh = width / heads
        if let mask, mask.count != b || mask.contains(where: { $0.count != s }) {
            throw EvaluationError("attention: mask is not [\(b)][\(s)]")
        }
        let scale = 1 / Float(dh).squareRoot()
        var out = [Float](repeating: 0, count: q.count)
        var qh = [Float](repeating: 0, count: s * dh), kh = qh, vh = qh
        for bi in 0..<b {
            for h in 0..<heads {
                // Gather this head's [seq, headDim] slices.
                for t in 0..<s {
                    let src = (bi * s + t) * width + h * dh
                    for e in 0..<dh {
                        qh[t * dh + e] = q.values[src + e] * scale
                        kh[t * dh + e] = k.values[src + e]
                        vh[t * dh + e] = v.values[src + e]
                    }
                }
                var scores = gemm.multiply(qh, kh, m: s, n: s, k: dh, bTransposed: true)
                if let mask {
                    let row = mask[bi]
                    for t in 0..<s {
                        for u in 0..<s where row[u] == 0 { scores[t * s + u] += -Float.greatestFiniteMagnitude }
                    }
                }
                scores.withUnsafeMutableBufferPointer { softmaxRows($0, width: s) }
                let ctx = gemm.multiply(scores, vh, m: s, n: dh, k: s, bTransposed: false)
                for t in 0..<s {
                    let dst = (bi * s + t) * width + h * dh
                    for e in 0..<dh { out[dst + e] = ctx[t * dh + e] }
                }
            }
        }
        return EvalArray(shape: q.shape, values: out)
    }

    /// Mean of `hidden` [batch, seq, dim] over the positions whose mask is 1 (sentence-transformers' mean
    /// pooling: the count is clamped at 1e-9, so an all-padding row gives zeros). Without a mask, all positions.
    public static func meanPool(_ hidden: EvalArray, mask: [[Int]]?) throws -> EvalArray {
        guard hidden.rank == 3 else { throw EvaluationError("meanPool: hidden \(hidden.shape) is not [batch, seq, dim]") }
        let (b, s, d) = (hidden.shape[0], hidden.shape[1], hidden.shape[2])
        if let mask, mask.count != b || mask.contains(where: { $0.count != s }) {
            throw EvaluationError("meanPool: mask is not [\(b)][\(s)]")
        }
        var out = [Float](repeating: 0, count: b * d)
        for bi in 0..<b {
            var n: Float = 0
            for t in 0..<s {
                let w: Float = mask.map { Float($0[bi][t]) } ?? 1
                if w == 0 { continue }
                n += w
                let src = (bi * s + t) * d
                for e in 0..<d { out[bi * d + e] += hidden.values[src + e] * w }
            }
            let inv = 1 / max(n, 1e-9)
            for e in 0..<d { out[bi * d + e] *= inv }
        }
        return EvalArray(shape: [b, d], values: out)
    }
}
