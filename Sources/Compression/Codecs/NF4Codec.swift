import WeightFormats

/// bitsandbytes NF4 with an absmax per block of `group` values in flat order; the kernel is `NF4Quantizer`.
///
/// Encoding: 4-bit codes packed two per byte (first value in the high nibble, as bitsandbytes packs them)
/// and one Float32 absmax per block. A block whose absmax is 0 stores the code of level 0.
public struct NF4Codec: Codec, Hashable {
    public var group: Int

    public init(group: Int) { self.group = group }

    public init?(_ format: QuantFormat) {
        guard case .nf4(let g) = format else { return nil }
        self.init(group: g)
    }

    public var format: QuantFormat { .nf4(group: group) }

    // MARK: Plan

    public static let planFormats = ["nf4"]
    public static let planKeys = ["group"]
    public static let defaultGroup = 64

    public static func parse(format: String, _ f: PlanFields) throws(PlanError) -> QuantFormat {
        .nf4(group: try f.integer("group", in: CodecBounds.groupSize, default: defaultGroup))
    }

    public var planFormat: String { "nf4" }
    public var planValues: [(key: String, json: String)] { [("group", "\(group)")] }

    /// The default block of 64 first when it fits, then the other offered blocks that divide the last dimension.
    public static func candidates(for shape: [Int]) -> [QuantFormat] {
        let fitting = CodecBounds.offeredGroups(shape)
        return ((fitting.contains(defaultGroup) ? [defaultGroup] : []) + fitting.filter { $0 != defaultGroup })
            .map { QuantFormat.nf4(group: $0) }
    }

    // MARK: Fit

    /// Blocks run in flat order, but a block that straddles two rows is refused so plans stay row-local.
    public func misfit(_ shape: [Int]) -> CodecMisfit? {
        unsupported(shape) ?? CodecMisfit.divides(group, shape, field: "group", what: "group \(group)")
    }

    public func unsupported(_ shape: [Int]) -> CodecMisfit? {
        group >= 1 ? nil : CodecMisfit(field: "group", reason: "NF4 block size must be ≥ 1, got \(group)")
    }

    public var pieceAlignment: Int? { group }

    // MARK: Kernels

    var quantizer: NF4Quantizer { NF4Quantizer(group: group) }

    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>?, zerosArePruned: Bool) throws -> FakeQuantization {
        FakeQuantization(metrics: quantizer.fakeQuantize(input, into: output, measuringAgainst: original))
    }

    /// The code of level 0, stored for blocks whose absmax is 0.
    static let zeroCode = UInt8(NF4Quantizer.levels.firstIndex(of: 0)!)

    public func encode(_ input: UnsafeBufferPointer<Float>, shape: [Int], zerosArePruned: Bool) -> EncodedTensor {
        let n = input.count
        var codes = [UInt8](repeating: Self.zeroCode, count: n)
        var absmaxes: [Float] = []
        var lo = 0
        while lo < n {
            let hi = min(lo + group, n)
            let absmax = KernelSIMD.absMax(UnsafeBufferPointer(rebasing: input[lo..<hi]))
            absmaxes.append(absmax)
            if absmax != 0 {
                let inv = 1 / absmax
                for i in lo..<hi { codes[i] = UInt8(NF4Quantizer.code(input[i] * inv)) }
            }
            lo = hi
        }
        return EncodedTensor(format: format, shape: shape, parts: [.nibbles("codes", codes), .float32("absmax", absmaxes)])
    }

    public func decode(_ encoded: EncodedTensor, into output: UnsafeMutableBufferPointer<Float>) throws {
        let n = TensorLayout(shape: encoded.shape).count
        let codes = try encoded.part("codes").nibbleValues()
        let absmax = try encoded.part("absmax").float32Values()
        guard codes.count == n, absmax.count == (n + group - 1) / group, output.count >= n else {
            throw CompressionError("encoded nf4 tensor has \(codes.count) codes and \(absmax.count) blocks for \(n) values")
        }
        for i in 0..<n { output[i] = NF4Quantizer.levels[Int(codes[i])] * absmax[i / group] }
    }

    // MARK: Levels

    public func levels(_ values: UnsafeBufferPointer<Float>, shape: [Int], firstRow: Int, clustering: KMeansClustering?) -> LevelFinder.Found? {
        let layout = TensorLayout(shape: shape)
        var best = -1.0, bestStart = 0
        var start = 0
        while start < layout.count {
            let end = min(layout.count, start + group)
            var m: Float = 0
            for i in start..<end { m = max(m, abs(values[i])) }
            if Double(m) > best { best = Double(m); bestStart = start }
            start = end
        }
        let levels = NF4Quantizer.levels.map { Double($0) * best }
        return LevelFinder.Found(levels: QuantizationLevels(values: levels, unit: "block \(bestStart / group + firstRow * layout.rowLength / group)",
                                                            clip: -best ... best), width: 2 * best)
    }

    // MARK: Size

    public var valueBits: Int { 4 }
    /// An f32 absmax per block (flat order, the last block may be short).
    public func metadataBits(_ layout: TensorLayout) -> Int { (layout.count + group - 1) / group * 32 }
    public func blockBits(count: Int) -> Int? { nil }
    public var storageName: String { "nf4 g\(group) + f32 absmax" }

    // MARK: Labels and knobs

    public var label: String { "nf4 g\(group)" }
    public var name: String { "nf4" }
    public var cycleStep: String { "nf4" }

    public func settingLines(number: (Double) -> String) -> [CodecSetting] {
        [CodecSetting(.granularity, "block", "\(group)")]
    }

    /// Blocks 32 → 64 → 128 → 256 among those that divide the last dimension.
    public func turned(_ knob: CodecKnob, up: Bool, shape: [Int]) -> QuantFormat? {
        guard knob == .granularity else { return nil }
        let order = CodecBounds.offeredGroups(shape)
        guard !order.isEmpty else { return nil }
        let k = order.firstIndex(of: group) ?? -1
        return .nf4(group: order[(k + 1) % order.count])
    }
}
