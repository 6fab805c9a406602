import Compression
import WeightFormats

/// Everything the workbench knows about one layer, in one value: which tensor it is, its settings and their
/// revision, what the analysis and the engine answered, and the numbers derived from those. The numbers are
/// recomputed when a field they depend on changes (so drawing a frame reads them, never derives them).
public struct LayerRecord: Equatable, Sendable {
    /// An engine answer for the record's current revision (kept as an Equatable value).
    public struct Evaluation: Equatable, Sendable {
        public var settings: LayerSettings
        public var revision: Int
        public var outcome: Result<LayerEvaluation, EvaluationFailure>
        public var levels: QuantizationLevels?
        /// The cut of the layer's global magnitude group, for the histogram's pruned band.
        public var groupCut: MagnitudeCut?

        public init(_ r: EvaluationResult) {
            settings = r.settings
            revision = r.revision
            outcome = r.outcome
            levels = r.levels
            groupCut = r.groupCut
        }
    }

    /// The layer's index in the model (and in `AppState.records`).
    public let id: Int
    public let tensor: TensorInfo
    public var settings: LayerSettings { didSet { refresh() } }
    /// Bumped by every edit of the settings; answers for older revisions are dropped.
    public var revision: Int
    public var analysis: LayerAnalysis? { didSet { refresh() } }
    /// Why the analysis could not read the layer.
    public var analysisFailure: String? { didSet { refresh() } }
    /// The engine's answer for the current revision, once it has arrived (nil again after an edit).
    public var evaluation: Evaluation? { didSet { refresh() } }
    /// A row-sample estimate for the current revision (a large layer with slow settings), shown until the
    /// engine's answer arrives.
    public var sampleEstimate: RowSampleEstimate? { didSet { refresh() } }
    /// What the table, settings pane, histogram and totals show for this layer.
    public private(set) var numbers: LayerNumbers

    public init(id: Int, tensor: TensorInfo, settings: LayerSettings = .identity) {
        self.id = id
        self.tensor = tensor
        self.settings = settings
        revision = 0
        numbers = LayerNumbers.of(tensor, settings: settings, analysis: nil, analysisFailure: nil, evaluation: nil)
    }

    /// The analysis found NaN or Inf values: error numbers (SQNR, clip range) are undefined for this layer.
    public var holdsNonFinite: Bool {
        guard let s = analysis?.statistics else { return false }
        return s.nans + s.infinities > 0
    }

    /// New settings: a new revision, and the old answer no longer counts.
    public mutating func edit(_ new: LayerSettings) {
        revision += 1
        evaluation = nil
        sampleEstimate = nil
        settings = new
    }

    private mutating func refresh() {
        numbers = LayerNumbers.of(tensor, settings: settings, analysis: analysis, analysisFailure: analysisFailure,
                                  evaluation: evaluation?.outcome, sample: evaluation == nil ? sampleEstimate : nil)
    }
}

extension LayerNumbers {
    /// The numbers of `layer` in `state` (stored in its record).
    public static func of(_ layer: Int, in state: AppState) -> LayerNumbers { state.records[layer].numbers }
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

    public static func of(_ state: AppState) -> WorkbenchTotals { state.totals }

    /// Totals over `records` through the shared numbers model (as `report` computes them).
    static func of(_ records: [LayerRecord]) -> WorkbenchTotals {
        var unsettled = 0, evaluating = 0, analysed = 0, floating = 0
        for r in records {
            if r.tensor.isFloating {
                floating += 1
                if r.analysis != nil || r.analysisFailure != nil { analysed += 1 }
                if !r.settings.isIdentity && r.evaluation == nil { evaluating += 1 }
            }
            if !r.numbers.isSettled { unsettled += 1 }
        }
        return WorkbenchTotals(totals: ModelTotals(records.map { ($0.tensor, $0.numbers) }), unsettled: unsettled,
                               evaluating: evaluating, analysed: analysed, floating: floating)
    }
}
