import Foundation
import Testing
@testable import Compression
import WeightFormats

/// The codec contract the writers depend on: `decode(encode(w))` is the fake-quantizer's output bit for bit
/// (bit patterns compared, so −0 against +0 fails), the encoded parts have their storage types, `misfit`
/// gives one message naming the plan field, and the codec table is the plan's whole vocabulary.
@Suite struct CodecRoundTripTests {
    /// Settings covering every codec and its parameters (groups that do not divide the last dimension
    /// included where the kernels take them).
    static let formats: [QuantFormat] = {
        var out: [QuantFormat] = []
        for bits in IntCodec.bits {
            for symmetric in [true, false] {
                for g in [Granularity.tensor, .channel, .group(3), .group(32)] {
                    out.append(.int(bits: bits, symmetric: symmetric, granularity: g, clip: .minmax))
                }
            }
        }
        for clip in [Clipping.percentile(99), .percentile(50), .mse] {
            out.append(.int(bits: 4, symmetric: true, granularity: .channel, clip: clip))
            out.append(.int(bits: 3, symmetric: false, granularity: .group(5), clip: clip))
        }
        out += [1, 3, 32, 64].map { .nf4(group: $0) }
        for f in [FP8Format.e4m3, .e5m2] { out += [.fp8(f, granularity: .tensor), .fp8(f, granularity: .channel)] }
        out += GGMLBlockCodec.traits.map { .gguf($0.type) }
        out += [2, 3, 16, 256].map { .kmeans(clusters: $0) }
        return out
    }()

    static let shapes: [[Int]] = [[1], [7], [5, 9], [3, 4, 5], [6, 64], [2, 3, 96], [4, 32]]

    /// Weights with the awkward cases: Gaussian-ish values, an all-zero row, ±0, exact ties of the integer
    /// grids (halves of a power-of-two scale), repeated values, tiny values that round to −0, a large outlier.
    static func weights(_ shape: [Int], seed: UInt64) -> [Float] {
        let n = shape.reduce(1, *)
        var rng = SplitMix64(seed: seed)
        var w = (0..<n).map { _ in Float(rng.unit() * 2 - 1) * Float(rng.unit()) }
        let rows = shape.count >= 2 ? shape[0] : 1
        let rowLength = n / rows
        if rows > 1 { for i in 0..<rowLength { w[i] = 0 } }                 // an all-zero row
        // With 127 the row's int8 scale is 1, so the halves are exact ties.
        let specials: [Float] = [-0.0, 0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-30, -1e-30, 0.25, 0.25, 0.25, 7, -7, 127, -0.0]
        let start = rows > 1 ? rowLength : 0
        for (k, v) in specials.enumerated() where n > 1 && start + k < n { w[start + k] = v }
        if n == 1 { w[0] = -0.75 }
        return w
    }

    @Test func decodeOfEncodeIsFakeQuantizeBitForBit() throws {
        var checked = 0
        for format in Self.formats {
            let codec = try #require(format.codec)
            for shape in Self.shapes where codec.unsupported(shape) == nil {
                for zerosArePruned in [false, true] {
                    let w = Self.weights(shape, seed: UInt64(checked + 1))
                    var fake = [Float](repeating: .nan, count: w.count), decoded = [Float](repeating: .nan, count: w.count)
                    let encoded = try w.withUnsafeBufferPointer { input in
                        _ = try fake.withUnsafeMutableBufferPointer {
                            try codec.fakeQuantize(input, shape: shape, into: $0, measuringAgainst: nil, zerosArePruned: zerosArePruned)
                        }
                        return codec.encode(input, shape: shape, zerosArePruned: zerosArePruned)
                    }
                    try decoded.withUnsafeMutableBufferPointer { try codec.decode(encoded, into: $0) }
                    let bad = (0..<w.count).first { fake[$0].bitPattern != decoded[$0].bitPattern }
                    #expect(bad == nil, "\(codec.label) \(shape) pruned=\(zerosArePruned): element \(bad ?? -1) of \(w[bad ?? 0]): fake \(fake[bad ?? 0]) decoded \(decoded[bad ?? 0])")
                    #expect(encoded.format == format && encoded.shape == shape)
                    checked += 1
                }
            }
        }
        #expect(checked > 300)
    }

