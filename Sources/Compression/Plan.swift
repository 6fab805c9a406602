import WeightFormats

/// A compression plan file: a default for the model's weight matrices plus ordered rules by tensor name.
///
/// ```json
/// {"version": 1,
///  "default": {"prune": {"method": "magnitude", "threshold": 0.02},
///              "quantize": {"format": "int", "bits": 4, "symmetric": true,
///                           "granularity": {"group": 128}, "clip": "minmax"}},
///  "rules": [{"match": "embeddings", "quantize": {"format": "int", "bits": 8, "granularity": "channel"}},
///            {"match": "norm|bias$", "prune": {"method": "none"}, "quantize": {"format": "none"}}]}
/// ```
///
/// How a tensor's settings are found (`resolve(for:)`):
/// - Integer and bool tensors are never compressed, whatever matches them.
/// - `default` applies to floating tensors of rank ≥ 2 (the weight matrices and conv kernels); vectors and
///   scalars (biases, norms) start uncompressed.
/// - Each rule whose `match` regular expression is found anywhere in the name (a search, not a full match:
///   anchor with `^…$` for exact names) applies next, in file order, to floating tensors of any rank.
/// - Overrides work per section: a rule that sets `prune` replaces the whole prune section and one that sets
///   `quantize` replaces the whole quantize section; a section it leaves out is inherited. Inside a section
///   nothing is inherited: `{"format": "int", "bits": 8}` means int8 with the documented defaults, not "the
///   default's clipping with 8 bits", and `{"bits": 8}` alone is rejected for lacking `format`. That keeps
///   every section readable on its own and avoids merging fields across formats that do not share them.
///
/// Values (parsed strictly, see `PlanParser.swift` for every bound):
/// - prune `method`: `none`; `magnitude` with exactly one of `threshold` (≥ 0) or `sparsity`;
///   `global_magnitude` with `sparsity`; `nm` with `n`, `m` (1 ≤ n < m ≤ 32); `rows` with `norm` (`l1`, `l2`)
///   and `sparsity`. A sparsity is a fraction 0 ≤ s < 1: 1 would zero the whole tensor, and rejecting it also
///   catches percentages written by mistake.
/// - quantize `format`: `none` or a codec's plan name (the codecs in `Codecs.all` read and write their own
///   keys and hold the bounds; this list is a summary): `int` with `bits` 2…8, `symmetric` (default true), `granularity` `"tensor"`,
///   `"channel"` (the default: one scale per output row is the common, cheap choice) or `{"group": g}`,
///   `clip` `"minmax"` (default), `{"percentile": p}` (0 < p ≤ 100) or `"mse"`; `nf4` with `group` (default
///   64); `fp8_e4m3` / `fp8_e5m2` with `granularity` `"tensor"` (default) or `"channel"`; `gguf` with `type`
///   `q8_0`, `q4_0`, `q4_1`, `q5_0`, `q5_1`, `q2_k`, `q3_k`, `q4_k`, `q5_k`, `q6_k`, `iq4_nl`, `iq4_xs`; `kmeans` with
///   `clusters` 2…256 (an index of ⌈log2 clusters⌉ bits per weight, plus the codebook).
/// - Integer fields must be written as integers: `4.0`, `4.5` and `1e3` are all rejected there.
/// - `preset` (optional): a llama.cpp preset name (`Q4_K_M`, `Q6_K`, `IQ4_XS`, … `LlamaPreset`); `imatrix`
///   (optional): the path of an importance matrix.
/// - An optional `note` string is allowed at the top level and in each rule: JSON has no comments, and plans
///   are worth explaining. It is kept when the plan is written back.
/// - `"ignore_case": true` at the top level matches every rule's pattern without regard to case (tensor
///   names differ in case between exporters: `LayerNorm` in safetensors, `norm` in GGUF); `(?i)` inside one
///   pattern does the same for that rule.
/// - A rule that matches no floating tensor is a warning (`PlanResolution.warnings`), so a plan written for
///   one model can be used on another; `--strict` (`resolve(for:strict: true)`) makes it an error.
public struct Plan: Equatable, Sendable {
    /// Where the plan came from, named in errors. Not part of the plan's meaning, so `==` ignores it.
    public var source: String
    public var note: String?
    public var defaultSettings: PlanSection
    public var rules: [PlanRule]
    /// `ignore_case`: rule patterns match names without regard to case.
    public var ignoreCase: Bool
    /// A llama.cpp preset (`"preset": "Q4_K_M"`): every tensor's format is the type llama-quantize picks for
    /// it (`LlamaTypeSelection`), before the rules; `default.quantize` cannot be set beside it.
    public var preset: LlamaPreset?
    /// An importance matrix file (`"imatrix": "imatrix.gguf"`, GGUF or legacy .dat) for ggml's weighted
    /// quantizers and the importance-weighted error.
    public var imatrix: String?
    /// A request to choose each layer's settings for a size target (`PlanSolve`); nil for a plain plan.
    public var solve: PlanSolve?
    /// A llama-quantize preset weightlab knows but cannot produce and that needs an importance matrix
    /// (`ImportanceRequirement.presets`, such as `"Q2_K_S"`): parsed, then refused when the plan is resolved,
    /// with llama-quantize's reason when there is no matrix.
    public var presetNeedingImportance: String?
    /// Distillation settings for recovery after compression (`"distill"`), or nil: fine-tune on labels alone.
    public var distill: PlanDistillation?

