import Foundation
import Evaluation

/// The backward kernels: for each forward kernel of the evaluation module that training uses, the gradient
/// with respect to its input (and its weight and bias), in the same PyTorch layouts. Every one is checked by
/// finite differences and against torch's autograd on tiny shapes (Tests/TrainingTests).
public enum Backward {
    /// Gradients of a Linear or Conv2d layer. `input` is nil when the caller did not ask for it (first layer).
    public struct Weighted: Sendable {
        public var input: EvalArray?
        public var weight: [Float]
        public var bias: [Float]
    }

    /// `y = x·Wᵀ + b` over the last dimension: dW = dyᵀ·x, db = Σ rows dy, dx = dy·W.
    public static func linear(x: EvalArray, weight: EvalArray, outputGradient dy: EvalArray, gemm: any GEMM,
                              inputGradient: Bool = true) throws -> Weighted {
        let (out, inner) = (weight.shape[0], weight.shape[1])
        let rows = inner == 0 ? 0 : x.count / inner
        guard dy.count == rows * out else {
            throw EvaluationError("linear backward: output gradient \(dy.shape) does not fit input \(x.shape) and weight \(weight.shape)")
        }
        let dyT = transpose(dy.values, rows: rows, columns: out)
        let dw = gemm.multiply(dyT, x.values, m: out, n: inner, k: rows, bTransposed: false)
        let db = columnSums(dy.values, rows: rows, columns: out)
        let dx = inputGradient
            ? EvalArray(shape: x.shape, values: gemm.multiply(dy.values, weight.values, m: rows, n: inner, k: out, bTransposed: false))
            : nil
        return Weighted(input: dx, weight: dw, bias: db)
    }

    /// Conv2d by im2col: per image and group, dW_g += dy_g·colsᵀ, dcols = W_gᵀ·dy_g scattered back (col2im),
    /// db = Σ over images and pixels of dy.
    public static func conv2d(x: EvalArray, weight: EvalArray, outputGradient dy: EvalArray, stride: Pair2, padding: Pair2,
                              dilation: Pair2, groups: Int, gemm: any GEMM, inputGradient: Bool = true) throws -> Weighted {
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        guard dy.rank == 4, dy.shape[0] == n, dy.shape[1] == o, groups > 0 else {
            throw EvaluationError("conv2d backward: output gradient \(dy.shape) does not fit input \(x.shape) and weight \(weight.shape)")
        }
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        let cg = c / groups, og = o / groups
        let patch = cg * kh * kw, pixels = oh * ow
        var dw = [Float](repeating: 0, count: weight.count)
        var db = [Float](repeating: 0, count: o)
        var dx = [Float](repeating: 0, count: inputGradient ? x.count : 0)
        var cols = [Float](repeating: 0, count: patch * pixels)
        let weightT: [[Float]] = (0..<groups).map { g in
            transpose(Array(weight.values[(g * og * patch)..<((g + 1) * og * patch)]), rows: og, columns: patch)
        }
        for img in 0..<n {
            for g in 0..<groups {
                let offset = (img * c + g * cg) * h * w
                Kernel.im2col(x.values, offset: offset, channels: cg, height: h, width: w, kernel: Pair2(kh, kw),
                              output: Pair2(oh, ow), stride: stride, padding: padding, dilation: dilation, into: &cols)
                let base = (img * o + g * og) * pixels
                let dyg = Array(dy.values[base..<(base + og * pixels)])
                let part = gemm.multiply(dyg, cols, m: og, n: patch, k: pixels, bTransposed: true)
                let w0 = g * og * patch
                for i in 0..<part.count { dw[w0 + i] += part[i] }
                for oc in 0..<og {
                    var s: Float = 0
                    for p in 0..<pixels { s += dyg[oc * pixels + p] }
                    db[g * og + oc] += s
                }
                guard inputGradient else { continue }
                let dcols = gemm.multiply(weightT[g], dyg, m: patch, n: pixels, k: og, bTransposed: false)
                col2im(dcols, into: &dx, offset: offset, channels: cg, height: h, width: w, kernel: Pair2(kh, kw),
                       output: Pair2(oh, ow), stride: stride, padding: padding, dilation: dilation)
            }
        }
        return Weighted(input: inputGradient ? EvalArray(shape: x.shape, values: dx) : nil, weight: dw, bias: db)
    }

    /// The adjoint of `Kernel.im2col`: adds every patch entry back onto the input cell it was read from.
    static func col2im(_ cols: [Float], into dx: inout [Float], offset: Int, channels: Int, height h: Int, width w: Int,
                       kernel: Pair2, output: Pair2, stride: Pair2, padding: Pair2, dilation: Pair2) {
        let pixels = output.h * output.w
        for ci in 0..<channels {
            let plane = offset + ci * h * w
            for ky in 0..<kernel.h {
                for kx in 0..<kernel.w {
                    let row = ((ci * kernel.h) + ky) * kernel.w + kx
                    for oy in 0..<output.h {
                        let iy = oy * stride.h - padding.h + ky * dilation.h
                        guard iy >= 0 && iy < h else { continue }
                        for ox in 0..<output.w {
                            let ix = ox * stride.w - padding.w + kx * dilation.w
                            if ix >= 0 && ix < w { dx[plane + iy * w + ix] += cols[row * pixels + oy * output.w + ox] }
                        }
                    }
                }
            }
        }
    }

