import WeightFormats

extension Plan {
    /// One `LayerSettings` per tensor, in the given order (`.identity` for tensors left alone).
    ///
    /// This is where the checks that need the model happen: a group size, N:M `m` or ggml block that does not
    /// divide a tensor's last dimension, and a rule that matches no floating tensor (almost always a typo in
    /// the pattern, which would otherwise silently leave layers uncompressed). Errors name the field that set
    /// the offending value — the default or the rule that won for that tensor — and the tensor.
    /// `metadata` (the model's) tells a preset the architecture and its hyperparameters.
    public func resolve(for tensors: [Tensor], metadata: [(key: String, value: MetadataValue)] = []) throws(PlanError) -> [LayerSettings] {
        try resolve(for: tensors.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata)
    }

    /// As `resolve(for:)` on tensor descriptions, for callers (and tests) that have no tensor data.
    public func resolve(for tensors: [(name: String, dtype: DType, shape: [Int])],
                        metadata: [(key: String, value: MetadataValue)] = []) throws(PlanError) -> [LayerSettings] {
        let presetChoices = presetChoices(for: tensors, metadata: metadata)
        var patterns: [Regex<AnyRegexOutput>] = []
        for (i, rule) in rules.enumerated() {
            // Plans from `parse` are already checked; plans built in code are checked here.
            guard let r = RegexCheck.compile(rule.match) else {
                throw PlanError(path: source, field: FieldPath.join(FieldPath.index("rules", i), "match"),
                                reason: "invalid regular expression: \(RegexCheck.problem(rule.match) ?? "")")
            }
            patterns.append(r)
        }
        var matchedFloating = [Bool](repeating: false, count: rules.count)
        var matchedOther = [String?](repeating: nil, count: rules.count)
        var out: [LayerSettings] = []
        out.reserveCapacity(tensors.count)

        for t in tensors {
            guard t.dtype.isFloating else {
                for i in rules.indices where matchedOther[i] == nil && t.name.contains(patterns[i]) {
                    matchedOther[i] = t.name
                }
                out.append(.identity)
                continue
            }
            var prune: (value: PruneMethod, origin: String)?
            var quantize: (value: QuantFormat, origin: String)?
            if t.shape.count >= 2 {
                prune = defaultSettings.prune.map { ($0, "default") }
                quantize = defaultSettings.quantize.map { ($0, "default") }
            }
            if let choice = presetChoices?[t.name] { quantize = (choice.quantize, "preset") }
            for (i, rule) in rules.enumerated() where t.name.contains(patterns[i]) {
                matchedFloating[i] = true
                let origin = FieldPath.index("rules", i)
                if let p = rule.prune { prune = (p, origin) }
                if let q = rule.quantize { quantize = (q, origin) }
            }
            if let prune { try check(prune.value, from: prune.origin, on: t) }
            if let quantize { try check(quantize.value, from: quantize.origin, on: t) }
            out.append(LayerSettings(prune: prune?.value ?? .none, quantize: quantize?.value ?? .none))
        }

        for i in rules.indices where !matchedFloating[i] {
            let field = FieldPath.join(FieldPath.index("rules", i), "match")
            let pattern = "\"" + DisplayText.escaped(rules[i].match) + "\""
            if let other = matchedOther[i] {
                throw PlanError(path: source, field: field,
                                reason: "\(pattern) matches only integer or bool tensors (such as '\(DisplayText.escaped(other))'), which are never compressed")
            }
            throw PlanError(path: source, field: field, reason: "\(pattern) matches no tensor")
        }
        return out
    }

    /// Each floating tensor's type under the plan's preset (nil without one), as llama-quantize picks it.
    public func presetChoices(for tensors: [(name: String, dtype: DType, shape: [Int])],
                              metadata: [(key: String, value: MetadataValue)]) -> [String: PresetChoice]? {
        guard let preset else { return nil }
        let floating = tensors.filter { $0.dtype.isFloating }.map { (name: $0.name, shape: $0.shape) }
        let facts = LlamaModelFacts(metadata: metadata, tensors: floating)
        return LlamaTypeSelection.choose(preset, facts: facts, tensors: floating, hasImportance: imatrix != nil)
    }

    /// Shape constraints of a prune method: N:M works on runs of `m` along the last dimension.
    private func check(_ p: PruneMethod, from origin: String, on t: (name: String, dtype: DType, shape: [Int])) throws(PlanError) {
        if case .nm(_, let m) = p {
            try divides(m, t, field: origin + ".prune.m", what: "m = \(m)")
        }
    }

    /// Shape constraints of a quantization format, as its codec states them (groups and ggml blocks are runs
    /// along the last dimension).
    private func check(_ q: QuantFormat, from origin: String, on t: (name: String, dtype: DType, shape: [Int])) throws(PlanError) {
        guard let misfit = q.codec?.misfit(t.shape) else { return }
        throw PlanError(path: source, field: origin + ".quantize." + misfit.field, reason: misfit.reason + " of " + describe(t))
    }

    /// "tensor 'name' [a, b]" for messages.
    private func describe(_ t: (name: String, dtype: DType, shape: [Int])) -> String {
        "tensor '\(DisplayText.escaped(t.name))' [" + t.shape.map(String.init).joined(separator: ", ") + "]"
    }

    private func divides(_ k: Int, _ t: (name: String, dtype: DType, shape: [Int]), field: String, what: String) throws(PlanError) {
        if let misfit = CodecMisfit.divides(k, t.shape, field: "", what: what) {
            throw PlanError(path: source, field: field, reason: misfit.reason + " of " + describe(t))
        }
    }
}
