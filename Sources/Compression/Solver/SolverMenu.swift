import WeightFormats

/// The options a budget solver may give each layer: settings (format, bits, granularity, pruning), one of
/// which every solved layer gets. An option that does not fit a layer's shape is skipped for that layer.
public struct SolverMenu: Hashable, Sendable {
    public var options: [LayerSettings]

    public init(_ options: [LayerSettings]) { self.options = options }

    /// Integer groups for safetensors and NumPy models (and anything not GGUF): the original weights, int8
    /// per channel, then narrower integers in groups down to 2 bits — twelve options.
    public static let integer = SolverMenu([
        .identity,
        q(.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)),
        q(.int(bits: 6, symmetric: true, granularity: .group(128), clip: .minmax)),
        q(.int(bits: 5, symmetric: true, granularity: .group(128), clip: .minmax)),
        q(.int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax)),
        q(.int(bits: 4, symmetric: true, granularity: .group(64), clip: .minmax)),
        q(.int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax)),
        q(.int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax)),
        q(.int(bits: 3, symmetric: false, granularity: .group(32), clip: .minmax)),
        q(.int(bits: 3, symmetric: false, granularity: .group(128), clip: .minmax)),
        q(.int(bits: 2, symmetric: false, granularity: .group(32), clip: .minmax)),
        q(.int(bits: 2, symmetric: false, granularity: .group(64), clip: .minmax)),
    ])

    /// ggml block types for GGUF models (what llama.cpp can load): the original, Q8_0, the k-quants, the
    /// legacy 4/5-bit types and IQ4_XS.
    public static let ggml = SolverMenu([.identity] + [
        GGMLType.q8_0, .q6_K, .q5_K, .q5_0, .q4_K, .iq4_XS, .q4_0, .q3_K, .q2_K,
    ].map { q(.gguf($0)) })

    /// The default menu for a model: ggml types for GGUF, integer groups otherwise.
    public static func `default`(for model: Model) -> SolverMenu {
        model.format == .gguf ? ggml : integer
    }

    /// Whether an option can be given to a tensor of `shape` in a plan: the kernels accept it and the plan
    /// resolver would not refuse it (groups must divide the rows, as plans require).
    public static func fits(_ option: LayerSettings, shape: [Int]) -> Bool {
        guard (try? LayerEvaluator.validate(option, shape: shape)) != nil else { return false }
        return option.quantize.codec?.misfit(shape) == nil
    }

    private static func q(_ f: QuantFormat) -> LayerSettings { LayerSettings(quantize: f) }

    /// Largest menu a file may hold: the option index is stored in 16 bits by the exact solver.
    public static let maximumOptions = 256

    /// Reads a menu file: a JSON array of options, or an object `{"menu": [...]}`; each option is
    /// `{"quantize": {...}, "prune": {...}}` spelt as in plans (either part may be left out; `{}` keeps the
    /// original weights).
    public static func load(path: String) throws(PlanError) -> SolverMenu {
        let bytes = try Plan.readFile(path, kind: "menu")
        let root: StrictJSON.Value
        do {
            root = try StrictJSON.parse(bytes)
        } catch {
            throw PlanError(path: path, field: "", reason: error.description)
        }
        let reader = PlanReader(file: path)
        if case .object = root {
            let o = try reader.object(root, at: "")
            try reader.allow(o, at: "", ["menu"])
            return SolverMenu(try reader.menu(try reader.required(o, "menu", at: ""), at: "menu"))
        }
        return SolverMenu(try reader.menu(root, at: ""))
    }

    /// The menu as JSON (an array of options), as a plan's `solve.menu` holds it.
    public var jsonText: String {
        "[" + options.map(PlanJSON.option).joined(separator: ", ") + "]"
    }
}

/// How a layer's error is counted when layers are traded against each other. Sums over layers must mean
/// something, so every measure is additive; SQNR in dB is not and is never summed.
public enum ErrorMeasure: String, CaseIterable, Sendable {
    /// Σ(w − ŵ)²: the model's total squared error, so minimising it maximises the total SQNR `report` prints.
    case mse
    /// Σ(w − ŵ)² / Σw² per layer: every layer counts by its relative error, whatever its size or scale.
    case relative
    /// Σ_c w_c·(x − x̂)² with the importance matrix's column weights (llama.cpp's imatrix error); layers
    /// without an entry count their plain squared error. Needs an importance matrix.
    case imatrix

    /// This measure's value for one evaluated option.
    public func error(_ e: LayerEvaluation) -> Double {
        let m = e.metrics
        switch self {
        case .mse: return m.sumSquaredError
        case .relative: return m.sumSquares > 0 ? m.sumSquaredError / m.sumSquares : m.sumSquaredError
        case .imatrix: return e.importanceError?.weightedError ?? m.sumSquaredError
        }
    }

    public static var names: String { allCases.map(\.rawValue).joined(separator: ", ") }
}

extension PlanReader {
    /// A menu: a non-empty array of options, each `{"prune": …, "quantize": …}`.
    func menu(_ v: Value, at field: String) throws(PlanError) -> [LayerSettings] {
        guard case .array(let items) = v else { throw fail(field, "expected an array of options, got \(describe(v))") }
        guard !items.isEmpty else { throw fail(field, "the menu is empty (give at least one option)") }
        guard items.count <= SolverMenu.maximumOptions else {
            throw fail(field, "\(items.count) options, more than \(SolverMenu.maximumOptions)")
        }
        var out: [LayerSettings] = []
        for (i, item) in items.enumerated() {
            let f = field.isEmpty ? "[\(i)]" : FieldPath.index(field, i)
            let o = try object(item, at: f)
            try allow(o, at: f, ["prune", "quantize"])
            var s = LayerSettings()
            s.prune = try o["prune"].map { (v) throws(PlanError) in try prune(v, at: FieldPath.join(f, "prune")) } ?? .none
            s.quantize = try o["quantize"].map { (v) throws(PlanError) in try quantize(v, at: FieldPath.join(f, "quantize")) } ?? .none
            if case .globalMagnitude = s.prune {
                throw fail(FieldPath.join(f, "prune"), "global_magnitude spans layers; a menu option acts on one layer (use magnitude)")
            }
            out.append(s)
        }
        return out
    }
}

extension PlanJSON {
    /// One menu option: `{"prune": …, "quantize": …}` with only the parts that do something.
    static func option(_ s: LayerSettings) -> String {
        "{" + sections(prune: s.prune == .none ? nil : s.prune, quantize: s.quantize == .none ? nil : s.quantize)
            .joined(separator: ", ") + "}"
    }
}