    public static func relu(x: EvalArray, outputGradient dy: EvalArray) -> EvalArray {
        var g = dy.values
        x.values.withUnsafeBufferPointer { xv in
            g.withUnsafeMutableBufferPointer { gv in
                for i in 0..<gv.count where xv[i] <= 0 { gv[i] = 0 }
            }
        }
        return EvalArray(shape: x.shape, values: g)
    }

    /// d/dx of 0.5·x·(1 + erf(x/√2)) = Φ(x) + x·φ(x).
    public static func gelu(x: EvalArray, outputGradient dy: EvalArray) -> EvalArray {
        let s = Float(0.5).squareRoot(), norm = 1 / Float(2 * Double.pi).squareRoot()
        return EvalArray(shape: x.shape, values: zip(x.values, dy.values).map { v, d in
            d * (0.5 * (1 + erf(v * s)) + v * norm * exp(-0.5 * v * v))
        })
    }

    /// From the forward output y = tanh(x): dx = dy·(1 − y²).
    public static func tanh(y: EvalArray, outputGradient dy: EvalArray) -> EvalArray {
        EvalArray(shape: y.shape, values: zip(y.values, dy.values).map { v, d in d * (1 - v * v) })
    }

    /// Routes each output's gradient to the first maximum of its window (the cell the forward pass chose).
    public static func maxPool2d(x: EvalArray, outputGradient dy: EvalArray, kernel: Pair2, stride: Pair2, padding: Pair2) throws -> EvalArray {
        try pool(x, dy, kernel: kernel, stride: stride, padding: padding, name: "maxPool2d") { cells, inside, grad, dx in
            guard let first = cells.first else { return }
            var best = first
            for i in cells where x.values[i] > x.values[best] { best = i }
            dx[best] += grad
            _ = inside
        }
    }

    /// Spreads each output's gradient evenly over its window; the divisor counts padding cells, as the forward.
    public static func avgPool2d(x: EvalArray, outputGradient dy: EvalArray, kernel: Pair2, stride: Pair2, padding: Pair2) throws -> EvalArray {
        try pool(x, dy, kernel: kernel, stride: stride, padding: padding, name: "avgPool2d") { cells, inside, grad, dx in
            let share = grad / Float(inside)
            for i in cells { dx[i] += share }
        }
    }

    /// Walks every pooling window: `route(cells in the input, cells inside the padded extent, gradient, dx)`.
    private static func pool(_ x: EvalArray, _ dy: EvalArray, kernel: Pair2, stride: Pair2, padding: Pair2, name: String,
                             route: ([Int], Int, Float, inout [Float]) -> Void) throws -> EvalArray {
        guard x.rank == 4, dy.rank == 4, dy.shape[0] == x.shape[0], dy.shape[1] == x.shape[1] else {
            throw EvaluationError("\(name) backward: output gradient \(dy.shape) does not fit input \(x.shape)")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (oh, ow) = (dy.shape[2], dy.shape[3])
        var dx = [Float](repeating: 0, count: x.count)
        var cells: [Int] = []
        for plane in 0..<(n * c) {
            let base = plane * h * w
            for oy in 0..<oh {
                for ox in 0..<ow {
                    cells.removeAll(keepingCapacity: true)
                    var inside = 0
                    for ky in 0..<kernel.h {
                        let iy = oy * stride.h - padding.h + ky
                        for kx in 0..<kernel.w {
                            let ix = ox * stride.w - padding.w + kx
                            if iy >= -padding.h && iy < h + padding.h && ix >= -padding.w && ix < w + padding.w { inside += 1 }
                            if iy >= 0 && iy < h && ix >= 0 && ix < w { cells.append(base + iy * w + ix) }
                        }
                    }
                    route(cells, inside, dy.values[(plane * oh + oy) * ow + ox], &dx)
                }
            }
        }
        return EvalArray(shape: x.shape, values: dx)
    }

    static func transpose(_ a: [Float], rows: Int, columns: Int) -> [Float] {
        var t = [Float](repeating: 0, count: a.count)
        a.withUnsafeBufferPointer { s in
            t.withUnsafeMutableBufferPointer { d in
                for r in 0..<rows { for c in 0..<columns { d[c * rows + r] = s[r * columns + c] } }
            }
        }
        return t
    }

    static func columnSums(_ a: [Float], rows: Int, columns: Int) -> [Float] {
        var s = [Float](repeating: 0, count: columns)
        a.withUnsafeBufferPointer { p in
            s.withUnsafeMutableBufferPointer { out in
                for r in 0..<rows { for c in 0..<columns { out[c] += p[r * columns + c] } }
            }
        }
        return s
    }
}
