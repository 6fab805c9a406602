import WeightFormats

/// One quantization format with its parameters, and the single place that format is described: whether it
/// fits a tensor, its fast fake-quantizer, its encoding at real storage types and the decoding of it (equal
/// bit for bit to the fake-quantizer), the grid to draw, its size, the settings to offer, its plan spelling
/// and its labels. `QuantFormat` is the value carried in settings; `QuantFormat.codec` gives its codec.
///
/// A new format is one file in `Compression/Codecs/` conforming to this protocol, a case of `QuantFormat`
/// and one row in `Codecs.all`. Nothing else switches over formats.
public protocol Codec: Sendable {
    // MARK: The table row (the format family)

    /// The plan `format` names this codec reads and writes (`fp8` has two; every ggml block type is `gguf`).
    static var planFormats: [String] { get }
    /// The plan keys besides `format` that this codec reads, in the order they are written.
    static var planKeys: [String] { get }
    /// Reads a plan section whose `format` is one of `planFormats` (keys already limited to `planKeys`).
    static func parse(format: String, _ fields: PlanFields) throws(PlanError) -> QuantFormat
    /// Every setting worth offering for a tensor of `shape` (each one fits it), for the workbench's cycles and
    /// a solver. The first setting of each `cycleStep` is the one the format key switches to.
    static func candidates(for shape: [Int]) -> [QuantFormat]

    /// The codec of `format`, or nil when `format` belongs to another codec.
    init?(_ format: QuantFormat)

    // MARK: One setting

    /// The settings value this codec applies.
    var format: QuantFormat { get }
    /// Identity within the format key's cycle (`int`, `fp8_e4m3`, `Q4_0`, …): parameters are not part of it.
    var cycleStep: String { get }
    /// Why plans and the workbench refuse this setting for a tensor of `shape` (out-of-range parameters,
    /// and groups or blocks that do not divide the last dimension, so no group straddles two rows), or nil.
    func misfit(_ shape: [Int]) -> CodecMisfit?
    /// Why the kernels cannot apply this setting to a tensor of `shape` at all, or nil. Weaker than `misfit`:
    /// the kernels take a shorter last group of a row, which plans refuse.
    func unsupported(_ shape: [Int]) -> CodecMisfit?
    /// The plan fields (besides `format`) as JSON text, in `planKeys` order, every default written out.
    var planValues: [(key: String, json: String)] { get }
    /// The plan `format` name of this setting.
    var planFormat: String { get }

    /// Quantizes then dequantizes `input` (row-major `shape`) into `output`, the fast path. With `original`
    /// the output is measured against it, fused where the kernel does so. `zerosArePruned`: exact zeros are
    /// pruned weights and stay zero (only k-means uses it: its clustering leaves them out).
    func fakeQuantize(_ input: UnsafeBufferPointer<Float>, shape: [Int], into output: UnsafeMutableBufferPointer<Float>,
                      measuringAgainst original: UnsafeBufferPointer<Float>?, zerosArePruned: Bool) throws -> FakeQuantization
    /// The stored form of `input`: codes plus scales / zero points / centroids / block bytes.
    func encode(_ input: UnsafeBufferPointer<Float>, shape: [Int], zerosArePruned: Bool) -> EncodedTensor
    /// Decodes `encoded` (from this codec's `encode`) into `output`; equal bit for bit to `fakeQuantize`.
    func decode(_ encoded: EncodedTensor, into output: UnsafeMutableBufferPointer<Float>) throws

    /// The grid of the unit (tensor, row, group or block) with the widest range. A piece of a tensor names
    /// its unit with rows counted from `firstRow`. K-means draws its centroids from `clustering`.
    func levels(_ values: UnsafeBufferPointer<Float>, shape: [Int], firstRow: Int, clustering: KMeansClustering?) -> LevelFinder.Found?

    /// Storage: bits per stored value, metadata bits (scales, zero points, absmax, centroids) for a tensor of
    /// `layout`, and the assumed encoding's name. Block formats instead give `blockBits`.
    var valueBits: Int { get }
    func metadataBits(_ layout: TensorLayout) -> Int
    /// The exact size when the format stores fixed blocks whatever pruning does (ggml types), else nil.
    func blockBits(count: Int) -> Int?
    /// The encoding named in sizes: "int4 asym g128 + f16 scales + int4 zero points".
    var storageName: String { get }

