import WeightFormats

/// Uniform integer quantization, 2–8 bits, symmetric or asymmetric, one grid per tensor / row / group, the
/// range from min/max, a percentile or an MSE search. The kernel is `IntegerQuantizer` (DESIGN.md §5).
///
/// Encoding: one code per weight (`int8` when symmetric, `uint8` when asymmetric, unpacked), the Float32
/// scale of each grid (the scale the kernel uses, so decoding is exact) and, when asymmetric, a `uint8` zero
/// point per grid. Sizes are accounted with f16 scales and `bits`-bit zero points (as stored by the usual
/// packed formats); a writer that stores f16 scales must re-quantize with them.
public struct IntCodec: Codec, Hashable {
    public static let bits = 2...8

    public var bits: Int
    public var symmetric: Bool
    public var granularity: Granularity
    public var clip: Clipping

    public init(bits: Int, symmetric: Bool, granularity: Granularity, clip: Clipping) {
        self.bits = bits
        self.symmetric = symmetric
        self.granularity = granularity
        self.clip = clip
    }

    public init?(_ format: QuantFormat) {
        guard case .int(let b, let s, let g, let c) = format else { return nil }
        self.init(bits: b, symmetric: s, granularity: g, clip: c)
    }

    public var format: QuantFormat { .int(bits: bits, symmetric: symmetric, granularity: granularity, clip: clip) }
    var quantizer: IntegerQuantizer { IntegerQuantizer(bits: bits, symmetric: symmetric, granularity: granularity, clip: clip) }

    // MARK: Plan

    public static let planFormats = ["int"]
    public static let planKeys = ["bits", "symmetric", "granularity", "clip"]
    /// One scale per output row: the common, cheap choice.
    public static let defaultGranularity = Granularity.channel

    public static func parse(format: String, _ f: PlanFields) throws(PlanError) -> QuantFormat {
        let bits = try f.integer("bits", in: Self.bits)
        let symmetric = try f.bool("symmetric", default: true)
        let granularity = try f.granularity("granularity", groups: true, default: defaultGranularity)
        let clip = try f.clipping("clip", default: .minmax)
        return .int(bits: bits, symmetric: symmetric, granularity: granularity, clip: clip)
    }

    public var planFormat: String { "int" }
    public var planValues: [(key: String, json: String)] {
        [("bits", "\(bits)"), ("symmetric", symmetric ? "true" : "false"),
         ("granularity", PlanJSON.granularity(granularity)), ("clip", PlanJSON.clip(clip))]
    }

    /// 8 bits per channel first (the format key's step), then every bits / granularity / symmetry / clipping.
    public static func candidates(for shape: [Int]) -> [QuantFormat] {
        let granularities: [Granularity] = [.channel, .tensor] + CodecBounds.offeredGroups(shape).map { .group($0) }
        var out: [QuantFormat] = []
        for b in Self.bits.reversed() {
            for g in granularities {
                for s in [true, false] {
                    for c in clippings { out.append(.int(bits: b, symmetric: s, granularity: g, clip: c)) }
                }
            }
        }
        return out
    }

    /// The clipping cycle: minmax → p99.9 → p99 → mse.
    static let clippings: [Clipping] = [.minmax, .percentile(99.9), .percentile(99), .mse]

    // MARK: Fit

    public func misfit(_ shape: [Int]) -> CodecMisfit? {
        if let problem = unsupported(shape) { return problem }
        if case .group(let g) = granularity {
            return CodecMisfit.divides(g, shape, field: "granularity.group", what: "group \(g)")
        }
        return nil
    }

    public func unsupported(_ shape: [Int]) -> CodecMisfit? {
        guard Self.bits.contains(bits) else {
            return CodecMisfit(field: "bits", reason: "integer quantization takes \(Self.bits.lowerBound)–\(Self.bits.upperBound) bits, got \(bits)")
        }
        if case .percentile(let p) = clip, !(p > 0 && p <= 100) {
            return CodecMisfit(field: "clip.percentile", reason: "clipping percentile must be in (0, 100], got \(p)")
        }
        if case .group(let g) = granularity, g < 1 {
            return CodecMisfit(field: "granularity.group", reason: "group size must be ≥ 1, got \(g)")
        }
        return nil
    }

    public var pieceAlignment: Int? { granularity == .tensor ? nil : 1 }

