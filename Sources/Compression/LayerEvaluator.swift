import WeightFormats

/// Settings a kernel cannot apply to a tensor of some shape (e.g. 2:4 on a last dimension of 6).
public struct CompressionError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The outcome of compressing one layer.
public struct LayerEvaluation: Hashable, Sendable {
    /// Reconstruction error against the original values (includes pruning).
    public var metrics: ErrorMetrics
    public var size: CompressedSize
    public var pruning: PruneOutcome
    /// Zeros after pruning (including zeros already in the weights), before quantization.
    public var zerosAfterPruning: Int
    /// The k-means clustering, when the format is k-means.
    public var clustering: KMeansClustering?
    /// The error weighted by an importance matrix, when one was given.
    public var importanceError: ImportanceWeightedError? = nil
}

/// Prune then quantize one layer held in memory, measure the reconstruction and size it.
public enum LayerEvaluator {
    /// Checks that `settings` can be applied to a tensor of `shape`.
    public static func validate(_ settings: LayerSettings, shape: [Int]) throws {
        switch settings.prune {
        case .none: break
        case .threshold(let t):
            guard t >= 0, !t.isNaN else { throw CompressionError("pruning threshold must be ≥ 0, got \(t)") }
        case .sparsity(let s), .globalMagnitude(let s), .rows(_, let s):
            guard (0...1).contains(s) else { throw CompressionError("sparsity must be in [0, 1], got \(s)") }
        case .nm(let n, let m):
            guard m >= 1, n >= 0, n <= m else { throw CompressionError("invalid N:M pattern \(n):\(m)") }
            if let misfit = CodecMisfit.divides(m, shape, field: "m", what: "\(n):\(m) (m = \(m))") {
                throw CompressionError(misfit.reason + ", shape is \(shape)")
            }
        }
        if let misfit = settings.quantize.codec?.unsupported(shape) {
            throw CompressionError(misfit.reason + ", shape is \(shape)")
        }
    }

