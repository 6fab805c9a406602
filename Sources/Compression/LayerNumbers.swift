import WeightFormats

/// One tensor as the numbers (and the workbench) need it: plain values, so tests need no files.
public struct TensorInfo: Equatable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var parameters: Int
    /// What the file stores: `bytes` (the original size) when it is not the dtype's size for the shape.
    public var bytes: Int
    /// Set for an already-quantized tensor shown as floats (`Tensor.storedBytes`): its stored size.
    public var storedBytes: Int?

    public init(name: String, dtype: DType, shape: [Int], parameters: Int? = nil, bytes: Int? = nil) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        let n = parameters ?? shape.reduce(1, *)
        self.parameters = n
        self.bytes = bytes ?? dtype.byteCount(elements: n) ?? 0
    }

    public init(_ tensor: Tensor) {
        self.init(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, parameters: tensor.parameters,
                  bytes: tensor.originalBytes)
        storedBytes = tensor.storedBytes
    }

    public var dtypeName: String { dtype.description }
    /// Only floating tensors are analysed and compressed; integer and bool tensors are listed.
    public var isFloating: Bool { dtype.isFloating && parameters > 0 }
    public var lastDimension: Int { shape.last ?? 1 }
}

extension DType {
    /// Bits per weight of a tensor stored uncompressed in this dtype (block types count their scales). The
    /// one formula for it: `report`, the layer table and the totals all read it here.
    public var storedBitsPerWeight: Double { Double(blockBytes * 8) / Double(max(1, blockSize)) }
}

/// The numbers shown for one layer, by the workbench and by `report` alike: the engine's exact answer when
/// there is one, an instant estimate otherwise (pruning by threshold or sparsity is answered from the
/// magnitude histogram; sizes follow from the size model), and "pending" for what only the engine can say
/// (quantization error). The workbench computes them once per change of the layer, not per frame.
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
    /// Fraction of the weights that are zero after compression, whatever made them zero (pruning, zeros
    /// already in the weights, or quantization rounding small values to 0).
    public var sparsity: Double?
    /// Fraction of the weights the pruning rule set to zero (0 with no pruning): what the user asked for,
    /// apart from zeros rounding made.
    public var pruned: Double?
    /// dB; +∞ for an exact reconstruction.
    public var sqnr: Double?
    /// Sums for model totals (nil when unknown).
    public var metrics: ErrorMetrics?
    /// The storage encoding the size assumes.
    public var encoding: String?
    /// With an importance matrix that has an entry for the layer: the importance-weighted error.
    public var importance: ImportanceWeightedError?
    /// The SQNR interval when the error is a row-sample estimate (`RowSampleEstimate`) awaiting the engine.
    public var sampleInterval: ClosedRange<Double>?

    public init(status: Status, bitsPerWeight: Double? = nil, bytes: Int? = nil, sparsity: Double? = nil,
                sqnr: Double? = nil, metrics: ErrorMetrics? = nil, encoding: String? = nil) {
        self.status = status
        self.bitsPerWeight = bitsPerWeight
        self.bytes = bytes
        self.sparsity = sparsity
        self.sqnr = sqnr
        self.metrics = metrics
        self.encoding = encoding
    }

    public var isSettled: Bool { status == .exact || status == .notCompressed }

    /// A tensor that is listed and stored as it is (integer and bool tensors).
    public static func stored(_ tensor: TensorInfo) -> LayerNumbers {
        LayerNumbers(status: .notCompressed, bitsPerWeight: tensor.dtype.storedBitsPerWeight, bytes: tensor.bytes,
                     encoding: "stored as is")
    }

    /// The engine's answer.
    public static func exact(_ e: LayerEvaluation) -> LayerNumbers {
        var n = LayerNumbers(status: .exact, bitsPerWeight: e.size.bitsPerWeight, bytes: e.size.bytes,
                             sparsity: e.metrics.sparsity, sqnr: e.metrics.sqnrDB, metrics: e.metrics, encoding: e.size.encoding)
        n.pruned = Double(e.pruning.pruned) / Double(max(1, e.metrics.count))
        n.importance = e.importanceError
        return n
    }

    /// Numbers for a whole-plan evaluation (`Engine.evaluateAll`, as `report` prints them): the engine's
    /// answer, or the tensor as stored when it has none.
    public static func evaluated(_ tensor: TensorInfo, _ evaluation: LayerEvaluation?) -> LayerNumbers {
        if let evaluation { return .exact(evaluation) }
        return tensor.isFloating ? LayerNumbers(status: .pending) : .stored(tensor)
    }

    /// Numbers for a layer in the workbench: the engine's answer for the current settings if it has arrived,
    /// else what the analysis can say at once.
    public static func of(_ info: TensorInfo, settings: LayerSettings, analysis: LayerAnalysis?,
                          analysisFailure: String?,
                          evaluation: Result<LayerEvaluation, EvaluationFailure>?,
                          sample: RowSampleEstimate? = nil) -> LayerNumbers {
        guard info.isFloating else { return .stored(info) }
        switch evaluation {
        case .success(let r)?: return .exact(r)
        case .failure(let f)?: return LayerNumbers(status: .failed(f.message))
        case nil: break
        }
        if let message = analysisFailure { return LayerNumbers(status: .failed(message)) }
        var n = LayerNumbers(status: .pending)

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
            let size = SizeModel.asStored(settings, count: info.parameters, storedBytes: info.storedBytes)
                ?? SizeModel.size(settings, shape: info.shape, originalDType: info.dtype, zerosAfterPruning: zeros)
            n.bitsPerWeight = size.bitsPerWeight
            n.bytes = size.bytes
            n.encoding = size.encoding
        }
        switch settings.prune {
        case .none: n.pruned = 0
        case .nm(let keep, let m) where m > 0: n.pruned = Double(m - keep) / Double(m)
        case .threshold, .sparsity, .globalMagnitude: n.pruned = cut.map { Double($0.pruned) / Double(max(1, info.parameters)) }
        default: break
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
        if let sample, !settings.isIdentity {
            // The quantization error from a sample of rows, until the engine's exact answer replaces it.
            n.metrics = sample.metrics
            n.sqnr = sample.sqnrDB
            n.sparsity = n.sparsity ?? sample.metrics.sparsity
            n.sampleInterval = sample.sqnrInterval
            n.status = .estimate
        }
        return n
    }
}

extension ModelTotals {
    /// Totals over every layer's numbers: error over the layers with metrics together, each layer at the size
    /// its numbers give (its original size when they give none yet).
    public init(_ layers: [(tensor: TensorInfo, numbers: LayerNumbers)]) {
        self.init()
        for (tensor, n) in layers {
            parameters += tensor.parameters
            bytesOriginal += tensor.bytes
            if let m = n.metrics { metrics.merge(m) }
            if let w = n.importance { importance = (importance ?? ImportanceWeightedError()); importance!.merge(w) }
            bytesCompressed += n.bytes ?? tensor.bytes
            // A layer still waiting for its error adds nothing to the summed SQNR yet, so the total is not known.
            if tensor.isFloating && n.status == .pending { pendingLayers += 1 }
        }
    }
}

private extension MagnitudeHistogram.Cut {
    var pair: (pruned: Int, prunedSquares: Double) { (pruned, prunedSquares) }
}
