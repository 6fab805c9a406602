/// What one task evaluation measured: the compressed model against the original on the same inputs.
/// Metrics that do not apply to the task (classifier or embedder) are nil.
public struct TaskReport: Equatable, Sendable {
    /// How the output was judged.
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        /// Logits per class: accuracy (with labels), flips, KL.
        case classifier
        /// One vector per input: cosine, nearest-neighbour agreement.
        case embedder
        /// Any other output: SQNR only.
        case output
    }

    public var kind: Kind
    /// The output compared (the model's first float output).
    public var output: String
    public var samples: Int
    /// Output SQNR in dB (+∞ when identical).
    public var sqnr: Double
    public var accuracyOriginal: Double?
    public var accuracyCompressed: Double?
    public var flipRate: Double?
    public var meanKL: Double?
    public var cosineMean: Double?
    public var cosineMin: Double?
    public var neighbourAgreement: Double?

    public init(kind: Kind, output: String, samples: Int, sqnr: Double) {
        self.kind = kind
        self.output = output
        self.samples = samples
        self.sqnr = sqnr
    }

    /// The metrics that apply, as (key, value) in a fixed order (the columns of `eval` and `report`).
    public var columns: [(key: String, value: Double)] {
        var out: [(String, Double)] = []
        if let v = accuracyOriginal { out.append(("accuracy_original", v)) }
        if let v = accuracyCompressed { out.append(("accuracy", v)) }
        if let v = flipRate { out.append(("flip_rate", v)) }
        if let v = meanKL { out.append(("kl_mean", v)) }
        if let v = cosineMean { out.append(("cosine_mean", v)) }
        if let v = cosineMin { out.append(("cosine_min", v)) }
        if let v = neighbourAgreement { out.append(("nn_agreement", v)) }
        out.append(("output_sqnr_db", sqnr))
        return out.map { (key: $0.0, value: $0.1) }
    }
}

extension TaskReport {
    /// The one number a task line shows and the solver's check follows, and how much of it the compression
    /// lost (nil when the metric has no original to lose from): accuracy with labels (`acc`, lost: accuracy
    /// points), else the share of unflipped predictions (`agree`, lost: the flip rate); an embedder's mean
    /// cosine (`cos`, lost: 1 − cosine); any other output's SQNR (`out`, no loss).
    public var headline: (name: String, value: Double, loss: Double?) {
        if let a = accuracyCompressed, let o = accuracyOriginal { return ("acc", a, o - a) }
        if let f = flipRate { return ("agree", 1 - f, f) }
        if let c = cosineMean { return ("cos", c, 1 - c) }
        return ("out", sqnr, nil)
    }
}