    /// Applies `settings` to `values` (row-major, `shape`): prune (into a copy), then fake-quantize, then
    /// measure against the original values and size the result.
    ///
    /// - `globalCut`: the resolved cut of a `.globalMagnitude` rule over all selected tensors (see
    ///   `Pruning.globalMagnitudeCuts`); without it the rule falls back to this tensor's own sparsity.
    /// - `reconstruction`: optional storage (≥ `values.count`) that receives the reconstructed weights.
    /// - `cancelled` is polled between phases; when it returns true, `CancellationError` is thrown.
    /// - `blocks`: for `.gguf` settings, storage of `GGUFBlockQuantizer.byteCount` bytes that receives the
    ///   blocks the reconstruction is decoded from (what `encode` gives), so `apply` writes them instead of
    ///   quantizing every block a second time.
    ///
    /// Pruned zeros stay exactly zero after every quantizer except GGUF Q4_1 and Q5_1, whose blocks cannot
    /// represent 0 exactly in general (`d·q + m`); their reconstruction is what llama.cpp would compute.
    public static func evaluate(_ settings: LayerSettings, shape: [Int], values: UnsafeBufferPointer<Float>,
                                originalDType: DType = .float32, globalCut: MagnitudeCut? = nil,
                                reconstruction: UnsafeMutableBufferPointer<Float>? = nil,
                                importance: UnsafeBufferPointer<Float>? = nil,
                                blocks: UnsafeMutableRawBufferPointer? = nil,
                                cancelled: () -> Bool = { false }) throws -> LayerEvaluation {
        try validate(settings, shape: shape)
        try validate(importance: importance, shape: shape)
        let layout = TensorLayout(shape: shape)
        precondition(values.count == layout.count, "\(values.count) values for shape \(shape)")
        let n = values.count

        let output = reconstruction ?? UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, n))
        defer { if reconstruction == nil { output.deallocate() } }
        precondition(output.count >= n)
        let out = UnsafeMutableBufferPointer(rebasing: output[0..<n])

        // 1. Prune into a working copy (or straight into the output when nothing is quantized).
        var outcome = PruneOutcome()
        var zeros = 0
        var prunedStorage: UnsafeMutableBufferPointer<Float>? = nil
        defer { prunedStorage?.deallocate() }
        let source: UnsafeBufferPointer<Float>
        if settings.prune == .none {
            source = values
        } else {
            let work = settings.quantize == .none ? out : UnsafeMutableBufferPointer<Float>.allocate(capacity: max(1, n))
            if settings.quantize != .none { prunedStorage = work }
            let w = UnsafeMutableBufferPointer(rebasing: work[0..<n])
            _ = w.initialize(from: values)
            outcome = prune(w, settings.prune, shape: shape, globalCut: globalCut)
            source = UnsafeBufferPointer(w)
        }
        // Unchanged values measured against themselves in one pass, their zeros with them.
        let unchanged = settings.prune == .none && settings.quantize == .none && reconstruction == nil
            ? ErrorMetrics.unchanged(values) : nil
        zeros = unchanged?.zeros ?? KernelSIMD.zeroCount(source)
        if cancelled() { throw CancellationError() }

        // 2. Quantize, measuring each piece against the original values as it is written.
        var clustering: KMeansClustering? = nil
        var measured: ErrorMetrics? = unchanged
        var reconstructed = UnsafeBufferPointer(out)
        if let importance, case .gguf(let type) = settings.quantize {
            // ggml's importance-matrix path (types without one, Q8_0, quantize as without weights).
            let bytes = ExpertImportance.quantize(source, type: type, columns: shape.last ?? n, importance: importance)
            try bytes.withUnsafeBytes { raw in
                if let blocks { blocks.copyMemory(from: raw) }
                try ElementDecoder.decode(raw, dtype: .ggml(type), byteOrder: .little, count: n, into: out, path: "\(type.name) blocks")
            }
        } else if let blocks, case .gguf(let type) = settings.quantize {
            // `GGMLBlockCodec.fakeQuantize` (quantize, then decode), keeping the blocks.
            let kept = UnsafeMutableRawBufferPointer(rebasing: blocks[0..<GGUFBlockQuantizer.byteCount(type, count: n)])
            GGUFBlockQuantizer.quantize(source, type: type, into: kept)
            try ElementDecoder.decode(UnsafeRawBufferPointer(kept), dtype: .ggml(type), byteOrder: .little, count: n, into: out,
                                      path: "\(type.name) blocks")
        } else if let codec = settings.quantize.codec {
            let q = try codec.fakeQuantize(source, shape: shape, into: out, measuringAgainst: values,
                                           zerosArePruned: settings.prune != .none)
            measured = q.metrics
            clustering = q.clustering
        } else if settings.prune == .none {
            // Unchanged values: copied only when the caller wants the reconstruction, else measured in place
            // (the same values, so the same numbers). Pruned values are already in `out`.
            if reconstruction == nil { reconstructed = values } else { _ = out.initialize(from: values) }
        }
        if cancelled() { throw CancellationError() }

        // 3. Measure (unless fused above) and size.
        let metrics = measured ?? ErrorMetrics.measure(original: values, reconstructed: reconstructed)
        let size = SizeModel.size(settings, shape: shape, originalDType: originalDType,
                                  zerosAfterPruning: zeros, prunedRows: outcome.prunedRows)
        var evaluation = LayerEvaluation(metrics: metrics, size: size, pruning: outcome, zerosAfterPruning: zeros,
                                         clustering: clustering)
        if let importance {
            evaluation.importanceError = ExpertImportance.error(original: values, reconstructed: reconstructed,
                                                                columns: shape.last ?? n, weights: importance)
        }
        return evaluation
    }

    /// Whether `evaluateStoredBFloat16` answers `settings` on `tensor`'s stored bytes: unpruned min/max
    /// integers in rows or groups, on little-endian row-major BF16, with the AVX2 kernels.
    public static func readsStoredBFloat16(_ settings: LayerSettings, tensor: Tensor) -> Bool {
        guard KernelDispatch.avx2, settings.prune == .none, let codec = IntCodec(settings.quantize),
              codec.clip == .minmax, codec.granularity != .tensor else { return false }
        return tensor.dtype == .bfloat16 && tensor.byteOrder == .little && ByteOrder.host == .little && !tensor.fortranOrder
    }

    /// `evaluate` of `settings` on values stored as little-endian BF16 (`raw`: their 2-byte patterns, row-major
    /// `shape`), without a reconstruction: the same numbers, from one fused kernel that decodes as it goes
    /// (`IntegerQuantizer.measureBFloat16`). Nil when that kernel does not apply (pruning, a codec other than
    /// min/max integers in rows or groups, no AVX2): then decode and call `evaluate`.
    public static func evaluateStoredBFloat16(_ settings: LayerSettings, shape: [Int], raw: UnsafeRawBufferPointer) throws -> LayerEvaluation? {
        guard settings.prune == .none, let codec = IntCodec(settings.quantize) else { return nil }
        try validate(settings, shape: shape)
        guard let (metrics, zeros) = codec.quantizer.measureBFloat16(raw, shape: shape) else { return nil }
        return storedBFloat16Evaluation(settings, shape: shape, metrics: metrics, zeros: zeros)
    }

    /// `evaluateStoredBFloat16` with the grid to draw (`LevelFinder.findStoredBFloat16`'s, rows offset by
    /// `firstRow`) from the same kernel pass, which hands back the ranges its grids came from. Nil where
    /// `evaluateStoredBFloat16` is nil.
    public static func evaluateStoredBFloat16(_ settings: LayerSettings, shape: [Int], raw: UnsafeRawBufferPointer,
                                              firstRow: Int) throws -> (evaluation: LayerEvaluation, levels: LevelFinder.Found)? {
        guard settings.prune == .none, IntCodec(settings.quantize) != nil else { return nil }
        try validate(settings, shape: shape)
        guard let (metrics, zeros, found) = LevelFinder.storedBFloat16(settings, shape: shape, raw: raw, firstRow: firstRow) else { return nil }
        return (storedBFloat16Evaluation(settings, shape: shape, metrics: metrics, zeros: zeros), found)
    }

    /// The evaluation of unpruned integers measured on stored BF16 bytes.
    private static func storedBFloat16Evaluation(_ settings: LayerSettings, shape: [Int], metrics: ErrorMetrics, zeros: Int) -> LayerEvaluation {
        let size = SizeModel.size(settings, shape: shape, originalDType: .bfloat16, zerosAfterPruning: zeros, prunedRows: 0)
        return LayerEvaluation(metrics: metrics, size: size, pruning: PruneOutcome(), zerosAfterPruning: zeros, clustering: nil)
    }

    /// `evaluateStoredBFloat16` of every option in `options` on the same stored bytes, the min/max integer ones
    /// in one pass (`IntegerQuantizer.measureBFloat16(_:raw:shape:)`: each row decoded once, every option
    /// measured while a chunk is in cache): equal, option by option, to `evaluateStoredBFloat16`. Nil at the
    /// options that path does not answer (pruning, other codecs, no AVX2).
    public static func evaluateStoredBFloat16(_ options: [LayerSettings], shape: [Int], raw: UnsafeRawBufferPointer) throws -> [LayerEvaluation?] {
        var answers = [LayerEvaluation?](repeating: nil, count: options.count)
        var picked: [Int] = []
        for (k, s) in options.enumerated() {
            guard s.prune == .none, let codec = IntCodec(s.quantize), codec.clip == .minmax, codec.granularity != .tensor else { continue }
            try validate(s, shape: shape)
            picked.append(k)
        }
        let quantizers = picked.map { IntCodec(options[$0].quantize)!.quantizer }
        if picked.count > 1, let measured = IntegerQuantizer.measureBFloat16(quantizers, raw: raw, shape: shape) {
            for (i, k) in picked.enumerated() {
                let (metrics, zeros) = measured[i]
                let size = SizeModel.size(options[k], shape: shape, originalDType: .bfloat16, zerosAfterPruning: zeros, prunedRows: 0)
                answers[k] = LayerEvaluation(metrics: metrics, size: size, pruning: PruneOutcome(), zerosAfterPruning: zeros, clustering: nil)
            }
            return answers
        }
        for k in picked { answers[k] = try evaluateStoredBFloat16(options[k], shape: shape, raw: raw) }
        return answers
    }

    /// Importance weights are one per column (as many as the last dimension), or for a 3-D tensor of
    /// experts one set per expert (`ExpertImportance`).
    static func validate(importance: UnsafeBufferPointer<Float>?, shape: [Int]) throws {
        guard let importance else { return }
        let columns = shape.last ?? 1
        guard importance.count == columns || ExpertImportance.isPerExpert(importance.count, shape: shape), columns > 0 else {
            throw CompressionError("the importance matrix has \(importance.count) weights, rows have \(columns) values, shape is \(shape)")
        }
    }

    /// Prunes `w` in place: by the resolved global cut when there is one, else by the method.
    static func prune(_ w: UnsafeMutableBufferPointer<Float>, _ method: PruneMethod, shape: [Int],
                      globalCut: MagnitudeCut?) -> PruneOutcome {
        if case .globalMagnitude = method, let cut = globalCut {
            return PruneOutcome(pruned: Pruning.apply(cut, to: w))
        }
        return Pruning.apply(method, to: w, shape: shape)
    }

    /// The stored form of one layer after `settings`: prune (as `evaluate` does), then the codec's `encode`.
    /// Decoding it gives `evaluate`'s reconstruction bit for bit. Nil when the settings quantize nothing
    /// (the pruned floats are then the stored form).
    /// With `importance` (one weight per column) ggml block types are encoded by ggml's imatrix path.
    public static func encode(_ settings: LayerSettings, shape: [Int], values: UnsafeBufferPointer<Float>,
                              globalCut: MagnitudeCut? = nil, importance: UnsafeBufferPointer<Float>? = nil) throws -> EncodedTensor? {
        try validate(settings, shape: shape)
        try validate(importance: importance, shape: shape)
        guard let codec = settings.quantize.codec else { return nil }
        precondition(values.count == TensorLayout(shape: shape).count, "\(values.count) values for shape \(shape)")
        if let importance, case .gguf(let type) = settings.quantize {
            var work = Array(values)
            return work.withUnsafeMutableBufferPointer { w in
                if settings.prune != .none { _ = prune(w, settings.prune, shape: shape, globalCut: globalCut) }
                let bytes = ExpertImportance.quantize(UnsafeBufferPointer(w), type: type, columns: shape.last ?? w.count, importance: importance)
                return EncodedTensor(format: settings.quantize, shape: shape,
                                     parts: [EncodedPart(name: "blocks", dtype: .ggml(type), count: w.count, bytes: bytes)])
            }
        }
        if settings.prune == .none { return codec.encode(values, shape: shape, zerosArePruned: false) }
        var pruned = Array(values)
        return pruned.withUnsafeMutableBufferPointer { w in
            _ = prune(w, settings.prune, shape: shape, globalCut: globalCut)
            return codec.encode(UnsafeBufferPointer(w), shape: shape, zerosArePruned: true)
        }
    }

    /// Convenience for arrays.
    public static func evaluate(_ settings: LayerSettings, shape: [Int], values: [Float],
                                originalDType: DType = .float32, globalCut: MagnitudeCut? = nil) throws -> LayerEvaluation {
        try values.withUnsafeBufferPointer {
            try evaluate(settings, shape: shape, values: $0, originalDType: originalDType, globalCut: globalCut)
        }
    }
}
