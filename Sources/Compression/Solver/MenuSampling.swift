import Dispatch
import Foundation
import WeightFormats

/// A menu estimated from a sample of rows: every option run on a few hundred rows of each layer, the sums
/// scaled to the layer, with the variance of each estimate, so the trade-off curve can be drawn (marked as an
/// estimate, with intervals) in a fraction of the time the exact evaluation takes.
///
/// Why the interval is valid: for settings that act within rows (every integer group/channel option and
/// ggml block type) a layer's squared error is a sum over its N rows of per-row errors yᵢ that do not depend
/// on the other rows. Drawing n rows uniformly without replacement and scaling, T̂ = N·ȳ is an unbiased
/// estimator of the total T = Σyᵢ with variance N²·(1 − n/N)·S²/n (S² the population variance of the yᵢ;
/// 1 − n/N the finite-population correction, 0 when every row is drawn), estimated by the sample variance
/// s² — the textbook result for simple random sampling (Cochran, *Sampling Techniques*, §2.8). By the
/// finite-population central limit theorem (Hájek 1960) T̂ is close to normal for moderate n, so T̂ ± t·σ̂
/// covers T; `RowSampleEstimate.z` (3.5, Student-corrected for small n) is used because per-row errors are
/// heavy-tailed. Layers are sampled independently (each with its own seed), so a whole-model total is a
/// stratified estimate whose variance is the sum of the layers' variances. The relative measure (Σe/Σw²
/// per layer) is a ratio estimate; its variance is the linearised one, from dᵢ = eᵢ − R̂·sᵢ.
public struct MenuSampling: Equatable, Sendable {
    /// Rows sampled and rows in each layer (`MenuEvaluation.layers` order); equal when the layer was exact.
    public let rowsSampled: [Int]
    public let rows: [Int]
    /// `errorVariance[k][j]`: the variance of option `j`'s estimated error (in the problem's measure) on
    /// layer `k` (0 when exact, nil when the option does not fit).
    public let errorVariance: [[Double?]]
    /// The same for the squared error Σ(w − ŵ)², for the SQNR's interval.
    public let squaredErrorVariance: [[Double?]]
    /// The interval's half-width in standard errors: Student's t for the smallest sample (see the type).
    public let z: Double

    public init(rowsSampled: [Int], rows: [Int], errorVariance: [[Double?]], squaredErrorVariance: [[Double?]], z: Double) {
        self.rowsSampled = rowsSampled
        self.rows = rows
        self.errorVariance = errorVariance
        self.squaredErrorVariance = squaredErrorVariance
        self.z = z
    }

    /// The default number of elements sampled per layer (as the single-layer estimate).
    public static let sampleElements = RowSampleEstimate.sampleElements

    /// Half-width of the interval of a whole-model error that picks option `choice[k]` on layer `k`
    /// (`squared`: of Σ(w − ŵ)² instead of the measure's error).
    public func halfWidth(choice: [Int], squared: Bool = false) -> Double {
        let v = squared ? squaredErrorVariance : errorVariance
        var total = 0.0
        for (k, j) in choice.enumerated() { total += v[k][j] ?? 0 }
        return z * total.squareRoot()
    }

    /// Half-width of one layer's option.
    public func halfWidth(layer k: Int, option j: Int) -> Double? {
        errorVariance[k][j].map { z * $0.squareRoot() }
    }
}

extension Engine {
    /// Whether option `settings` on a tensor of `shape` can be estimated row by row: a matrix with more
    /// than one row whose every step acts within a single row (so a row's error does not depend on the
    /// others; the codec's piece alignment divides the row).
    static func sampledRowwise(_ settings: LayerSettings, shape: [Int]) -> Bool {
        guard shape.count == 2, shape[0] > 1,
              rowsPerPiece(settings, shape: shape, pieceElements: pieceElements) != nil else { return false }
        if let align = settings.quantize.codec?.pieceAlignment { return shape[1] % align == 0 }
        return true
    }