    /// The round trip also holds for data the kernels split across cores (more than 2^17 values).
    @Test(arguments: [QuantFormat.int(bits: 4, symmetric: false, granularity: .group(128), clip: .minmax), .nf4(group: 64),
                      .fp8(.e5m2, granularity: .channel), .gguf(.q5_1), .kmeans(clusters: 16)])
    func largeTensorsRoundTrip(_ format: QuantFormat) throws {
        let codec = try #require(format.codec)
        let shape = [300, 512]
        let w = Self.weights(shape, seed: 99)
        var fake = [Float](repeating: 0, count: w.count), decoded = [Float](repeating: 1, count: w.count)
        let encoded = try w.withUnsafeBufferPointer { input in
            _ = try fake.withUnsafeMutableBufferPointer {
                try codec.fakeQuantize(input, shape: shape, into: $0, measuringAgainst: input, zerosArePruned: false)
            }
            return codec.encode(input, shape: shape, zerosArePruned: false)
        }
        try decoded.withUnsafeMutableBufferPointer { try codec.decode(encoded, into: $0) }
        let bad = (0..<w.count).first { fake[$0].bitPattern != decoded[$0].bitPattern }
        #expect(bad == nil, "element \(bad ?? -1): fake \(fake[bad ?? 0]) decoded \(decoded[bad ?? 0])")
    }