    // MARK: Kernels

    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>?, zerosArePruned: Bool) throws -> FakeQuantization {
        FakeQuantization(metrics: quantizer.fakeQuantize(input, shape: shape, into: output, measuringAgainst: original))
    }

    public func encode(_ input: UnsafeBufferPointer<Float>, shape: [Int], zerosArePruned: Bool) -> EncodedTensor {
        let grids = quantizer.grids(input, shape: shape)
        let segments = TensorLayout(shape: shape).segments(granularity)
        var codes = [UInt8](repeating: 0, count: input.count)
        for (s, range) in segments.enumerated() {
            let grid = grids[s]
            for i in range {
                // A zero scale reconstructs everything as 0: store the zero point.
                let q = grid.scale == 0 ? grid.zero : grid.code(input[i])
                codes[i] = symmetric ? UInt8(bitPattern: Int8(q)) : UInt8(q)
            }
        }
        var parts = [EncodedPart(name: "codes", dtype: symmetric ? .int8 : .uint8, count: codes.count, bytes: codes),
                     .float32("scales", grids.map(\.scale))]
        if !symmetric {
            let zeros = grids.map { UInt8($0.zero) }
            parts.append(EncodedPart(name: "zero_points", dtype: .uint8, count: zeros.count, bytes: zeros))
        }
        return EncodedTensor(format: format, shape: shape, parts: parts)
    }

    public func decode(_ encoded: EncodedTensor, into output: UnsafeMutableBufferPointer<Float>) throws {
        let layout = TensorLayout(shape: encoded.shape)
        let segments = layout.segments(granularity)
        let codes = try encoded.part("codes")
        try codes.expect(symmetric ? .int8 : .uint8, .none, bytes: layout.count)
        let scales = try encoded.part("scales").float32Values()
        let zeros: [UInt8] = symmetric ? [UInt8](repeating: 0, count: segments.count) : try encoded.part("zero_points").bytes
        guard scales.count == segments.count, zeros.count == segments.count, output.count >= layout.count else {
            throw CompressionError("encoded int tensor has \(scales.count) scales for \(segments.count) segments")
        }
        for (s, range) in segments.enumerated() {
            let scale = scales[s], zero = Float(zeros[s])
            for i in range {
                let q = symmetric ? Float(Int8(bitPattern: codes.bytes[i])) : Float(codes.bytes[i])
                // (q − zero) is the kernel's rounded value exactly (+0 when it is 0), so the product is too.
                output[i] = scale == 0 ? 0 : (q - zero) * scale
            }
        }
    }

    // MARK: Levels

    public func levels(_ values: UnsafeBufferPointer<Float>, shape: [Int], firstRow: Int, clustering: KMeansClustering?) -> LevelFinder.Found? {
        let layout = TensorLayout(shape: shape)
        let segments = layout.segments(granularity)
        let grids = quantizer.grids(values, shape: shape)
        guard let k = grids.indices.max(by: { Self.width(grids[$0]) < Self.width(grids[$1]) }) else { return nil }
        return found(grids[k], segment: segments[k], layout: layout, firstRow: firstRow)
    }

    /// A grid's range width, by which the widest unit is picked.
    static func width(_ g: IntegerGrid) -> Double { Double((g.qmax - g.qmin) * g.scale) }

    /// The levels of `grid`, labelled with the unit `segment` is in `layout`: what `levels` reports for its
    /// widest unit (also from stored BF16 bytes, `LevelFinder.findStoredBFloat16`).
    func found(_ grid: IntegerGrid, segment: Range<Int>, layout: TensorLayout, firstRow: Int) -> LevelFinder.Found {
        let levels = stride(from: grid.qmin, through: grid.qmax, by: 1).map { Double(($0 - grid.zero) * grid.scale) }
        // An infinite range gives NaN levels, which have no range to clip to (instead of trapping).
        let (first, last) = (levels.first!, levels.last!)
        return LevelFinder.Found(levels: QuantizationLevels(values: levels, unit: LevelFinder.unitName(granularity, segment: segment, layout: layout, firstRow: firstRow),
                                                            clip: first <= last ? first ... last : nil),
                                 width: Self.width(grid))
    }

    // MARK: Size

    public var valueBits: Int { bits }
    /// An f16 scale per grid, plus a `bits`-bit zero point when asymmetric.
    public func metadataBits(_ layout: TensorLayout) -> Int { layout.segmentCount(granularity) * (16 + (symmetric ? 0 : bits)) }
    public func blockBits(count: Int) -> Int? { nil }
    public var storageName: String {
        "int\(bits)\(symmetric ? "" : " asym") \(granularity.storageName) + f16 scales" + (symmetric ? "" : " + int\(bits) zero points")
    }

    // MARK: Labels and knobs

    public var label: String {
        var s = "int\(bits) " + granularity.shortName + (symmetric ? "" : " asym")
        switch clip {
        case .minmax: break
        case .percentile(let p): s += " p" + SettingsText.short(p)
        case .mse: s += " mse"
        }
        return s
    }
    public var name: String { "int" }
    public var cycleStep: String { "int" }

    public func settingLines(number: (Double) -> String) -> [CodecSetting] {
        let clipName: String
        switch clip {
        case .minmax: clipName = "min/max"
        case .percentile(let p): clipName = "p" + number(p)
        case .mse: clipName = "mse search"
        }
        return [CodecSetting(.amount, "bits", "\(bits)"),
                CodecSetting(.symmetry, "range", symmetric ? "symmetric" : "asymmetric"),
                CodecSetting(.granularity, "scale", granularity.paneName),
                CodecSetting(.clipping, "clip", clipName)]
    }

    /// Bits step within 2…8; granularity tensor → channel → groups that fit → tensor; symmetry flips;
    /// clipping minmax → p99.9 → p99 → mse → minmax.
    public func turned(_ knob: CodecKnob, up: Bool, shape: [Int]) -> QuantFormat? {
        var c = self
        switch knob {
        case .amount:
            c.bits = max(Self.bits.lowerBound, min(Self.bits.upperBound, bits + (up ? 1 : -1)))
        case .symmetry:
            c.symmetric.toggle()
        case .granularity:
            let order: [Granularity] = [.tensor, .channel] + CodecBounds.offeredGroups(shape).map { .group($0) }
            let k = order.firstIndex(of: granularity) ?? 0
            c.granularity = order[(k + 1) % order.count]
        case .clipping:
            switch clip {
            case .minmax: c.clip = .percentile(99.9)
            case .percentile(let p) where p > 99: c.clip = .percentile(99)
            case .percentile: c.clip = .mse
            case .mse: c.clip = .minmax
            }
        }
        return c.format
    }
}