    /// Every option of `menu` on each of `layers`, estimated from a seeded sample of about `sampleElements`
    /// elements' worth of rows per layer (each sampled row decoded once and every option run on it); the
    /// errors are scaled to the layer and carry the variance of the estimate (`MenuSampling`). Options that
    /// do not act within rows are evaluated exactly (through the engine's cache). The results are estimates:
    /// the engine's cache is not filled with them. `progress` gets (layers done, layers total).
    public func estimateMenu(_ menu: SolverMenu, layers: [Int], measure: ErrorMeasure,
                             sampleElements: Int = MenuSampling.sampleElements, seed: UInt64 = RowSampleEstimate.seed,
                             cancel: CancellationToken = CancellationToken(),
                             progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> (MenuEvaluation, MenuSampling) {
        struct Layer { var results: [LayerEvaluation?]; var variance: [Double?]; var squared: [Double?]; var sampled: Int }
        let slots = ResultSlots<Result<Layer, EvaluationFailure>>(count: layers.count)
        let done = Counter()
        DispatchQueue.concurrentPerform(iterations: layers.count) { k in
            if cancel.isCancelled { return }
            let layer = layers[k]
            let outcome = Result<Layer, Error> {
                let r = try sampledMenu(layer: layer, menu: menu, measure: measure, sampleElements: sampleElements,
                                        seed: seed &+ UInt64(layer) &* 0x9E37_79B9_7F4A_7C15, token: cancel)
                return Layer(results: r.results, variance: r.variance, squared: r.squared, sampled: r.sampled)
            }
            slots.set(k, outcome.mapError { EvaluationFailure($0) })
            progress(done.increment(), layers.count)
        }
        if cancel.isCancelled { throw CancellationError() }
        let answers = try layers.indices.map { k -> Layer in
            switch slots.values[k] {
            case .success(let r)?: return r
            case .failure(let f)?: throw ModelError(model.path, "tensor '\(DisplayText.escaped(model.tensors[layers[k]].name))': \(f.message)")
            case nil: throw CancellationError()
            }
        }
        let smallest = answers.map(\.sampled).filter { $0 > 1 }.min() ?? 2
        let z = RowSampleEstimate.z, df = Double(smallest - 1)
        let sampling = MenuSampling(rowsSampled: answers.map(\.sampled), rows: layers.map { model.tensors[$0].shape.first ?? 1 },
                                    errorVariance: answers.map(\.variance), squaredErrorVariance: answers.map(\.squared),
                                    z: z + (z * z * z + z) / (4 * df))
        return (MenuEvaluation(menu: menu, layers: layers, results: answers.map(\.results)), sampling)
    }

    /// One layer's sampled menu: (scaled evaluations, variances in the measure and of the squared error,
    /// rows sampled).
    private func sampledMenu(layer: Int, menu: SolverMenu, measure: ErrorMeasure, sampleElements: Int, seed: UInt64,
                             token: CancellationToken) throws -> (results: [LayerEvaluation?], variance: [Double?], squared: [Double?], sampled: Int) {
        let tensor = model.tensors[layer]
        let count = menu.options.count
        var results = [LayerEvaluation?](repeating: nil, count: count)
        var variance = [Double?](repeating: nil, count: count), squared = [Double?](repeating: nil, count: count)
        var sampledOptions: [Int] = []
        for (j, s) in menu.options.enumerated() where SolverMenu.fits(s, shape: tensor.shape) {
            if Self.sampledRowwise(s, shape: tensor.shape) {
                sampledOptions.append(j)
            } else {
                // Needs the whole tensor: exact (and cached for the exact pass).
                let plan = lock.withLock { self.plan }
                switch outcome(layer: layer, settings: s, plan: plan, token: token, withLevels: false) {
                case .success(let e): results[j] = e.evaluation
                case .failure(let f): throw f == Self.cancelled ? CancellationError() : f
                }
                variance[j] = 0
                squared[j] = 0
            }
        }
        let rows = tensor.shape.first ?? 1
        guard !sampledOptions.isEmpty else { return (results, variance, squared, rows) }
        let columns = tensor.parameters / rows
        let n = min(rows, max(RowSampleEstimate.minimumRows, sampleElements / max(1, columns)))
        let picked = RowSampleEstimate.sampleRows(rows: rows, count: n, seed: seed)
        let weights = try importanceWeights(tensor)
        // perRow[o][i]: option sampledOptions[o] on sampled row i.
        var perRow = [[LayerEvaluation]](repeating: [], count: sampledOptions.count)
        var buffer = [Float](repeating: 0, count: columns)
        for r in picked {
            if token.isCancelled { throw CancellationError() }
            try buffer.withUnsafeMutableBufferPointer { try tensor.decode((r * columns)..<((r + 1) * columns), into: $0) }
            try buffer.withUnsafeBufferPointer { v in
                for (o, j) in sampledOptions.enumerated() {
                    let e = try Self.withOptional(weights) {
                        try LayerEvaluator.evaluate(menu.options[j], shape: [1, columns], values: v,
                                                    originalDType: tensor.dtype, importance: $0)
                    }
                    perRow[o].append(e)
                }
            }
        }
        for (o, j) in sampledOptions.enumerated() {
            let s = Self.scaled(perRow[o], rows: rows, settings: menu.options[j], tensor: tensor)
            results[j] = s
            squared[j] = Self.totalVariance(perRow[o].map(\.metrics.sumSquaredError), rows: rows)
            switch measure {
            case .mse:
                variance[j] = squared[j]
            case .imatrix:
                variance[j] = Self.totalVariance(perRow[o].map { $0.importanceError?.weightedError ?? $0.metrics.sumSquaredError }, rows: rows)
            case .relative:
                // Ratio estimate Σe/Σs: linearised through dᵢ = eᵢ − R̂·sᵢ, over the mean signal per row.
                let signal = s.metrics.sumSquares
                let ratio = measure.error(s)
                if signal > 0 {
                    let d = perRow[o].map { $0.metrics.sumSquaredError - ratio * $0.metrics.sumSquares }
                    variance[j] = Self.totalVariance(d, rows: rows) / (signal * signal)
                } else {
                    variance[j] = squared[j]
                }
            }
        }
        return (results, variance, squared, n)
    }

    /// The variance of N·ȳ as an estimate of Σyᵢ over `rows` rows from the sampled `values` (simple random
    /// sampling without replacement: N²·(1 − n/N)·s²/n).
    static func totalVariance(_ values: [Double], rows: Int) -> Double {
        let n = values.count
        guard n > 1 else { return 0 }
        let mean = values.reduce(0, +) / Double(n)
        let s2 = values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        let fpc = max(0, 1 - Double(n) / Double(rows))
        let N = Double(rows)
        return N * N * fpc * s2 / Double(n)
    }

    /// The sampled rows' evaluations merged and scaled to the layer (`rows` rows): sums and counts times
    /// rows / sampled, the size of the whole layer (with the scaled zero count where pruning counts).
    static func scaled(_ perRow: [LayerEvaluation], rows: Int, settings: LayerSettings, tensor: Tensor) -> LayerEvaluation {
        let estimate = RowSampleEstimate(perRow: perRow.map(\.metrics), rows: rows)
        let scale = Double(rows) / Double(max(1, perRow.count))
        func scaledCount(_ c: Int) -> Int { Int((Double(c) * scale).rounded()) }
        var pruned = 0, prunedRows = 0, zeros = 0
        var weighted: ImportanceWeightedError? = nil
        for e in perRow {
            pruned += e.pruning.pruned
            prunedRows += e.pruning.prunedRows
            zeros += e.zerosAfterPruning
            if let w = e.importanceError { weighted = weighted ?? ImportanceWeightedError(); weighted!.merge(w) }
        }
        if var w = weighted {
            w.weightedError *= scale
            w.weightedSignal *= scale
            w.count = scaledCount(w.count)
            weighted = w
        }
        let size = SizeModel.size(settings, shape: tensor.shape, originalDType: tensor.dtype,
                                  zerosAfterPruning: scaledCount(zeros), prunedRows: scaledCount(prunedRows))
        var e = LayerEvaluation(metrics: estimate.metrics, size: size,
                                pruning: PruneOutcome(pruned: scaledCount(pruned), prunedRows: scaledCount(prunedRows)),
                                zerosAfterPruning: scaledCount(zeros), clustering: nil)
        e.importanceError = weighted
        if let stored = SizeModel.asStored(settings, count: tensor.parameters, storedBytes: tensor.storedBytes) { e.size = stored }
        return e
    }
}
