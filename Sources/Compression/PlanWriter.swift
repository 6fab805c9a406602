import WeightFormats

extension Plan {
    /// The plan as a file: fixed key order, one line per section and per rule (so diffs of saved plans show
    /// exactly which rule changed), every field written out including defaults (so a saved plan does not
    /// depend on this program's defaults), and a trailing newline. `parse(jsonText())` gives back `self`.
    public func jsonText() -> String {
        var lines = ["{", "  \"version\": \(Plan.version),"]
        if let note { lines.append("  \"note\": \(PlanJSON.string(note)),") }
        if ignoreCase { lines.append("  \"ignore_case\": true,") }
        if let preset { lines.append("  \"preset\": \(PlanJSON.string(preset.rawValue)),") }
        if let imatrix { lines.append("  \"imatrix\": \(PlanJSON.string(imatrix)),") }
        if let solve { lines.append("  \"solve\": \(PlanJSON.solve(solve)),") }
        if let distill { lines.append("  \"distill\": \(distill.jsonText),") }
        let d = PlanJSON.sections(prune: defaultSettings.prune, quantize: defaultSettings.quantize)
        if d.isEmpty {
            lines.append("  \"default\": {},")
        } else {
            lines.append("  \"default\": {")
            lines.append(d.map { "    " + $0 }.joined(separator: ",\n"))
            lines.append("  },")
        }
        if rules.isEmpty {
            lines.append("  \"rules\": []")
        } else {
            lines.append("  \"rules\": [")
            lines.append(rules.map { "    " + PlanJSON.rule($0) }.joined(separator: ",\n"))
            lines.append("  ]")
        }
        lines.append("}")
        return lines.joined(separator: "\n") + "\n"
    }

    /// A plan that reproduces per-tensor settings (the workbench's "save current settings").
    ///
    /// The default is the most common setting among the rank ≥ 2 floating tensors (ties: the first seen), and
    /// each floating tensor whose settings differ from what the default gives it gets an exact-name rule
    /// (`^name$`, regex characters escaped) setting only the sections that differ. Integer and bool tensors
    /// are skipped (they are never compressed). Resolving the plan against the same tensors gives back the
    /// same settings.
    public static func from(settings: [(tensor: (name: String, dtype: DType, shape: [Int]), settings: LayerSettings)]) -> Plan {
        let layers = settings.filter { $0.tensor.dtype.isFloating }
        var plan = Plan()
        plan.defaultSettings = commonDefault(layers)
        let common = LayerSettings(prune: plan.defaultSettings.prune ?? .none, quantize: plan.defaultSettings.quantize ?? .none)
        for l in layers {
            let inherited = l.tensor.shape.count >= 2 ? common : .identity
            guard l.settings != inherited else { continue }
            plan.rules.append(PlanRule(match: exactNamePattern(l.tensor.name),
                                       prune: l.settings.prune == inherited.prune ? nil : l.settings.prune,
                                       quantize: l.settings.quantize == inherited.quantize ? nil : l.settings.quantize))
        }
        return plan
    }

    /// As `from(settings:)` when only names are known: every tensor is treated as a floating weight matrix,
    /// so pass floating tensors only (a rule for an integer tensor would match no floating tensor).
    public static func from(settings: [(name: String, settings: LayerSettings)]) -> Plan {
        from(settings: settings.map { (tensor: (name: $0.name, dtype: DType.float32, shape: [1, 1]), settings: $0.settings) })
    }

    /// `^name$` with every regular-expression metacharacter escaped, so the rule matches that name only.
    public static func exactNamePattern(_ name: String) -> String {
        var out = "^"
        for scalar in name.unicodeScalars {
            if "\\^$.|?*+()[]{}".unicodeScalars.contains(scalar) { out += "\\" }
            out.unicodeScalars.append(scalar)
        }
        return out + "$"
    }
}

/// JSON spelling of plan values; the inverse of `PlanReader`.
enum PlanJSON {
    static func rule(_ r: PlanRule) -> String {
        var fields = ["\"match\": " + string(r.match)]
        if let note = r.note { fields.append("\"note\": " + string(note)) }
        fields += sections(prune: r.prune, quantize: r.quantize)
        return "{" + fields.joined(separator: ", ") + "}"
    }

    static func sections(prune: PruneMethod?, quantize: QuantFormat?) -> [String] {
        var out: [String] = []
        if let prune { out.append("\"prune\": " + self.prune(prune)) }
        if let quantize { out.append("\"quantize\": " + self.quantize(quantize)) }
        return out
    }

    static func prune(_ p: PruneMethod) -> String {
        switch p {
        case .none: object([("method", string("none"))])
        case .threshold(let t): object([("method", string("magnitude")), ("threshold", number(t))])
        case .sparsity(let s): object([("method", string("magnitude")), ("sparsity", number(s))])
        case .globalMagnitude(let s): object([("method", string("global_magnitude")), ("sparsity", number(s))])
        case .nm(let n, let m): object([("method", string("nm")), ("n", "\(n)"), ("m", "\(m)")])
        case .rows(let norm, let s): object([("method", string("rows")), ("norm", string(norm.rawValue)), ("sparsity", number(s))])
        }
    }

    static func quantize(_ q: QuantFormat) -> String {
        guard let codec = q.codec else { return object([("format", string("none"))]) }
        return object([("format", string(codec.planFormat))] + codec.planValues.map { ($0.key, $0.json) })
    }

    static func granularity(_ g: Granularity) -> String {
        switch g {
        case .tensor: string("tensor")
        case .channel: string("channel")
        case .group(let n): object([("group", "\(n)")])
        }
    }

    static func clip(_ c: Clipping) -> String {
        switch c {
        case .minmax: string("minmax")
        case .mse: string("mse")
        case .percentile(let p): object([("percentile", number(p))])
        }
    }

    static func object(_ members: [(String, String)]) -> String {
        "{" + members.map { string($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }

    /// Swift prints the shortest text that reads back as the same Double (`0.02`, `1e-05`), which is valid
    /// JSON for every finite value; plans hold no non-finite numbers.
    static func number(_ d: Double) -> String {
        "\(d)"
    }

    static func string(_ s: String) -> String { JSONText.quoted(s) }
}