    /// Parts at their storage types: int codes int8/uint8 with f32 scales and uint8 zero points, NF4 nibbles
    /// (first value high) with f32 absmax, FP8 bytes with f32 scales, k-means uint8 indices with f16
    /// centroids, ggml blocks byte for byte as `GGUFBlockQuantizer` (compared with gguf-py elsewhere) writes them.
    @Test func partsHaveTheirStorageTypes() throws {
        let w: [Float] = [1, -1, 0.5, -0.25, 0, 0.75, -0.5, 0.125] + (0..<56).map { Float($0) / 64 - 0.4 }
        let shape = [2, 32]
        func encode(_ f: QuantFormat, pruned: Bool = false) throws -> EncodedTensor {
            let codec = try #require(f.codec)
            return w.withUnsafeBufferPointer { codec.encode($0, shape: shape, zerosArePruned: pruned) }
        }
        func layout(_ e: EncodedTensor) -> [String] { e.parts.map { "\($0.name):\($0.dtype):\($0.count):\($0.bytes.count)" } }

        #expect(layout(try encode(.int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax)))
                == ["codes:I8:64:64", "scales:F32:2:8"])
        #expect(layout(try encode(.int(bits: 3, symmetric: false, granularity: .group(16), clip: .minmax)))
                == ["codes:U8:64:64", "scales:F32:4:16", "zero_points:U8:4:4"])
        let nf4 = try encode(.nf4(group: 64))
        #expect(layout(nf4) == ["codes:U8:64:32", "absmax:F32:1:4"])
        #expect(nf4.parts[0].packing == .nibblesHighFirst)
        #expect(nf4.parts[0].bytes[0] == 0xF0)                  // 1 → level 15 (high nibble), −1 → level 0
        #expect(try nf4.parts[1].float32Values() == [1])
        #expect(layout(try encode(.fp8(.e4m3, granularity: .tensor))) == ["codes:F8_E4M3:64:64", "scales:F32:1:4"])
        let e5 = try encode(.fp8(.e5m2, granularity: .channel))
        #expect(layout(e5) == ["codes:F8_E5M2:64:64", "scales:F32:2:8"])
        #expect(e5.parts[0].bytes[0] == 0x7B && e5.parts[0].bytes[1] == 0xFB)   // ±57344, the row's absmax
        #expect(layout(try encode(.kmeans(clusters: 4))) == ["codes:U8:64:64", "centroids:F16:4:8"])
        #expect(layout(try encode(.kmeans(clusters: 4), pruned: true)) == ["codes:U8:64:64", "centroids:F16:4:8", "keep_mask:U8:64:8"])
        for t in GGMLBlockCodec.traits.map(\.type) where t.blockSize == 32 {   // 256-value blocks: KQuantCodecTests
            let e = try encode(.gguf(t))
            #expect(layout(e) == ["blocks:\(t.name):64:\(2 * t.typeSize)"])
            #expect(e.parts[0].bytes == w.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: t) })
        }
    }

    /// The FP8 byte of every finite value is the byte the reader decodes to that value.
    @Test(arguments: [FP8Format.e4m3, .e5m2])
    func fp8BytesInvertTheReader(_ f: FP8Format) throws {
        let codec = FP8Codec(f, granularity: .tensor)
        var table = [Float](repeating: 0, count: 256)
        let bytes = (0...255).map { UInt8($0) }
        try bytes.withUnsafeBytes { raw in
            try table.withUnsafeMutableBufferPointer {
                try ElementDecoder.decode(raw, dtype: codec.dtype, byteOrder: .little, count: 256, into: $0, path: "table")
            }
        }
        let (mb, mn) = codec.grid
        for (byte, v) in table.enumerated() where v.isFinite {
            #expect(FP8Codec.byte(v, mantissaBits: mb, minNormalExponent: mn) == UInt8(byte), "\(v)")
        }
    }

    @Test func decodingAForeignEncodingFails() throws {
        let w: [Float] = (0..<64).map { Float($0) }
        let q4 = try #require(QuantFormat.gguf(.q4_0).codec)
        let encoded = w.withUnsafeBufferPointer { q4.encode($0, shape: [2, 32], zerosArePruned: false) }
        var out = [Float](repeating: 0, count: 64)
        for other in [QuantFormat.int(bits: 8, symmetric: true, granularity: .tensor, clip: .minmax), .nf4(group: 32),
                      .fp8(.e4m3, granularity: .tensor), .gguf(.q8_0), .kmeans(clusters: 4)] {
            let codec = try #require(other.codec)
            #expect(throws: CompressionError.self) { try out.withUnsafeMutableBufferPointer { try codec.decode(encoded, into: $0) } }
        }
    }

    // MARK: Fit messages

    @Test func misfitsNameTheFieldInOneMessage() throws {
        let cases: [(QuantFormat, [Int], String, String)] = [
            (.int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax), [8, 4, 3], "granularity.group",
             "group 128 does not divide the last dimension (3)"),
            (.int(bits: 9, symmetric: true, granularity: .channel, clip: .minmax), [4, 4], "bits", "integer quantization takes 2–8 bits, got 9"),
            (.int(bits: 4, symmetric: true, granularity: .channel, clip: .percentile(0)), [4, 4], "clip.percentile",
             "clipping percentile must be in (0, 100], got 0.0"),
            (.nf4(group: 64), [3, 96], "group", "group 64 does not divide the last dimension (96)"),
            (.nf4(group: 0), [3, 96], "group", "NF4 block size must be ≥ 1, got 0"),
            (.fp8(.e4m3, granularity: .group(32)), [4, 64], "granularity",
             "fp8 supports only \"tensor\" or \"channel\" granularity, not groups, so it cannot quantize the weights"),
            (.gguf(.q4_0), [4, 48], "type", "q4_0 (blocks of 32) does not divide the last dimension (48)"),
            (.gguf(.iq2_XXS), [4, 256], "type", "cannot quantize to IQ2_XXS"),
            (.gguf(.q4_K), [4, 288], "type", "q4_k (blocks of 256) does not divide the last dimension (288)"),
            (.kmeans(clusters: 257), [4, 4], "clusters", "k-means takes 2–256 clusters, got 257"),
            (.kmeans(clusters: 1), [4, 4], "clusters", "k-means takes 2–256 clusters, got 1"),
        ]
        for (format, shape, field, reason) in cases {
            let misfit = try #require(format.codec?.misfit(shape), "\(format)")
            #expect(misfit.field == field)
            #expect(misfit.reason == reason)
            #expect(!misfit.reason.contains("\n"))
        }
        // Groups the kernels take but plans refuse: a shorter last group of each row.
        let int48 = try #require(QuantFormat.int(bits: 4, symmetric: true, granularity: .group(48), clip: .minmax).codec)
        #expect(int48.misfit([7, 64]) != nil && int48.unsupported([7, 64]) == nil)
        #expect(QuantFormat.gguf(.q8_0).codec?.unsupported([4, 48]) != nil)
    }

    /// The evaluator refuses what the codec does not support, with the codec's message.
    @Test func evaluatorUsesTheCodecsLimits() throws {
        #expect(throws: CompressionError("k-means takes 2–256 clusters, got 4096, shape is [4, 4]")) {
            try LayerEvaluator.validate(LayerSettings(quantize: .kmeans(clusters: 4096)), shape: [4, 4])
        }
        try LayerEvaluator.validate(LayerSettings(quantize: .kmeans(clusters: 256)), shape: [4, 4])
    }

    // MARK: The table

    static let tableShapes: [[Int]] = [[7], [4, 3], [16, 64], [8, 96], [2, 3, 256], [1, 4096]]

    /// Every candidate fits the shape it was offered for, belongs to the codec that offered it, and reads
    /// back from its own plan text as the same setting.
    @Test(arguments: tableShapes)
    func candidatesFitAndRoundTripThroughPlans(_ shape: [Int]) throws {
        for codecType in Codecs.all {
            let candidates = codecType.candidates(for: shape)
            #expect(Set(candidates.map { "\($0)" }).count == candidates.count, "duplicates from \(codecType)")
            for format in candidates {
                let codec = try #require(format.codec)
                #expect(ObjectIdentifier(type(of: codec)) == ObjectIdentifier(codecType))
                #expect(codec.misfit(shape) == nil, "\(codec.label) offered for \(shape)")
                #expect(codec.format == format)
                #expect(codecType.planFormats.contains(codec.planFormat))
                #expect(codec.planValues.map(\.key) == codecType.planKeys)
                let plan = Plan(defaultSettings: PlanSection(quantize: format))
                #expect(try Plan.parse(plan.jsonText(), path: "p") == plan, "\(plan.jsonText())")
            }
        }
    }

    @Test func planVocabularyComesFromTheTable() throws {
        #expect(Codecs.planFormats == ["none", "int", "nf4", "fp8_e4m3", "fp8_e5m2", "gguf", "kmeans"])
        #expect(Codecs.planKeys == ["format", "bits", "symmetric", "granularity", "clip", "group", "type", "clusters"])
        for name in Codecs.planFormats.dropFirst() {
            #expect(Codecs.all.filter { $0.planFormats.contains(name) }.count == 1, "\(name)")
        }
        // Every ggml row reads back by its plan name.
        for t in GGMLBlockCodec.traits.map(\.type) {
            let text = #"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "\#(t.name.lowercased())"}}}"#
            #expect(try Plan.parse(text, path: "p").defaultSettings.quantize == .gguf(t))
        }
    }

    /// The format key visits one setting per step in table order, skipping what does not fit.
    @Test func cycleHasOneSettingPerStep() {
        let labels = Codecs.cycle(for: [16, 64]).compactMap { $0.codec?.label }
        #expect(labels == ["int8 ch", "nf4 g64", "e4m3 tensor", "e5m2 tensor", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "IQ4_NL", "kmeans 16"])
        let narrow = Codecs.cycle(for: [16, 3]).compactMap { $0.codec?.label }
        #expect(narrow == ["int8 ch", "e4m3 tensor", "e5m2 tensor", "kmeans 16"])
        let wide = Codecs.cycle(for: [4, 96]).compactMap { $0.codec?.label }
        #expect(wide.contains("nf4 g32"))
    }

    /// Row pieces: whole-tensor codecs refuse them, the others give their alignment.
    @Test func pieceAlignment() throws {
        #expect(QuantFormat.int(bits: 4, symmetric: true, granularity: .tensor, clip: .minmax).codec?.pieceAlignment == nil)
        #expect(QuantFormat.int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax).codec?.pieceAlignment == 1)
        #expect(QuantFormat.nf4(group: 64).codec?.pieceAlignment == 64)
        #expect(QuantFormat.fp8(.e4m3, granularity: .tensor).codec?.pieceAlignment == nil)
        #expect(QuantFormat.kmeans(clusters: 16).codec?.pieceAlignment == nil)
        #expect(QuantFormat.gguf(.q4_0).codec?.pieceAlignment == 32)
        #expect(QuantFormat.none.codec == nil)
    }
}

