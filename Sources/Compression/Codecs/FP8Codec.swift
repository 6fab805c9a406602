import WeightFormats

/// FP8 E4M3FN or E5M2 with a Float32 scale per tensor or per row; the kernel is `FP8Quantizer`.
///
/// Encoding: one FP8 byte per weight (`float8E4M3` / `float8E5M2`, sign kept, so −0 stays −0) and the
/// Float32 scale of each segment. Decoding goes through `ElementDecoder`, the reader of FP8 files.
public struct FP8Codec: Codec, Hashable {
    public var variant: FP8Format
    /// `.tensor` or `.channel`.
    public var granularity: Granularity

    public init(_ variant: FP8Format, granularity: Granularity) {
        self.variant = variant
        self.granularity = granularity
    }

    public init?(_ format: QuantFormat) {
        guard case .fp8(let f, let g) = format else { return nil }
        self.init(f, granularity: g)
    }

    public var format: QuantFormat { .fp8(variant, granularity: granularity) }

    // MARK: Plan

    public static let planFormats = [FP8Format.e4m3.rawValue, FP8Format.e5m2.rawValue]
    public static let planKeys = ["granularity"]
    public static let defaultGranularity = Granularity.tensor

    public static func parse(format: String, _ f: PlanFields) throws(PlanError) -> QuantFormat {
        .fp8(FP8Format(rawValue: format)!, granularity: try f.granularity("granularity", groups: false, default: defaultGranularity))
    }

    public var planFormat: String { variant.rawValue }
    public var planValues: [(key: String, json: String)] { [("granularity", PlanJSON.granularity(granularity))] }

    /// E4M3 then E5M2, per tensor (the format key's steps) then per channel.
    public static func candidates(for shape: [Int]) -> [QuantFormat] {
        [FP8Format.e4m3, .e5m2].flatMap { f in [Granularity.tensor, .channel].map { QuantFormat.fp8(f, granularity: $0) } }
    }

    // MARK: Fit

    /// The kernel takes groups too; plans and the workbench offer a scale per tensor or per row only.
    public func unsupported(_ shape: [Int]) -> CodecMisfit? {
        if case .group(let g) = granularity, g < 1 {
            return CodecMisfit(field: "granularity.group", reason: "group size must be ≥ 1, got \(g)")
        }
        return nil
    }

    public func misfit(_ shape: [Int]) -> CodecMisfit? {
        if case .group = granularity {
            return CodecMisfit(field: "granularity", reason: "fp8 supports only \"tensor\" or \"channel\" granularity, not groups, so it cannot quantize the weights")
        }
        return nil
    }

    public var pieceAlignment: Int? { granularity == .tensor ? nil : 1 }

