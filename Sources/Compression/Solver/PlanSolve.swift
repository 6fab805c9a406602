import WeightFormats

/// A plan's request for a solution (`"solve"`): each layer the plan's default applies to (floating, rank
/// ≥ 2) gets the menu option that minimises the model's total error within the target; pinned layers keep
/// what the plan's default and rules (and the pin's own sections) give them.
///
/// ```json
/// "solve": {"target": {"bpw": 4.5}, "menu": [{"quantize": {"format": "int", "bits": 4, "granularity": {"group": 128}}}, {}],
///           "error": "mse", "pin": ["embed", {"match": "lm_head", "quantize": {"format": "int", "bits": 8}}]}
/// ```
/// - `target`: exactly one of `bpw` (bits per weight over every parameter, > 0) or `size` (a string such as
///   `"3.5 GiB"`, or an integer number of bytes), for the whole model.
/// - `menu` (optional): options as in a menu file; without it the default menu for the model's family.
/// - `error` (optional, default `mse`): `mse`, `relative` or `imatrix` (needs the plan's `imatrix`).
/// - `pin` (optional): patterns, or rules with `match` and optional `prune`/`quantize` sections.
public struct PlanSolve: Equatable, Sendable {
    public enum Target: Equatable, Sendable {
        case bitsPerWeight(Double)
        case bytes(Int)
    }

    public var target: Target
    public var menu: SolverMenu?
    public var error: ErrorMeasure
    public var pin: [PlanRule]

    public init(target: Target, menu: SolverMenu? = nil, error: ErrorMeasure = .mse, pin: [PlanRule] = []) {
        self.target = target
        self.menu = menu
        self.error = error
        self.pin = pin
    }
}

extension PlanSolve.Target {
    /// The budget in bytes for a model of `parameters` parameters.
    public func bytes(parameters: Int) -> Int {
        switch self {
        case .bitsPerWeight(let b): Int((b * Double(parameters) / 8).rounded(.down))
        case .bytes(let n): n
        }
    }

    public var text: String {
        switch self {
        case .bitsPerWeight(let b): "\(b) bits per weight"
        case .bytes(let n): "\(n) bytes"
        }
    }
}

extension PlanReader {
    func solve(_ v: Value, at field: String) throws(PlanError) -> PlanSolve {
        let o = try object(v, at: field)
        try allow(o, at: field, ["target", "menu", "error", "pin"])
        let f = { (key: String) in FieldPath.join(field, key) }
        let t = try object(try required(o, "target", at: field), at: f("target"))
        try allow(t, at: f("target"), ["bpw", "size"])
        let target: PlanSolve.Target
        switch (t["bpw"], t["size"]) {
        case (let b?, nil):
            let bpw = try number(b, at: FieldPath.join(f("target"), "bpw"))
            guard bpw > 0 && bpw <= 64 else { throw fail(FieldPath.join(f("target"), "bpw"), "\(format(bpw)) is out of range 0 < bpw ≤ 64") }
            target = .bitsPerWeight(bpw)
        case (nil, let s?):
            let sf = FieldPath.join(f("target"), "size")
            switch s {
            case .string(let text):
                guard let n = ByteSize.parse(text), n > 0 else {
                    throw fail(sf, "\(quoted(text)) is not a size (write e.g. \"3.5 GiB\", \"900 MB\" or a number of bytes)")
                }
                target = .bytes(n)
            default:
                target = .bytes(try integer(s, at: sf, in: 1...Int.max))
            }
        default:
            throw fail(f("target"), "needs exactly one of bpw or size")
        }
        var solve = PlanSolve(target: target)
        solve.menu = try o["menu"].map { (v) throws(PlanError) in SolverMenu(try menu(v, at: f("menu"))) }
        if o["error"] != nil {
            solve.error = ErrorMeasure(rawValue: try choice(o, "error", at: field, ErrorMeasure.allCases.map(\.rawValue)))!
        }
        if let p = o["pin"] {
            guard case .array(let items) = p else { throw fail(f("pin"), "expected an array of patterns or rules, got \(describe(p))") }
            for (i, item) in items.enumerated() {
                let at = FieldPath.index(f("pin"), i)
                if case .string(let pattern) = item {
                    if let problem = RegexCheck.problem(pattern) { throw fail(at, "invalid regular expression: \(problem)") }
                    solve.pin.append(PlanRule(match: pattern))
                    continue
                }
                let r = try object(item, at: at)
                try allow(r, at: at, ["match", "note", "prune", "quantize"])
                let pattern = try string(try required(r, "match", at: at), at: FieldPath.join(at, "match"))
                if let problem = RegexCheck.problem(pattern) { throw fail(FieldPath.join(at, "match"), "invalid regular expression: \(problem)") }
                var rule = PlanRule(match: pattern)
                rule.note = try r["note"].map { (v) throws(PlanError) in try string(v, at: FieldPath.join(at, "note")) }
                rule.prune = try r["prune"].map { (v) throws(PlanError) in try prune(v, at: FieldPath.join(at, "prune")) }
                rule.quantize = try r["quantize"].map { (v) throws(PlanError) in try quantize(v, at: FieldPath.join(at, "quantize")) }
                solve.pin.append(rule)
            }
        }
        return solve
    }
}

