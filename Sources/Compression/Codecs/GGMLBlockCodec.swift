import WeightFormats

/// What the program knows about one ggml block type, in the manner of ggml's `type_traits`: the block
/// length and bytes per block come from `GGMLType` (WeightFormats, the reader's table), the block quantizer
/// from `GGUFBlockQuantizer`, and the values one block can take for drawing. Decoding is the reader's
/// (`ElementDecoder`), so it is exactly what a GGUF reader produces. K-quants (256-element blocks) and IQ4
/// are rows like the others; their quantizers are `GGMLKQuantizer`.
public struct GGMLBlockTraits: Sendable {
    public let type: GGMLType
    /// Quantizes one block of `type.blockSize` values into `type.typeSize` bytes.
    let quantizeBlock: @Sendable (UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer) -> Void
    /// Every value one block (its bytes) can represent, unsorted.
    let blockValues: @Sendable ([UInt8]) -> [Double]
    /// Quantizes one row with importance weights (one per column), ggml's imatrix path; nil when ggml
    /// ignores the weights for this type (Q8_0).
    let quantizeWeightedRow: (@Sendable (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer) -> Void)?

    init(type: GGMLType, quantizeBlock: @escaping @Sendable (UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer) -> Void,
         blockValues: @escaping @Sendable ([UInt8]) -> [Double],
         quantizeWeightedRow: (@Sendable (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer) -> Void)? = nil) {
        self.type = type
        self.quantizeBlock = quantizeBlock
        self.blockValues = blockValues
        self.quantizeWeightedRow = quantizeWeightedRow
    }

    /// A row of a ggml quantizer that works one block at a time with an optional slice of importance weights
    /// (the K-quants and IQ4): its unweighted block function and weighted row function.
    typealias BlockFunction = @Sendable (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutableRawPointer) -> Void

    init(type: GGMLType, blocks: @escaping BlockFunction, blockValues: @escaping @Sendable ([UInt8]) -> [Double]) {
        self.init(type: type, quantizeBlock: { x, o in blocks(x.baseAddress!, nil, o.baseAddress!) }, blockValues: blockValues,
                  quantizeWeightedRow: { x, qw, o in
                      let size = type.blockSize
                      for b in 0..<(x.count / size) {
                          blocks(x.baseAddress! + b * size, qw.baseAddress! + b * size, o.baseAddress! + b * type.typeSize)
                      }
                  })
    }

    /// A 32-value type whose importance path weighs with σ² over the whole row.
    static func legacyWeighted(nmax: Int32, asymmetric: Bool) -> @Sendable (UnsafeBufferPointer<Float>, UnsafeBufferPointer<Float>, UnsafeMutableRawBufferPointer) -> Void {
        { x, qw, o in GGMLLegacyImportance.row(x.baseAddress!, qw.baseAddress!, count: x.count, nmax: nmax, asymmetric: asymmetric, into: o.baseAddress!) }
    }
}

/// One ggml block type as a codec: fixed-size blocks along the last dimension, stored as ggml stores them.
public struct GGMLBlockCodec: Codec, Hashable {
    public var type: GGMLType

    public init(_ type: GGMLType) { self.type = type }

    public init?(_ format: QuantFormat) {
        guard case .gguf(let t) = format else { return nil }
        self.init(t)
    }

    public var format: QuantFormat { .gguf(type) }

