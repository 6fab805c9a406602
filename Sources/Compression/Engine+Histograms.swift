import WeightFormats

extension Engine {
    /// A histogram of one layer's values over [lo, hi], or of its compression error `w − ŵ` under `settings`
    /// (with `lo >= hi` the error histogram spans ± the layer's max abs error). Runs on the caller's thread;
    /// the run loop calls it from the background.
    public func histogram(layer: Int, error settings: LayerSettings?, lo: Double, hi: Double, bins: Int,
                          token: CancellationToken = CancellationToken()) throws -> ValueHistogram {
        let tensor = model.tensors[layer]
        guard let settings else {
            return try TensorScan.valueHistogram(tensor, bins: bins, lo: lo, hi: hi, cancelled: { token.isCancelled })
        }
        try LayerEvaluator.validate(settings, shape: tensor.shape)
        // A global magnitude layer's error is that of its group's cut in the engine's plan.
        var cut: MagnitudeCut? = nil
        if let s = settings.globalSparsity {
            cut = try globalCut(layer: layer, sparsity: s, plan: lock.withLock { plan }, token: token)
        }
        let w = try values(of: tensor)
        var error = [Float](repeating: 0, count: w.count)
        let e = try w.withUnsafeBufferPointer { wb in
            try error.withUnsafeMutableBufferPointer { out in
                try LayerEvaluator.evaluate(settings, shape: tensor.shape, values: wb, originalDType: tensor.dtype,
                                            globalCut: cut, reconstruction: out, cancelled: { token.isCancelled })
            }
        }
        for i in error.indices { error[i] = w[i] - error[i] }
        let range = lo < hi ? (lo, hi) : (-max(e.metrics.maxAbsError, 1e-12), max(e.metrics.maxAbsError, 1e-12))
        var h = ValueHistogram(bins: bins, lo: range.0, hi: range.1)
        error.withUnsafeBufferPointer { h.add($0) }
        return h
    }
}
