import WeightFormats

/// What one pass over a layer learns at open: its statistics, the fine magnitude histogram (instant pruning
/// answers) and a display histogram of its values over [min, max].
public struct LayerAnalysis: Sendable, Equatable {
    public var statistics: Statistics
    public var magnitudes: MagnitudeHistogram
    public var values: ValueHistogram

    public init(statistics: Statistics, magnitudes: MagnitudeHistogram, values: ValueHistogram) {
        self.statistics = statistics
        self.magnitudes = magnitudes
        self.values = values
    }

    /// Bins of the display histogram made at open.
    public static let displayBins = 512

    /// Two passes: statistics and magnitudes together, then values over the range the first pass found.
    /// BF16 layers take one pass (`BFloat16Analysis`, equal bit for bit).
    public static func analyse(_ tensor: Tensor, cancelled: @Sendable () -> Bool = { false }) throws -> LayerAnalysis {
        if BFloat16Analysis.applies(to: tensor) { return try BFloat16Analysis.analyse(tensor, cancelled: cancelled) }
        return try analyseInTwoPasses(tensor, cancelled: cancelled)
    }

    /// The general analysis (any dtype); also the reference the BF16 pass is tested against (and timed
    /// against in `weightlab bench --model`).
    public static func analyseInTwoPasses(_ tensor: Tensor, cancelled: @Sendable () -> Bool = { false }) throws -> LayerAnalysis {
        struct Both: Sendable { var s = Statistics(); var m = MagnitudeHistogram() }
        let both = try TensorScan.reduce(tensor, initial: Both(), cancelled: cancelled,
                                         partial: { _, v in var b = Both(); b.s.add(v); b.m = MagnitudeHistogram(v); return b },
                                         merge: { $0.s.merge($1.s); $0.m.merge($1.m) })
        let lo = both.s.count > 0 ? both.s.min : -1, hi = both.s.count > 0 ? both.s.max : 1
        let values = try TensorScan.valueHistogram(tensor, bins: displayBins, lo: lo, hi: hi, cancelled: cancelled)
        return LayerAnalysis(statistics: both.s, magnitudes: both.m, values: values)
    }
}

/// The quantization grid to draw on a histogram: the representable values of the unit (tensor, row or group)
/// with the widest range, and the clipping range that unit uses.
public struct QuantizationLevels: Sendable, Equatable {
    /// Dequantized level values, ascending.
    public var values: [Double]
    /// Which unit they belong to, for the label: "tensor", "row 17", "group 3 of row 17", "block 40".
    public var unit: String
    /// The clipped range of that unit (values outside are clamped to the end levels), if clipping applies.
    public var clip: ClosedRange<Double>?

    public init(values: [Double], unit: String, clip: ClosedRange<Double>?) {
        self.values = values
        self.unit = unit
        self.clip = clip
    }
}