/// What a model writer calls: `LayerEvaluator.encode` prunes as `evaluate` does, so decoding its result
/// gives `evaluate`'s reconstruction bit for bit, pruning included.
@Suite struct LayerEncodingTests {
    static let settings: [LayerSettings] = [
        LayerSettings(prune: .sparsity(0.5), quantize: .kmeans(clusters: 16)),
        LayerSettings(prune: .nm(n: 2, m: 4), quantize: .int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax)),
        LayerSettings(prune: .threshold(0.3), quantize: .gguf(.q4_1)),
        LayerSettings(prune: .rows(norm: .l2, sparsity: 0.25), quantize: .fp8(.e4m3, granularity: .channel)),
        LayerSettings(prune: .globalMagnitude(sparsity: 0.3), quantize: .nf4(group: 64)),
        LayerSettings(quantize: .int(bits: 3, symmetric: false, granularity: .tensor, clip: .mse)),
    ]

    @Test(arguments: settings)
    func decodedEncodingIsTheEvaluatedReconstruction(_ s: LayerSettings) throws {
        let shape = [16, 64]
        let w = CodecRoundTripTests.weights(shape, seed: 7)
        var reconstruction = [Float](repeating: .nan, count: w.count), decoded = [Float](repeating: .nan, count: w.count)
        let encoded = try w.withUnsafeBufferPointer { values in
            _ = try reconstruction.withUnsafeMutableBufferPointer {
                try LayerEvaluator.evaluate(s, shape: shape, values: values, reconstruction: $0)
            }
            return try LayerEvaluator.encode(s, shape: shape, values: values)
        }
        let e = try #require(encoded)
        try decoded.withUnsafeMutableBufferPointer { try e.format.codec!.decode(e, into: $0) }
        let bad = (0..<w.count).first { reconstruction[$0].bitPattern != decoded[$0].bitPattern }
        #expect(bad == nil, "\(SettingsText.summary(s)): element \(bad ?? -1)")
    }

    @Test func unquantizedSettingsHaveNoEncoding() throws {
        let w: [Float] = [1, 2, 3, 4]
        #expect(try w.withUnsafeBufferPointer { try LayerEvaluator.encode(LayerSettings(prune: .sparsity(0.5)), shape: [4], values: $0) } == nil)
        #expect(throws: CompressionError.self) {
            try w.withUnsafeBufferPointer { try LayerEvaluator.encode(LayerSettings(quantize: .gguf(.q8_0)), shape: [4], values: $0) }
        }
    }
}