    /// The block types that can be quantized to, in the format key's order.
    public static let traits: [GGMLBlockTraits] = [
        GGMLBlockTraits(type: .q8_0, quantizeBlock: GGUFBlockQuantizer.q8_0, blockValues: { b in (-128...127).map { Double($0) * half(b, 0) } }),
        GGMLBlockTraits(type: .q4_0, quantizeBlock: GGUFBlockQuantizer.q4_0, blockValues: { b in (0...15).map { Double($0 - 8) * half(b, 0) } },
                        quantizeWeightedRow: GGMLBlockTraits.legacyWeighted(nmax: 8, asymmetric: false)),
        GGMLBlockTraits(type: .q4_1, quantizeBlock: GGUFBlockQuantizer.q4_1, blockValues: { b in (0...15).map { Double($0) * half(b, 0) + half(b, 2) } },
                        quantizeWeightedRow: GGMLBlockTraits.legacyWeighted(nmax: 15, asymmetric: true)),
        GGMLBlockTraits(type: .q5_0, quantizeBlock: GGUFBlockQuantizer.q5_0, blockValues: { b in (0...31).map { Double($0 - 16) * half(b, 0) } },
                        quantizeWeightedRow: GGMLBlockTraits.legacyWeighted(nmax: 16, asymmetric: false)),
        GGMLBlockTraits(type: .q5_1, quantizeBlock: GGUFBlockQuantizer.q5_1, blockValues: { b in (0...31).map { Double($0) * half(b, 0) + half(b, 2) } },
                        quantizeWeightedRow: GGMLBlockTraits.legacyWeighted(nmax: 31, asymmetric: true)),
        GGMLBlockTraits(type: .q2_K, blocks: GGMLKQuantizer.q2K, blockValues: GGMLBlockValues.q2K),
        GGMLBlockTraits(type: .q3_K, blocks: GGMLKQuantizer.q3K, blockValues: GGMLBlockValues.q3K),
        GGMLBlockTraits(type: .q4_K, blocks: GGMLKQuantizer.q4K, blockValues: { GGMLBlockValues.scaleMinK($0, top: 15) }),
        GGMLBlockTraits(type: .q5_K, blocks: GGMLKQuantizer.q5K, blockValues: { GGMLBlockValues.scaleMinK($0, top: 31) }),
        GGMLBlockTraits(type: .q6_K, blocks: GGMLKQuantizer.q6K, blockValues: GGMLBlockValues.q6K),
        GGMLBlockTraits(type: .iq4_NL, blocks: GGMLKQuantizer.iq4NL, blockValues: GGMLBlockValues.iq4NL),
        GGMLBlockTraits(type: .iq4_XS, blocks: GGMLKQuantizer.iq4XS, blockValues: GGMLBlockValues.iq4XS),
    ]

    public static func traits(of type: GGMLType) -> GGMLBlockTraits? { traits.first { $0.type == type } }

    /// The little-endian float16 at `offset` of a block.
    static func half(_ block: [UInt8], _ offset: Int) -> Double {
        Double(Float(Float16(bitPattern: UInt16(block[offset]) | UInt16(block[offset + 1]) << 8)))
    }

    // MARK: Plan

    public static let planFormats = ["gguf"]
    public static let planKeys = ["type"]

    static func planName(_ t: GGMLType) -> String { t.name.lowercased() }

    public static func parse(format: String, _ f: PlanFields) throws(PlanError) -> QuantFormat {
        // Types llama-quantize makes only with an importance matrix are read, so that resolving the plan refuses
        // them with that reason (or, with a matrix, as types weightlab cannot quantize).
        if case .string(let s)? = f.fields["type"], let t = ImportanceRequirement.types.first(where: { planName($0) == s }) {
            return .gguf(t)
        }
        let name = try f.choice("type", traits.map { planName($0.type) })
        return .gguf(traits.first { planName($0.type) == name }!.type)
    }

    public var planFormat: String { "gguf" }
    public var planValues: [(key: String, json: String)] { [("type", PlanJSON.string(Self.planName(type)))] }

    /// Every block type whose blocks divide the last dimension, each its own step of the format key.
    public static func candidates(for shape: [Int]) -> [QuantFormat] {
        traits.map { QuantFormat.gguf($0.type) }.filter { $0.codec?.misfit(shape) == nil }
    }

    // MARK: Fit

    public func misfit(_ shape: [Int]) -> CodecMisfit? { unsupported(shape) }