    // MARK: Kernels

    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>?, zerosArePruned: Bool) throws -> FakeQuantization {
        FakeQuantization(metrics: FP8Quantizer(format: variant, granularity: granularity)
            .fakeQuantize(input, shape: shape, into: output, measuringAgainst: original))
    }

    /// Mantissa bits and the exponent of the smallest normal number.
    var grid: (mantissaBits: Int32, minNormalExponent: Int32) { variant == .e4m3 ? (3, -6) : (2, -14) }
    var dtype: DType { variant == .e4m3 ? .float8E4M3 : .float8E5M2 }

    public func encode(_ input: UnsafeBufferPointer<Float>, shape: [Int], zerosArePruned: Bool) -> EncodedTensor {
        let segments = TensorLayout(shape: shape).segments(granularity)
        let fmax = FP8Quantizer.maxValue(variant)
        let (mb, mn) = grid
        var bytes = [UInt8](repeating: 0, count: input.count)
        var scales: [Float] = []
        for range in segments {
            let scale = KernelSIMD.absMax(UnsafeBufferPointer(rebasing: input[range])) / fmax
            scales.append(scale)
            guard scale != 0 else { continue }
            for i in range {
                let r = FP8Quantizer.round(input[i] / scale, mantissaBits: mb, minNormalExponent: mn, max: fmax)
                bytes[i] = Self.byte(r, mantissaBits: mb, minNormalExponent: mn)
            }
        }
        return EncodedTensor(format: format, shape: shape,
                             parts: [EncodedPart(name: "codes", dtype: dtype, count: bytes.count, bytes: bytes), .float32("scales", scales)])
    }

    /// The FP8 byte of `r`, a value the format represents exactly: sign, biased exponent (bias
    /// `1 − minNormalExponent`) and the top mantissa bits; subnormals are multiples of `2^(minNormal − mb)`.
    static func byte(_ r: Float, mantissaBits mb: Int32, minNormalExponent mn: Int32) -> UInt8 {
        let sign: UInt8 = r.sign == .minus ? 0x80 : 0
        let a = abs(r)
        let e = Int32(a.bitPattern >> 23) - 127
        let magnitude: UInt32
        if e >= mn {
            magnitude = UInt32(e - mn + 1) << UInt32(mb) | (a.bitPattern >> UInt32(23 - mb)) & ((1 << UInt32(mb)) - 1)
        } else {
            magnitude = UInt32(a * Float(sign: .plus, exponent: Int(mb - mn), significand: 1))
        }
        return sign | UInt8(magnitude)
    }

    public func decode(_ encoded: EncodedTensor, into output: UnsafeMutableBufferPointer<Float>) throws {
        let layout = TensorLayout(shape: encoded.shape)
        let segments = layout.segments(granularity)
        let codes = try encoded.part("codes")
        try codes.expect(dtype, .none, bytes: layout.count)
        let scales = try encoded.part("scales").float32Values()
        guard scales.count == segments.count, output.count >= layout.count else {
            throw CompressionError("encoded fp8 tensor has \(scales.count) scales for \(segments.count) segments")
        }
        try codes.bytes.withUnsafeBytes { raw in
            try ElementDecoder.decode(raw, dtype: dtype, byteOrder: .little, count: layout.count, into: output, path: "fp8 codes")
        }
        for (s, range) in segments.enumerated() {
            let scale = scales[s]
            for i in range { output[i] = scale == 0 ? 0 : output[i] * scale }
        }
    }

    // MARK: Levels

    public func levels(_ values: UnsafeBufferPointer<Float>, shape: [Int], firstRow: Int, clustering: KMeansClustering?) -> LevelFinder.Found? {
        let layout = TensorLayout(shape: shape)
        let g: Granularity = granularity == .tensor ? .tensor : .channel
        let segments = layout.segments(g)
        var best = -1.0, bestSegment = segments[0]
        for s in segments {
            var m: Float = 0
            for i in s { m = max(m, abs(values[i])) }
            if Double(m) > best { best = Double(m); bestSegment = s }
        }
        let scale = best / Double(FP8Quantizer.maxValue(variant))
        let levels = Self.finiteValues(dtype).map { $0 * scale }
        return LevelFinder.Found(levels: QuantizationLevels(values: levels, unit: LevelFinder.unitName(g, segment: bestSegment, layout: layout, firstRow: firstRow),
                                                            clip: -best ... best), width: 2 * best)
    }

    /// Every finite value of an FP8 type, ascending.
    static func finiteValues(_ dtype: DType) -> [Double] {
        let bytes = (0...255).map { UInt8($0) }
        var out = [Float](repeating: 0, count: 256)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer {
                try? ElementDecoder.decode(raw, dtype: dtype, byteOrder: .little, count: 256, into: $0, path: "")
            }
        }
        return Array(Set(out.filter(\.isFinite).map(Double.init))).sorted()
    }

    // MARK: Size

    public var valueBits: Int { 8 }
    /// An f32 scale per tensor or row.
    public func metadataBits(_ layout: TensorLayout) -> Int { layout.segmentCount(granularity) * 32 }
    public func blockBits(count: Int) -> Int? { nil }
    public var storageName: String { "\(variant.rawValue) \(granularity.storageName) + f32 scale" }

    // MARK: Labels and knobs

    public var label: String { (variant == .e4m3 ? "e4m3 " : "e5m2 ") + granularity.shortName }
    public var name: String { variant == .e4m3 ? "fp8 e4m3" : "fp8 e5m2" }
    public var cycleStep: String { variant.rawValue }

    public func settingLines(number: (Double) -> String) -> [CodecSetting] {
        [CodecSetting(.granularity, "scale", granularity.paneName)]
    }

    /// Scale per tensor ↔ per channel.
    public func turned(_ knob: CodecKnob, up: Bool, shape: [Int]) -> QuantFormat? {
        guard knob == .granularity else { return nil }
        return .fp8(variant, granularity: granularity == .tensor ? .channel : .tensor)
    }
}