extension PlanJSON {
    static func solve(_ s: PlanSolve) -> String {
        var fields: [(String, String)] = []
        switch s.target {
        case .bitsPerWeight(let b): fields.append(("target", object([("bpw", number(b))])))
        case .bytes(let n): fields.append(("target", object([("size", "\(n)")])))
        }
        if let menu = s.menu { fields.append(("menu", menu.jsonText)) }
        fields.append(("error", string(s.error.rawValue)))
        if !s.pin.isEmpty {
            fields.append(("pin", "[" + s.pin.map { r in
                r.prune == nil && r.quantize == nil && r.note == nil ? string(r.match) : rule(r)
            }.joined(separator: ", ") + "]"))
        }
        return object(fields)
    }
}

extension Plan {
    /// What solving starts from: every tensor's settings from the default and rules (pins' sections applied
    /// last), and which tensors are pinned. Pin patterns that match no floating tensor are warnings.
    public func solveBase(for tensors: [(name: String, dtype: DType, shape: [Int])],
                          metadata: [(key: String, value: MetadataValue)] = [],
                          strict: Bool) throws(PlanError) -> (resolution: PlanResolution, pinned: [Bool]) {
        let pins = solve?.pin ?? []
        var base = self
        base.solve = nil
        base.rules += pins.filter { $0.prune != nil || $0.quantize != nil }
        var resolution = try base.resolution(for: tensors, metadata: metadata, strict: strict, checkingShapes: true)
        // Warnings about pin rules carry the resolver's rule index; name them as pins instead.
        resolution.warnings = resolution.warnings.filter { w in
            !(rules.count..<base.rules.count).contains { w.field.hasPrefix(FieldPath.index("rules", $0) + ".") }
        }
        var pinned = [Bool](repeating: false, count: tensors.count)
        for (i, pin) in pins.enumerated() {
            guard var r = RegexCheck.compile(pin.match) else {
                throw PlanError(path: source, field: FieldPath.index("solve.pin", i), reason: "invalid regular expression")
            }
            if ignoreCase { r = r.ignoresCase() }
            var matched = false
            for (k, t) in tensors.enumerated() where t.dtype.isFloating && t.name.contains(r) {
                pinned[k] = true
                matched = true
            }
            if !matched {
                let w = PlanError(path: source, field: FieldPath.index("solve.pin", i),
                                  reason: "\"\(DisplayText.escaped(pin.match))\" matches no tensor")
                if strict { throw w }
                resolution.warnings.append(w)
            }
        }
        return (resolution, pinned)
    }
}
