import Compression
import Foundation

/// What the table, settings pane and status line show for one layer: the engine's exact answer for the
/// current revision when it has arrived, an instant estimate otherwise (pruning by threshold or sparsity
/// is answered from the magnitude histogram; sizes follow from the size model), and "pending" for what
/// only the engine can say (quantization error).
public struct LayerNumbers: Equatable, Sendable {
    public enum Status: Equatable, Sendable {
        /// Engine result for the current revision, or identity settings (nothing to compute).
        case exact
        /// From the magnitude histogram; the engine's answer will replace it.
        case estimate
        /// Waiting for analysis or the engine.
        case pending
        case failed(String)
        /// Integer and bool tensors: listed, never compressed.
        case notCompressed
    }

    public var status: Status
    public var bitsPerWeight: Double?
    public var bytes: Int?
    public var sparsity: Double?
    /// dB; +∞ for an exact reconstruction.
    public var sqnr: Double?
    /// Sums for model totals (nil when unknown).
    public var metrics: ErrorMetrics?
    /// The storage encoding the size assumes.
    public var encoding: String?

    /// Numbers for `layer` in `state`.
    public static func of(_ layer: Int, in state: AppState) -> LayerNumbers {
        let info = state.layers[layer]
        let settings = state.settings[layer]
        guard info.isFloating else {
            return LayerNumbers(status: .notCompressed,
                                bitsPerWeight: info.parameters > 0 ? Double(info.bytes * 8) / Double(info.parameters) : nil,
                                bytes: info.bytes, sparsity: nil, sqnr: nil, metrics: nil, encoding: "stored as is")
        }
        if let e = state.currentEvaluation(layer) {
            switch e.outcome {
            case .success(let r):
                return LayerNumbers(status: .exact, bitsPerWeight: r.size.bitsPerWeight, bytes: r.size.bytes,
                                    sparsity: r.metrics.sparsity, sqnr: r.metrics.sqnrDB, metrics: r.metrics,
                                    encoding: r.size.encoding)
            case .failure(let f):
                return LayerNumbers(status: .failed(f.message), bitsPerWeight: nil, bytes: nil, sparsity: nil,
                                    sqnr: nil, metrics: nil, encoding: nil)
            }
        }
        if let message = state.analysisErrors[layer] {
            return LayerNumbers(status: .failed(message), bitsPerWeight: nil, bytes: nil, sparsity: nil, sqnr: nil,
                                metrics: nil, encoding: nil)
        }
        let analysis = state.analyses[layer]
        var n = LayerNumbers(status: .pending, bitsPerWeight: nil, bytes: nil, sparsity: nil, sqnr: nil,
                             metrics: nil, encoding: nil)

        // Pruning by magnitude is answered from the histogram.
        var cut: (pruned: Int, prunedSquares: Double)?
        if let a = analysis {
            switch settings.prune {
            case .threshold(let t): cut = a.magnitudes.cut(threshold: t).pair
            case .sparsity(let s), .globalMagnitude(let s): cut = a.magnitudes.cut(sparsity: s).pair
            case .none: cut = (a.statistics.zeros, 0)
            case .nm, .rows: break
            }
        }
        // Sizes need the zeros after pruning only for unstructured pruning.
        let zeros: Int? = {
            switch settings.prune {
            case .none, .nm: return cut?.pruned ?? 0
            case .threshold, .sparsity, .globalMagnitude: return cut?.pruned
            case .rows: return nil
            }
        }()
        if let zeros {
            let size = SizeModel.size(settings, shape: info.shape, originalDType: info.dtype, zerosAfterPruning: zeros)
            n.bitsPerWeight = size.bitsPerWeight
            n.bytes = size.bytes
            n.encoding = size.encoding
        }
        if let a = analysis, let cut {
            n.sparsity = Double(cut.pruned) / Double(max(1, info.parameters))
            if settings.quantize == .none {
                var m = ErrorMetrics()
                m.count = a.magnitudes.total
                m.sumSquares = a.magnitudes.totalSquares
                m.sumSquaredError = cut.prunedSquares
                // ŵ is w where kept and 0 where pruned: Σwŵ = Σŵ² = the kept values' Σw².
                m.sumProducts = a.magnitudes.totalSquares - cut.prunedSquares
                m.sumSquaresReconstructed = m.sumProducts
                m.zeros = cut.pruned
                n.metrics = m
                n.sqnr = m.sqnrDB
                n.status = settings.isIdentity ? .exact : .estimate
            }
        } else if let a = analysis, case .nm(let keep, let m) = settings.prune, m > 0 {
            n.sparsity = max(Double(m - keep) / Double(m), a.statistics.zeroFraction)
        }
        if settings.isIdentity && analysis == nil {
            // Nothing to compute: the size is known and the reconstruction exact.
            n.sqnr = .infinity
            n.status = .exact
        }
        return n
    }

    public var isSettled: Bool { status == .exact || status == .notCompressed }
}

/// Whole-model numbers for the status line.
public struct WorkbenchTotals: Equatable, Sendable {
    public var totals: ModelTotals
    /// Layers whose numbers are estimates or still pending (the status line marks totals with "~").
    public var unsettled: Int
    /// Layers the engine has not answered yet (for "evaluating N layers").
    public var evaluating: Int
    public var analysed: Int
    public var floating: Int

    public static func of(_ state: AppState) -> WorkbenchTotals {
        var t = ModelTotals()
        var unsettled = 0, evaluating = 0, analysed = 0, floating = 0
        for (i, layer) in state.layers.enumerated() {
            t.parameters += layer.parameters
            t.bytesOriginal += layer.bytes
            if layer.isFloating {
                floating += 1
                if state.analyses[i] != nil || state.analysisErrors[i] != nil { analysed += 1 }
                if !state.settings[i].isIdentity && state.currentEvaluation(i) == nil { evaluating += 1 }
            }
            let n = LayerNumbers.of(i, in: state)
            if !n.isSettled { unsettled += 1 }
            if let m = n.metrics { t.metrics.merge(m) }
            // The size model answers sizes before the engine does; the totals use the size the table shows,
            // and only a layer without one (row pruning before its answer) counts at its original size.
            t.bytesCompressed += n.bytes ?? layer.bytes
            // A layer still waiting for its error adds nothing to the summed SQNR yet, so the total is not known.
            if layer.isFloating && n.status == .pending { t.pendingLayers += 1 }
        }
        return WorkbenchTotals(totals: t, unsettled: unsettled, evaluating: evaluating, analysed: analysed,
                               floating: floating)
    }
}

private extension MagnitudeHistogram.Cut {
    var pair: (pruned: Int, prunedSquares: Double) { (pruned, prunedSquares) }
}
