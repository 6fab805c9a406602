import WeightFormats

/// k-means weight clustering into 2…256 shared values (an 8-bit index per weight at most); the kernel is
/// `KMeansQuantizer`, one clustering per tensor.
///
/// Encoding: one `uint8` cluster index per weight, the centroids as float16 bit patterns (the stored form
/// the reconstruction uses), and — when exact zeros are pruned weights left out of the clustering — a keep
/// mask (1 bit per weight, set where the weight was not zero) so those weights decode as exactly 0.
public struct KMeansCodec: Codec, Hashable {
    /// Cluster counts a plan and the workbench accept.
    public static let clusters = 2...256

    public var clusters: Int

    public init(clusters: Int) { self.clusters = clusters }

    public init?(_ format: QuantFormat) {
        guard case .kmeans(let k) = format else { return nil }
        self.init(clusters: k)
    }

    public var format: QuantFormat { .kmeans(clusters: clusters) }

    // MARK: Plan

    public static let planFormats = ["kmeans"]
    public static let planKeys = ["clusters"]
    /// The format key's step: 16 clusters (4-bit indices).
    public static let defaultClusters = 16

    public static func parse(format: String, _ f: PlanFields) throws(PlanError) -> QuantFormat {
        .kmeans(clusters: try f.integer("clusters", in: Self.clusters))
    }

    public var planFormat: String { "kmeans" }
    public var planValues: [(key: String, json: String)] { [("clusters", "\(clusters)")] }

    /// 16 first, then every power of two in range.
    public static func candidates(for shape: [Int]) -> [QuantFormat] {
        let powers = (1...8).map { 1 << $0 }.filter { Self.clusters.contains($0) && $0 != defaultClusters }
        return ([defaultClusters] + powers).map { QuantFormat.kmeans(clusters: $0) }
    }

    // MARK: Fit

    public func misfit(_ shape: [Int]) -> CodecMisfit? { unsupported(shape) }

    public func unsupported(_ shape: [Int]) -> CodecMisfit? {
        guard Self.clusters.contains(clusters) else {
            return CodecMisfit(field: "clusters", reason: "k-means takes \(Self.clusters.lowerBound)–\(Self.clusters.upperBound) clusters, got \(clusters)")
        }
        return nil
    }

    /// One clustering for the whole tensor.
    public var pieceAlignment: Int? { nil }

    // MARK: Kernels

    var quantizer: KMeansQuantizer { KMeansQuantizer(clusters: clusters) }

    public func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                             measuringAgainst original: UnsafeBufferPointer<Float>?, zerosArePruned: Bool) throws -> FakeQuantization {
        var measured: ErrorMetrics? = nil
        let clustering = quantizer.fakeQuantize(input, into: output, skipZeros: zerosArePruned,
                                                measuringAgainst: original, metrics: &measured)
        return FakeQuantization(metrics: measured, clustering: clustering)
    }

    public func encode(_ input: UnsafeBufferPointer<Float>, shape: [Int], zerosArePruned: Bool) -> EncodedTensor {
        let result = quantizer.cluster(input, skipZeros: zerosArePruned)
        let indices = input.map { UInt8(result.cluster(of: $0)) }
        var parts = [EncodedPart(name: "codes", dtype: .uint8, count: indices.count, bytes: indices),
                     .float16("centroids", bitPatterns: result.centroids.map { Float16($0).bitPattern })]
        if zerosArePruned { parts.append(.bits("keep_mask", input.map { $0 != 0 })) }
        return EncodedTensor(format: format, shape: shape, parts: parts)
    }

    public func decode(_ encoded: EncodedTensor, into output: UnsafeMutableBufferPointer<Float>) throws {
        let n = TensorLayout(shape: encoded.shape).count
        let codes = try encoded.part("codes")
        try codes.expect(.uint8, .none, bytes: n)
        let centroids = try encoded.part("centroids").float16Values()
        let keep = try encoded.parts.contains { $0.name == "keep_mask" } ? encoded.part("keep_mask").bitValues() : nil
        guard output.count >= n, codes.bytes.allSatisfy({ Int($0) < centroids.count }) else {
            throw CompressionError("encoded k-means tensor has a cluster index beyond its \(centroids.count) centroids")
        }
        for i in 0..<n { output[i] = keep.map { $0[i] } == false ? 0 : centroids[Int(codes.bytes[i])] }
    }

    // MARK: Levels

    /// The stored centroids (known only after clustering).
    public func levels(_ values: UnsafeBufferPointer<Float>, shape: [Int], firstRow: Int, clustering: KMeansClustering?) -> LevelFinder.Found? {
        guard let c = clustering else { return nil }
        let levels = c.storedCentroids.map(Double.init).sorted()
        return LevelFinder.Found(levels: QuantizationLevels(values: levels, unit: "tensor", clip: nil),
                                 width: (levels.last ?? 0) - (levels.first ?? 0))
    }

    // MARK: Size

    public var valueBits: Int { SizeModel.ceilLog2(clusters) }
    /// `k` f16 centroids per tensor.
    public func metadataBits(_ layout: TensorLayout) -> Int { clusters * 16 }
    public func blockBits(count: Int) -> Int? { nil }
    public var storageName: String { "k-means \(clusters) (\(valueBits)-bit codes) + f16 centroids" }

    // MARK: Labels and knobs

    public var label: String { "kmeans \(clusters)" }
    public var name: String { "k-means" }
    public var cycleStep: String { "kmeans" }

    public func settingLines(number: (Double) -> String) -> [CodecSetting] {
        [CodecSetting(.amount, "clusters", "\(clusters)")]
    }

    /// Clusters ×2 / ÷2 within 2…256.
    public func turned(_ knob: CodecKnob, up: Bool, shape: [Int]) -> QuantFormat? {
        guard knob == .amount else { return nil }
        return .kmeans(clusters: max(Self.clusters.lowerBound, min(Self.clusters.upperBound, up ? clusters * 2 : clusters / 2)))
    }
}
