import WeightFormats

/// Whole-model numbers: error over every floating weight together (SQNR from the summed signal and error
/// energies, not an average of dB), bytes over every tensor.
public struct ModelTotals: Sendable, Equatable {
    /// All parameters, of every tensor.
    public var parameters = 0
    /// Error metrics over every floating tensor (uncompressed ones add signal and no error).
    public var metrics = ErrorMetrics()
    public var bytesOriginal = 0
    public var bytesCompressed = 0
    /// Floating tensors whose numbers are not known yet (the workbench totals while the engine works).
    public var pendingLayers = 0
    /// The importance-weighted error over the layers that have one (nil when none has).
    public var importance: ImportanceWeightedError?

    public init() {}

    public var bitsPerWeight: Double { parameters == 0 ? 0 : Double(bytesCompressed) * 8 / Double(parameters) }
    public var compressionRatio: Double { bytesCompressed == 0 ? 0 : Double(bytesOriginal) / Double(bytesCompressed) }

    /// Totals for `evaluations` (one per tensor, as `Engine.evaluateAll` returns them), through the same
    /// numbers the workbench shows.
    public init(model: Model, evaluations: [LayerEvaluation?]) {
        self.init(zip(model.tensors, evaluations).map { t, e in
            let info = TensorInfo(t)
            return (info, LayerNumbers.evaluated(info, e))
        })
    }
}