    public init(defaultSettings: PlanSection = PlanSection(), rules: [PlanRule] = [], note: String? = nil,
                ignoreCase: Bool = false, source: String = "plan", preset: LlamaPreset? = nil, imatrix: String? = nil) {
        self.defaultSettings = defaultSettings
        self.rules = rules
        self.note = note
        self.ignoreCase = ignoreCase
        self.source = source
        self.preset = preset
        self.imatrix = imatrix
    }

    public static func == (a: Plan, b: Plan) -> Bool {
        a.note == b.note && a.defaultSettings == b.defaultSettings && a.rules == b.rules && a.ignoreCase == b.ignoreCase
            && a.preset == b.preset && a.imatrix == b.imatrix && a.solve == b.solve
            && a.presetNeedingImportance == b.presetNeedingImportance && a.distill == b.distill
    }

    /// The only plan version this program reads and writes.
    public static let version = 1

    /// Plan files are small; anything larger is not a plan and is refused before it is read into memory.
    public static let maximumFileSize: UInt64 = 16 << 20

    /// Reads and parses the plan at `path`.
    public static func load(path: String) throws(PlanError) -> Plan {
        try parse(try readFile(path, kind: "plan"), path: path)
    }

    /// The bytes of a small JSON file the user names (a plan, a solver menu), refused before it is read when it
    /// is larger than any such file could be; every failure is a `PlanError` naming the file.
    static func readFile(_ path: String, kind: String) throws(PlanError) -> [UInt8] {
        do {
            let file = try FileSource(path: path)
            guard file.size <= maximumFileSize else {
                throw PlanError(path: path, field: "", reason: "is \(file.size) bytes, larger than any \(kind) (limit \(maximumFileSize))")
            }
            return try file.bytes(at: 0, count: Int(file.size))
        } catch let e as PlanError {
            throw e
        } catch let e as ModelError {
            throw PlanError(path: path, field: "", reason: e.reason)
        } catch {
            throw PlanError(path: path, field: "", reason: "cannot read: \(error)")
        }
    }

    /// Parses plan text (see `parse(_:path:)` for bytes).
    public static func parse(_ text: String, path: String) throws(PlanError) -> Plan {
        try parse(Array(text.utf8), path: path)
    }
}

/// The settings a section can set. `nil` means "not set here": in `default` the tensor stays uncompressed in
/// that respect; in a rule the value from earlier (the default or an earlier rule) is kept. Mind the
/// difference from an explicit `PruneMethod.none` / `QuantFormat.none` ("set to nothing"): a bare `.none`
/// passed to these optionals means `nil` (the compiler warns).
public struct PlanSection: Equatable, Sendable {
    public var prune: PruneMethod?
    public var quantize: QuantFormat?

    public init(prune: PruneMethod? = nil, quantize: QuantFormat? = nil) {
        self.prune = prune
        self.quantize = quantize
    }
}

/// A rule: a regular expression searched in tensor names, and the sections it overrides.
public struct PlanRule: Equatable, Sendable {
    /// Regular expression (Swift `Regex` syntax, which for plan-sized patterns is the familiar
    /// Python/PCRE one), found anywhere in the name.
    public var match: String
    public var prune: PruneMethod?
    public var quantize: QuantFormat?
    public var note: String?

    public init(match: String, prune: PruneMethod? = nil, quantize: QuantFormat? = nil, note: String? = nil) {
        self.match = match
        self.prune = prune
        self.quantize = quantize
        self.note = note
    }
}

/// Prune names and bounds shared by the parser, resolver and writer, so the three cannot drift apart.
/// Quantization formats, their keys and bounds are the codecs' (`Codecs.all`).
enum PlanVocabulary {
    static let pruneMethods = ["none", "magnitude", "global_magnitude", "nm", "rows"]
    static let nmM = 2...32
}
