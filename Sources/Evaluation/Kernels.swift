import Foundation

/// The forward kernels the evaluation networks are built from. Each takes and returns `EvalArray`s in
/// PyTorch's layouts (Linear weight [out, in], Conv2d weight [out, in/groups, kh, kw], NCHW activations), so
/// weights read by their Hugging Face / PyTorch names plug in without re-layout. Shape mismatches throw one
/// `EvaluationError` line naming the kernel.
public enum Kernel {
    /// `y = x · Wᵀ + b` over the last dimension of `x`.
    public static func linear(_ x: EvalArray, weight: EvalArray, bias: EvalArray?, gemm: any GEMM) throws -> EvalArray {
        guard weight.rank == 2, let inner = x.shape.last, inner == weight.shape[1] else {
            throw EvaluationError("linear: input \(x.shape) does not fit weight \(weight.shape)")
        }
        let out = weight.shape[0]
        if let bias, bias.count != out { throw EvaluationError("linear: bias \(bias.shape) for \(out) outputs") }
        let rows = inner == 0 ? 0 : x.count / inner
        var y = gemm.multiply(x.values, weight.values, m: rows, n: out, k: inner, bTransposed: true)
        if let bias { addRowVector(&y, bias.values) }
        return EvalArray(shape: Array(x.shape.dropLast()) + [out], values: y)
    }

    /// Adds `v` to every row of the row-major `y` (rows of `v.count`).
    static func addRowVector(_ y: inout [Float], _ v: [Float]) {
        let n = v.count
        guard n > 0 else { return }
        y.withUnsafeMutableBufferPointer { p in
            v.withUnsafeBufferPointer { b in
                var r = 0
                while r < p.count {
                    for j in 0..<n { p[r + j] += b[j] }
                    r += n
                }
            }
        }
    }

    public static func relu(_ x: EvalArray) -> EvalArray {
        EvalArray(shape: x.shape, values: x.values.map { $0 > 0 ? $0 : 0 })
    }

    /// GELU with the exact erf form, `0.5·x·(1 + erf(x/√2))` (BERT's `hidden_act: "gelu"`).
    public static func gelu(_ x: EvalArray) -> EvalArray {
        let s = Float(0.5).squareRoot()
        return EvalArray(shape: x.shape, values: x.values.map { 0.5 * $0 * (1 + erf($0 * s)) })
    }

    /// GELU's tanh approximation (`gelu_new` / `gelu_pytorch_tanh`).
    public static func geluTanh(_ x: EvalArray) -> EvalArray {
        let c = Float((2.0 / Double.pi).squareRoot())
        return EvalArray(shape: x.shape, values: x.values.map { v in
            0.5 * v * (1 + tanh(c * (v + 0.044715 * v * v * v)))
        })
    }

    /// Layer normalisation over the last dimension; mean and variance accumulated in Double so long rows do
    /// not lose precision. Variance is the biased one, as PyTorch's.
    public static func layerNorm(_ x: EvalArray, gamma: EvalArray, beta: EvalArray, eps: Float) throws -> EvalArray {
        guard let d = x.shape.last, gamma.count == d, beta.count == d else {
            throw EvaluationError("layerNorm: input \(x.shape) does not fit gamma \(gamma.shape) / beta \(beta.shape)")
        }
        var y = x.values
        guard d > 0 else { return x }
        var r = 0
        while r < y.count {
            var mean = 0.0
            for j in 0..<d { mean += Double(y[r + j]) }
            mean /= Double(d)
            var v = 0.0
            for j in 0..<d { let e = Double(y[r + j]) - mean; v += e * e }
            let inv = 1 / (v / Double(d) + Double(eps)).squareRoot()
            for j in 0..<d {
                y[r + j] = Float((Double(y[r + j]) - mean) * inv) * gamma.values[j] + beta.values[j]
            }
            r += d
        }
        return EvalArray(shape: x.shape, values: y)
    }

    /// Softmax over the last dimension, shifted by the row maximum so large logits do not overflow.
    public static func softmax(_ x: EvalArray) -> EvalArray {
        var y = x.values
        guard let d = x.shape.last, d > 0 else { return x }
        y.withUnsafeMutableBufferPointer { softmaxRows($0, width: d) }
        return EvalArray(shape: x.shape, values: y)
    }

    static func softmaxRows(_ p: UnsafeMutableBufferPointer<Float>, width d: Int) {
        var r = 0
        while r < p.count {
            var m = -Float.infinity
            for j in 0..<d { m = max(m, p[r + j]) }
            var s: Float = 0
            for j in 0..<d { let e = exp(p[r + j] - m); p[r + j] = e; s += e }
            let inv = 1 / s
            for j in 0..<d { p[r + j] *= inv }
            r += d
        }
    }

    /// Rows of `table` [vocab, dim] for each id; the result is [ids.count, dim].
    public static func embedding(_ ids: [Int], table: EvalArray) throws -> EvalArray {
        guard table.rank == 2 else { throw EvaluationError("embedding: table \(table.shape) is not 2-D") }
        let (v, d) = (table.shape[0], table.shape[1])
        var out = [Float]()
        out.reserveCapacity(ids.count * d)
        for id in ids {
            guard id >= 0 && id < v else { throw EvaluationError("embedding: id \(id) outside a table of \(v) rows") }
            out.append(contentsOf: table.values[(id * d)..<(id * d + d)])
        }
        return EvalArray(shape: [ids.count, d], values: out)
    }

    /// Flattens every dimension from `startDim` on into one (PyTorch `flatten(start_dim=1)` by default).
    public static func flatten(_ x: EvalArray, startDim: Int = 1) -> EvalArray {
        guard startDim < x.rank else { return x }
        let head = Array(x.shape.prefix(startDim))
        return x.reshaped(head + [x.shape.dropFirst(startDim).reduce(1, *)])
    }
}
