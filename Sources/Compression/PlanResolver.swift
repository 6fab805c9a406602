import WeightFormats

/// A plan resolved against one model: the settings per tensor, and what the user should hear about without
/// the plan being refused.
public struct PlanResolution: Equatable, Sendable {
    /// One per tensor, in the model's order (`.identity` for tensors left alone).
    public var settings: [LayerSettings]
    /// Rules that matched no floating tensor of this model (errors with `strict`). A plan written for one
    /// model often names tensors another model lacks, so this alone does not refuse the plan.
    public var warnings: [PlanError]
    /// Tensors the default or a rule would have applied to but left alone, and why, so no layer is skipped
    /// silently.
    public var skipped: [PlanSkip]
}

/// A tensor a plan's default or rule did not compress, and why.
public struct PlanSkip: Equatable, Sendable {
    public var tensor: String
    /// `default` or `rules[i]`.
    public var by: String
    public var reason: String

    public init(tensor: String, by: String, reason: String) {
        self.tensor = tensor
        self.by = by
        self.reason = reason
    }

    /// Why the default leaves vectors and scalars alone (they are few bytes and sensitive).
    public static let belowRankTwo = "vectors and scalars (biases, norms) are not compressed by the default; a rule can include them"

    /// Groups of skipped tensors with one `by` and `reason`, in first-seen order, as lines for people:
    /// `default skipped conv1.bias, conv2.bias, … (7 tensors): <reason>`. At most `limit` names per line.
    public static func summary(_ skips: [PlanSkip], limit: Int = 6) -> [String] {
        var order: [String] = []
        var groups: [String: (by: String, reason: String, names: [String])] = [:]
        for s in skips {
            let key = s.by + "\u{0}" + s.reason
            if groups[key] == nil { order.append(key); groups[key] = (s.by, s.reason, []) }
            groups[key]!.names.append(DisplayText.escaped(s.tensor))
        }
        return order.map { key in
            let g = groups[key]!
            let shown = g.names.prefix(limit).joined(separator: ", ") + (g.names.count > limit ? ", …" : "")
            let count = g.names.count == 1 ? "" : " (\(g.names.count) tensors)"
            return "\(g.by) skipped \(shown)\(count): \(g.reason)"
        }
    }
}

extension Plan {
    /// One `LayerSettings` per tensor, in the given order (`.identity` for tensors left alone).
    ///
    /// This is where the checks that need the model happen: a group size, N:M `m` or ggml block that does not
    /// divide a tensor's last dimension (every offender is listed in one error), and with `strict` a rule that
    /// matches no floating tensor (otherwise a warning, see `resolution(for:strict:)`). Errors name the field
    /// that set the offending value — the default or the rule that won for that tensor — and the tensor.
    /// `metadata` (the model's) tells a preset the architecture and its hyperparameters.
    public func resolve(for tensors: [Tensor], metadata: [(key: String, value: MetadataValue)] = [],
                        strict: Bool = false) throws(PlanError) -> [LayerSettings] {
        try resolution(for: tensors.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata,
                       strict: strict).settings
    }

    /// As `resolve(for:)` on tensor descriptions, for callers (and tests) that have no tensor data.
    public func resolve(for tensors: [(name: String, dtype: DType, shape: [Int])],
                        metadata: [(key: String, value: MetadataValue)] = [], strict: Bool = false) throws(PlanError) -> [LayerSettings] {
        try resolution(for: tensors, metadata: metadata, strict: strict).settings
    }

    /// The settings with the warnings and skipped tensors the user should be told about.
    public func resolution(for tensors: [Tensor], metadata: [(key: String, value: MetadataValue)] = [],
                           strict: Bool = false) throws(PlanError) -> PlanResolution {
        try resolution(for: tensors.map { (name: $0.name, dtype: $0.dtype, shape: $0.shape) }, metadata: metadata,
                       strict: strict)
    }

    public func resolution(for tensors: [(name: String, dtype: DType, shape: [Int])],
                           metadata: [(key: String, value: MetadataValue)] = [], strict: Bool = false) throws(PlanError) -> PlanResolution {
        try resolution(for: tensors, metadata: metadata, strict: strict, checkingShapes: true)
    }

