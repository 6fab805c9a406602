import Compression

/// What recovery keeps true of one weight while it trains: a fixed pruning mask (1 kept, 0 pruned; re-applied
/// after every optimiser step) and, for quantization-aware training, the plan's quantize setting. The forward
/// pass sees `effective(w)` — the codec's own fake-quantization of the masked weight, the reconstruction
/// `apply` writes — and the gradient passes straight through the rounding (STE) to the kept weights.
public struct WeightConstraint: Sendable {
    public var mask: [Float]?
    public var quantize: QuantFormat
    public let shape: [Int]

    public init(shape: [Int], mask: [Float]?, quantize: QuantFormat) {
        self.shape = shape
        self.mask = mask
        self.quantize = quantize
    }

    public var isIdentity: Bool { mask == nil && quantize == .none }

    /// Zeroes the pruned weights in place.
    public func applyMask(_ w: inout [Float]) {
        guard let mask else { return }
        for i in 0..<w.count { w[i] *= mask[i] }
    }

    /// The weight the forward pass uses. With a mask the quantizer is told the zeros are pruned (as the engine
    /// does after pruning): a pruning step whose threshold keeps every non-zero weight stands for the mask.
    public func effective(_ w: [Float]) throws -> [Float] {
        var masked = w
        applyMask(&masked)
        guard quantize != .none else { return masked }
        let settings = LayerSettings(prune: mask == nil ? .none : .threshold(Double(Float.leastNonzeroMagnitude)), quantize: quantize)
        var out = [Float](repeating: 0, count: w.count)
        try masked.withUnsafeBufferPointer { v in
            try out.withUnsafeMutableBufferPointer { o in
                _ = try LayerEvaluator.evaluate(settings, shape: shape, values: v, reconstruction: o)
            }
        }
        return out
    }

    /// Straight-through: the gradient of the effective weight, restricted to the kept weights.
    public func gradient(_ g: inout [Float]) {
        applyMask(&g)
    }
}