    /// Short label for tables: "int4 g128 asym", "nf4 g64", "Q4_0".
    var label: String { get }
    /// The name on the settings pane's format line: "int", "fp8 e4m3", "k-means".
    var name: String { get }
    /// The settings pane's lines for this format, with the knob that changes each one (nil: fixed).
    func settingLines(number: (Double) -> String) -> [CodecSetting]
    /// The setting after turning `knob` (`up` for the amount knob), for a tensor of `shape`; nil when the
    /// knob does nothing for this format. The result fits `shape` when the current setting does.
    func turned(_ knob: CodecKnob, up: Bool, shape: [Int]) -> QuantFormat?

    /// Elements a row piece must be a multiple of when a tensor is evaluated in pieces of rows, or nil when
    /// the codec needs the whole tensor at once (one scale or one clustering for the whole tensor).
    var pieceAlignment: Int? { get }
}

/// Why a setting does not fit a tensor: the plan key at fault (relative to the quantize section, e.g.
/// `granularity.group`) and one message (e.g. "group 128 does not divide the last dimension (3)").
public struct CodecMisfit: Error, Equatable, Sendable, CustomStringConvertible {
    public let field: String
    public let reason: String
    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { reason }

    /// The one check every run-along-the-last-dimension format shares: `k` must divide the last dimension.
    /// `what` names the run ("group 128", "q4_0 (blocks of 32)").
    static func divides(_ k: Int, _ shape: [Int], field: String, what: String) -> CodecMisfit? {
        let last = shape.last ?? 1
        guard k > 0, last % k == 0 else {
            return CodecMisfit(field: field, reason: "\(what) does not divide the last dimension (\(last))")
        }
        return nil
    }
}

/// The result of a fake-quantization: fused metrics when the kernel measured, and k-means' clustering.
public struct FakeQuantization: Sendable {
    public var metrics: ErrorMetrics?
    public var clustering: KMeansClustering?
    public init(metrics: ErrorMetrics? = nil, clustering: KMeansClustering? = nil) {
        self.metrics = metrics
        self.clustering = clustering
    }
}

/// What the workbench's tuning keys turn; codecs say which ones apply to them.
public enum CodecKnob: Hashable, Sendable, CaseIterable {
    /// Bits or clusters (`+` / `-`).
    case amount
    /// Scale granularity or block size (`c`).
    case granularity
    /// Symmetric ↔ asymmetric (`y`).
    case symmetry
    /// Clipping rule (`C`).
    case clipping
}

/// One line of the settings pane: which knob changes it (nil when nothing does), its label and value.
public struct CodecSetting: Equatable, Sendable {
    public let knob: CodecKnob?
    public let label: String
    public let value: String
    public init(_ knob: CodecKnob?, _ label: String, _ value: String) {
        self.knob = knob
        self.label = label
        self.value = value
    }
}

/// Bounds shared by several codecs, written once.
public enum CodecBounds {
    /// Group (block) sizes a plan accepts.
    public static let groupSize = 1...65536
    /// Group sizes the workbench offers (those that divide the last dimension).
    public static let offeredGroups = [32, 64, 128, 256]

    static func offeredGroups(_ shape: [Int]) -> [Int] {
        let last = shape.last ?? 1
        return offeredGroups.filter { last % $0 == 0 }
    }
}

extension Granularity {
    /// "tensor", "ch", "g128" (short labels).
    var shortName: String {
        switch self {
        case .tensor: "tensor"
        case .channel: "ch"
        case .group(let n): "g\(n)"
        }
    }

    /// "per-tensor", "per-channel", "g128" (storage names).
    var storageName: String {
        switch self {
        case .tensor: "per-tensor"
        case .channel: "per-channel"
        case .group(let g): "g\(g)"
        }
    }

    /// "per tensor", "per channel", "group 128" (the settings pane).
    var paneName: String {
        switch self {
        case .tensor: "per tensor"
        case .channel: "per channel"
        case .group(let n): "group \(n)"
        }
    }
}