    /// With `checkingShapes` false, a value that does not fit a tensor is returned as it is (for the saver,
    /// which compares candidate plans before a later rule overrides the misfit).
    func resolution(for tensors: [(name: String, dtype: DType, shape: [Int])],
                    metadata: [(key: String, value: MetadataValue)] = [], strict: Bool,
                    checkingShapes: Bool) throws(PlanError) -> PlanResolution {
        if let p = presetNeedingImportance {
            throw PlanError(path: source, field: "preset", reason: ImportanceRequirement.presetReason(p, hasImportance: imatrix != nil))
        }
        if let preset, preset.requiresImportance, imatrix == nil {
            throw PlanError(path: source, field: "preset", reason: ImportanceRequirement.presetReason(preset.rawValue, hasImportance: false))
        }
        let presetChoices = presetChoices(for: tensors, metadata: metadata)
        let patterns = try compiledPatterns()
        var matchedFloating = [Bool](repeating: false, count: rules.count)
        var matchedOther = [String?](repeating: nil, count: rules.count)
        var out: [LayerSettings] = []
        var skipped: [PlanSkip] = []
        var problems: [(field: String, reason: String, tensor: String)] = []
        out.reserveCapacity(tensors.count)
        let defaultSetsSomething = defaultSettings.prune != nil || defaultSettings.quantize != nil

        for t in tensors {
            guard t.dtype.isFloating else {
                var by: String? = t.shape.count >= 2 && defaultSetsSomething ? "default" : nil
                for i in rules.indices where t.name.contains(patterns[i]) {
                    if matchedOther[i] == nil { matchedOther[i] = t.name }
                    by = FieldPath.index("rules", i)
                }
                if let by {
                    skipped.append(PlanSkip(tensor: t.name, by: by, reason: "\(t.dtype.withArticle) tensor is never compressed"))
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
            var ruled = false
            for (i, rule) in rules.enumerated() where t.name.contains(patterns[i]) {
                matchedFloating[i] = true
                ruled = true
                let origin = FieldPath.index("rules", i)
                if let p = rule.prune { prune = (p, origin) }
                if let q = rule.quantize { quantize = (q, origin) }
            }
            if t.shape.count < 2 && defaultSetsSomething && !ruled {
                skipped.append(PlanSkip(tensor: t.name, by: "default", reason: PlanSkip.belowRankTwo))
            }
            if checkingShapes, let prune, let p = check(prune.value, from: prune.origin, on: t) { problems.append((p.field, p.reason, describe(t))) }
            if checkingShapes, let quantize, let p = check(quantize.value, from: quantize.origin, on: t) { problems.append((p.field, p.reason, describe(t))) }
            out.append(LayerSettings(prune: prune?.value ?? .none, quantize: quantize?.value ?? .none))
        }
        if let error = combined(problems) { throw error }

        var warnings: [PlanError] = []
        for i in rules.indices where !matchedFloating[i] {
            let field = FieldPath.join(FieldPath.index("rules", i), "match")
            let pattern = "\"" + DisplayText.escaped(rules[i].match) + "\""
            if let other = matchedOther[i] {
                warnings.append(PlanError(path: source, field: field,
                                          reason: "\(pattern) matches only integer or bool tensors (such as '\(DisplayText.escaped(other))'), which are never compressed"))
            } else {
                warnings.append(PlanError(path: source, field: field,
                                          reason: "\(pattern) matches no tensor" + (ignoreCase ? "" : " (names are matched case-sensitively; \"ignore_case\": true relaxes that)")))
            }
        }
        if strict, var first = warnings.first {
            first.others = Array(warnings.dropFirst())
            throw first
        }
        return PlanResolution(settings: out, warnings: warnings, skipped: skipped)
    }

    /// The rules' patterns, compiled with the plan's case option. Plans from `parse` are already checked;
    /// plans built in code are checked here.
    func compiledPatterns() throws(PlanError) -> [Regex<AnyRegexOutput>] {
        var patterns: [Regex<AnyRegexOutput>] = []
        for (i, rule) in rules.enumerated() {
            guard let r = RegexCheck.compile(rule.match) else {
                throw PlanError(path: source, field: FieldPath.join(FieldPath.index("rules", i), "match"),
                                reason: "invalid regular expression: \(RegexCheck.problem(rule.match) ?? "")")
            }
            patterns.append(ignoreCase ? r.ignoresCase() : r)
        }
        return patterns
    }

    /// Every shape problem in one error: one entry per field, each naming the first tensor in full and the
    /// further tensors the same field does not fit.
    private func combined(_ problems: [(field: String, reason: String, tensor: String)]) -> PlanError? {
        var order: [String] = []
        var byField: [String: (reason: String, more: [String])] = [:]
        for p in problems {
            if byField[p.field] == nil {
                order.append(p.field)
                byField[p.field] = (p.reason + " of " + p.tensor, [])
            } else {
                byField[p.field]!.more.append(p.tensor)
            }
        }
        let errors = order.map { f -> PlanError in
            let e = byField[f]!
            let more = e.more.isEmpty ? "" : "; also of " + e.more.joined(separator: ", ")
            return PlanError(path: source, field: f, reason: e.reason + more)
        }
        guard var first = errors.first else { return nil }
        first.others = Array(errors.dropFirst())
        return first
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
    private func check(_ p: PruneMethod, from origin: String, on t: (name: String, dtype: DType, shape: [Int])) -> CodecMisfit? {
        guard case .nm(_, let m) = p, let misfit = CodecMisfit.divides(m, t.shape, field: "", what: "m = \(m)") else { return nil }
        return CodecMisfit(field: origin + ".prune.m", reason: misfit.reason)
    }

    /// Shape constraints of a quantization format, as its codec states them (groups and ggml blocks are runs
    /// along the last dimension).
    private func check(_ q: QuantFormat, from origin: String, on t: (name: String, dtype: DType, shape: [Int])) -> CodecMisfit? {
        if case .gguf(let type) = q, imatrix == nil, ImportanceRequirement.requires(type, tensor: t.name) {
            return CodecMisfit(field: origin + ".quantize.type", reason: ImportanceRequirement.typeReason(type))
        }
        guard let misfit = q.codec?.misfit(t.shape) else { return nil }
        return CodecMisfit(field: origin + ".quantize." + misfit.field, reason: misfit.reason)
    }

    /// "tensor 'name' [a, b]" for messages.
    private func describe(_ t: (name: String, dtype: DType, shape: [Int])) -> String {
        "tensor '\(DisplayText.escaped(t.name))' [" + t.shape.map(String.init).joined(separator: ", ") + "]"
    }
}
