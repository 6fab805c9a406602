import Compression

/// Work the reducer asks the run loop to do. Effects are plain data so reducer tests can assert on them;
/// the run loop executes each one and feeds its outcome back as an `Action`.
public enum Effect: Equatable, Sendable {
    /// Analyse one layer (statistics, magnitude and value histograms). Answer: `.analysed` or
    /// `.analysisFailed`.
    case analyse(layer: Int)
    /// `layer` has new settings: the engine records them in its plan and evaluates them. Answer: `.evaluated`
    /// with the same revision (none for identity settings; the reducer drops answers whose revision is no
    /// longer current, so the run loop may coalesce or cancel freely), and `.evaluationsStale` for other
    /// layers whose global magnitude group the change altered.
    case evaluate(layer: Int, settings: LayerSettings, revision: Int)
    /// Compute a value or error histogram over a range. Answer: `.histogramReady` with the same request.
    case histogram(HistogramRequest)
    /// Write `text` to `path` (temporary file + rename). Answer: `.planSaved` or `.failed`.
    case savePlan(path: String, text: String)
    /// Run a long job in the background. Answers: `.jobProgress` while it runs, then `.jobFinished`.
    case job(JobRequest)
    /// Stop a running job and drop its answer (Esc on a task metric, or a new one replacing it).
    case cancelJob(JobRequest)
    /// Leave the program (restore the terminal first).
    case quit
}

/// A histogram the histogram pane wants: of the layer's values, or of its error `w − ŵ` under `settings`,
/// counted in `bins` equal bins over [lo, hi].
public struct HistogramRequest: Hashable, Sendable {
    public enum Kind: Hashable, Sendable {
        case values
        /// The error `w − ŵ` of compressing with these settings.
        case error(LayerSettings)
    }

    public var layer: Int
    public var kind: Kind
    public var lo: Double
    public var hi: Double
    public var bins: Int

    public init(layer: Int, kind: Kind, lo: Double, hi: Double, bins: Int) {
        self.layer = layer
        self.kind = kind
        self.lo = lo
        self.hi = hi
        self.bins = bins
    }

    /// Bins per request: the same as the open-time display histogram, and independent of the terminal width
    /// (the view resamples to its columns), so a resize never needs a new request.
    public static let defaultBins = LayerAnalysis.displayBins
}