    /// Blocks run along the last dimension: the kernel needs whole blocks in every row.
    public func unsupported(_ shape: [Int]) -> CodecMisfit? {
        guard Self.traits(of: type) != nil else { return CodecMisfit(field: "type", reason: "cannot quantize to \(type.name)") }
        return CodecMisfit.divides(type.blockSize, shape, field: "type", what: "\(Self.planName(type)) (blocks of \(type.blockSize))")
    }

    /// Blocks divide the last dimension, so any whole rows split on block boundaries.
    public var pieceAlignment: Int? { type.blockSize }

    // MARK: Kernels

    /// Quantizes to blocks and decodes them back; the error is measured by the caller afterwards.
    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>?, zerosArePruned: Bool) throws -> FakeQuantization {
        try GGUFBlockQuantizer.fakeQuantize(input, type: type, into: output)
        return FakeQuantization()
    }

    public func encode(_ input: UnsafeBufferPointer<Float>, shape: [Int], zerosArePruned: Bool) -> EncodedTensor {
        let bytes = GGUFBlockQuantizer.quantize(input, type: type)
        return EncodedTensor(format: format, shape: shape,
                             parts: [EncodedPart(name: "blocks", dtype: .ggml(type), count: input.count, bytes: bytes)])
    }

    public func decode(_ encoded: EncodedTensor, into output: UnsafeMutableBufferPointer<Float>) throws {
        let n = TensorLayout(shape: encoded.shape).count
        let blocks = try encoded.part("blocks")
        try blocks.expect(.ggml(type), .none, bytes: GGUFBlockQuantizer.byteCount(type, count: n))
        try blocks.bytes.withUnsafeBytes { raw in
            try ElementDecoder.decode(raw, dtype: .ggml(type), byteOrder: .little, count: n, into: output, path: "\(type.name) blocks")
        }
    }

    // MARK: Levels

    /// The block with the widest range, quantized, and every value its codes can take.
    public func levels(_ values: UnsafeBufferPointer<Float>, shape: [Int], firstRow: Int, clustering: KMeansClustering?) -> LevelFinder.Found? {
        let layout = TensorLayout(shape: shape)
        let size = type.blockSize
        guard layout.count % size == 0, let traits = Self.traits(of: type) else { return nil }
        var bestBlock = 0, best = -1.0
        for b in 0..<(layout.count / size) {
            var lo: Float = .infinity, hi: Float = -.infinity
            for i in (b * size)..<((b + 1) * size) { lo = min(lo, values[i]); hi = max(hi, values[i]) }
            if Double(hi - lo) > best { best = Double(hi - lo); bestBlock = b }
        }
        let block = UnsafeBufferPointer(rebasing: values[(bestBlock * size)..<((bestBlock + 1) * size)])
        let levels = traits.blockValues(GGUFBlockQuantizer.quantize(block, type: type)).sorted()
        guard let lo = levels.first, let hi = levels.last else { return nil }
        return LevelFinder.Found(levels: QuantizationLevels(values: levels, unit: "block \(bestBlock + firstRow * layout.rowLength / size)", clip: lo ... hi),
                                 width: best)
    }

    // MARK: Size

    public var valueBits: Int { type.typeSize * 8 / type.blockSize }
    public func metadataBits(_ layout: TensorLayout) -> Int { 0 }
    /// Exactly the blocks; pruning does not shrink them.
    public func blockBits(count: Int) -> Int? { count / type.blockSize * type.typeSize * 8 }
    public var storageName: String { "\(type.name) blocks" }

    // MARK: Labels and knobs

    public var label: String { type.name }
    public var name: String { type.name }
    public var cycleStep: String { type.name }

    public func settingLines(number: (Double) -> String) -> [CodecSetting] {
        [CodecSetting(nil, "blocks", "\(type.blockSize) values, \(type.typeSize) bytes")]
    }

    public func turned(_ knob: CodecKnob, up: Bool, shape: [Int]) -> QuantFormat? { nil }
}
