/// Height/width pair for convolution and pooling settings (PyTorch's `int or (h, w)` arguments).
public struct Pair2: Codable, Sendable, Equatable {
    public var h: Int
    public var w: Int
    public init(_ h: Int, _ w: Int) { self.h = h; self.w = w }
    public init(_ both: Int) { self.init(both, both) }

    /// Accepts `3` or `[3, 3]` in architecture JSON.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let v = try? c.decode(Int.self) { self.init(v); return }
        let a = try c.decode([Int].self)
        guard a.count == 2 else { throw EvaluationError("expected an int or [h, w], got \(a)") }
        self.init(a[0], a[1])
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode([h, w])
    }
}

extension Kernel {
    /// Output length of one spatial axis, PyTorch's formula; nil when the window does not fit.
    static func outputLength(_ input: Int, kernel: Int, stride: Int, padding: Int, dilation: Int) -> Int? {
        let span = dilation * (kernel - 1) + 1
        let room = input + 2 * padding - span
        guard stride > 0, kernel > 0, dilation > 0, padding >= 0, room >= 0 else { return nil }
        return room / stride + 1
    }

    /// 2-D convolution of NCHW `x` with weight [out, in/groups, kh, kw] by im2col + GEMM, one GEMM per
    /// image and group.
    public static func conv2d(_ x: EvalArray, weight: EvalArray, bias: EvalArray?, stride: Pair2 = Pair2(1),
                              padding: Pair2 = Pair2(0), dilation: Pair2 = Pair2(1), groups: Int = 1,
                              gemm: any GEMM) throws -> EvalArray {
        guard x.rank == 4, weight.rank == 4, groups > 0, x.shape[1] % groups == 0, weight.shape[0] % groups == 0,
              weight.shape[1] * groups == x.shape[1] else {
            throw EvaluationError("conv2d: input \(x.shape) does not fit weight \(weight.shape) with \(groups) groups")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let (o, kh, kw) = (weight.shape[0], weight.shape[2], weight.shape[3])
        guard let oh = outputLength(h, kernel: kh, stride: stride.h, padding: padding.h, dilation: dilation.h),
              let ow = outputLength(w, kernel: kw, stride: stride.w, padding: padding.w, dilation: dilation.w) else {
            throw EvaluationError("conv2d: kernel \(kh)×\(kw) with stride/padding/dilation does not fit input \(h)×\(w)")
        }
        if let bias, bias.count != o { throw EvaluationError("conv2d: bias \(bias.shape) for \(o) channels") }
        let cg = c / groups, og = o / groups
        let patch = cg * kh * kw, pixels = oh * ow
        var out = [Float](repeating: 0, count: n * o * pixels)
        var cols = [Float](repeating: 0, count: patch * pixels)
        for img in 0..<n {
            for g in 0..<groups {
                im2col(x.values, offset: (img * c + g * cg) * h * w, channels: cg, height: h, width: w,
                       kernel: Pair2(kh, kw), output: Pair2(oh, ow), stride: stride, padding: padding,
                       dilation: dilation, into: &cols)
                let wg = Array(weight.values[(g * og * patch)..<((g + 1) * og * patch)])
                let y = gemm.multiply(wg, cols, m: og, n: pixels, k: patch, bTransposed: false)
                let base = (img * o + g * og) * pixels
                for oc in 0..<og {
                    let add = bias?.values[g * og + oc] ?? 0
                    for p in 0..<pixels { out[base + oc * pixels + p] = y[oc * pixels + p] + add }
                }
            }
        }
        return EvalArray(shape: [n, o, oh, ow], values: out)
    }

    /// im2col of `channels` planes of `height`×`width` starting at `offset` in `x`: row (ci, ky, kx), column
    /// (oy, ox) of `cols` [channels·kh·kw × oh·ow]; taps in the padding read 0. Shared by `conv2d` and its
    /// backward pass (the training module), so both see the same patch layout.
    public static func im2col(_ x: [Float], offset: Int, channels: Int, height h: Int, width w: Int, kernel: Pair2,
                              output: Pair2, stride: Pair2, padding: Pair2, dilation: Pair2, into cols: inout [Float]) {
        let (kh, kw, oh, ow) = (kernel.h, kernel.w, output.h, output.w)
        let pixels = oh * ow
        for ci in 0..<channels {
            let plane = offset + ci * h * w
            for ky in 0..<kh {
                for kx in 0..<kw {
                    let row = ((ci * kh) + ky) * kw + kx
                    for oy in 0..<oh {
                        let iy = oy * stride.h - padding.h + ky * dilation.h
                        for ox in 0..<ow {
                            let ix = ox * stride.w - padding.w + kx * dilation.w
                            cols[row * pixels + oy * ow + ox] =
                                (iy >= 0 && iy < h && ix >= 0 && ix < w) ? x[plane + iy * w + ix] : 0
                        }
                    }
                }
            }
        }
    }

    /// 2-D max pooling over NCHW; padding counts as -∞ (never chosen), as in PyTorch.
    public static func maxPool2d(_ x: EvalArray, kernel: Pair2, stride: Pair2? = nil, padding: Pair2 = Pair2(0)) throws -> EvalArray {
        try pool2d(x, kernel: kernel, stride: stride ?? kernel, padding: padding, name: "maxPool2d") { window, _ in
            window.max() ?? 0
        }
    }

    /// 2-D average pooling over NCHW; the divisor counts padding cells (PyTorch's `count_include_pad=True`).
    public static func avgPool2d(_ x: EvalArray, kernel: Pair2, stride: Pair2? = nil, padding: Pair2 = Pair2(0)) throws -> EvalArray {
        try pool2d(x, kernel: kernel, stride: stride ?? kernel, padding: padding, name: "avgPool2d") { window, cells in
            window.reduce(0, +) / Float(cells)
        }
    }

    private static func pool2d(_ x: EvalArray, kernel: Pair2, stride: Pair2, padding: Pair2, name: String,
                               reduce: ([Float], Int) -> Float) throws -> EvalArray {
        guard x.rank == 4, padding.h * 2 <= kernel.h, padding.w * 2 <= kernel.w,
              let oh = outputLength(x.shape[2], kernel: kernel.h, stride: stride.h, padding: padding.h, dilation: 1),
              let ow = outputLength(x.shape[3], kernel: kernel.w, stride: stride.w, padding: padding.w, dilation: 1) else {
            throw EvaluationError("\(name): window \(kernel.h)×\(kernel.w) does not fit input \(x.shape)")
        }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        var out = [Float]()
        out.reserveCapacity(n * c * oh * ow)
        var window = [Float]()
        for plane in 0..<(n * c) {
            let base = plane * h * w
            for oy in 0..<oh {
                for ox in 0..<ow {
                    window.removeAll(keepingCapacity: true)
                    var cells = 0
                    for ky in 0..<kernel.h {
                        let iy = oy * stride.h - padding.h + ky
                        for kx in 0..<kernel.w {
                            let ix = ox * stride.w - padding.w + kx
                            // Cells inside the padded extent count for the average's divisor.
                            if iy >= -padding.h && iy < h + padding.h && ix >= -padding.w && ix < w + padding.w { cells += 1 }
                            if iy >= 0 && iy < h && ix >= 0 && ix < w { window.append(x.values[base + iy * w + ix]) }
                        }
                    }
                    out.append(reduce(window, cells))
                }
            }
        }
        return EvalArray(shape: [n, c, oh, ow], values: out)
    }
}
