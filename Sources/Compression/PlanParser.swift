import WeightFormats

extension Plan {
    /// Parses a plan file's bytes, checking everything that does not depend on the model: syntax, keys,
    /// types, values and regular expressions. `path` is only used in errors.
    public static func parse(_ bytes: [UInt8], path: String) throws(PlanError) -> Plan {
        let root: StrictJSON.Value
        do {
            root = try StrictJSON.parse(bytes)
        } catch {
            throw PlanError(path: path, field: "", reason: error.description)
        }
        var plan = try PlanReader(file: path).plan(root)
        plan.source = path
        return plan
    }
}

/// Turns checked JSON into a `Plan`. Every check throws at the first problem in file order, naming its field.
/// Unknown keys are checked before missing ones, so a misspelt key is reported as itself, not as the key
/// it was meant to be; keys that exist only for another method or format are then named as such.
struct PlanReader {
    typealias Value = StrictJSON.Value
    let file: String

    func fail(_ field: String, _ reason: String) -> PlanError {
        PlanError(path: file, field: field, reason: reason)
    }

    func plan(_ root: Value) throws(PlanError) -> Plan {
        guard case .object = root else {
            throw fail("", "the plan must be a JSON object, got \(describe(root))")
        }
        let o = try object(root, at: "")
        try allow(o, at: "", ["version", "note", "ignore_case", "preset", "imatrix", "default", "rules", "solve", "distill"])
        guard let v = o["version"] else { throw fail("version", "missing (expected \(Plan.version))") }
        let version = try integer(v, at: "version")
        guard version == Plan.version else {
            throw fail("version", "\(version) is not supported (expected \(Plan.version))")
        }
        var plan = Plan()
        plan.note = try o["note"].map { (v) throws(PlanError) in try string(v, at: "note") }
        plan.ignoreCase = try o["ignore_case"].map { (v) throws(PlanError) in try bool(v, at: "ignore_case") } ?? false
        if let p = o["preset"] {
            let name = try string(p, at: "preset")
            if let preset = LlamaPreset(name: name) {
                plan.preset = preset
            } else if let needing = ImportanceRequirement.preset(named: name) {
                plan.presetNeedingImportance = needing
            } else {
                throw fail("preset", "unknown preset \"\(DisplayText.escaped(name))\" (expected one of \(LlamaPreset.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        plan.imatrix = try o["imatrix"].map { (v) throws(PlanError) in try string(v, at: "imatrix") }
        if plan.imatrix?.isEmpty == true { throw fail("imatrix", "empty path") }
        if let d = o["default"] {
            let s = try object(d, at: "default")
            try allow(s, at: "default", ["prune", "quantize"])
            plan.defaultSettings.prune = try s["prune"].map { (v) throws(PlanError) in try prune(v, at: "default.prune") }
            plan.defaultSettings.quantize = try s["quantize"].map { (v) throws(PlanError) in try quantize(v, at: "default.quantize") }
            if (plan.preset != nil || plan.presetNeedingImportance != nil) && plan.defaultSettings.quantize != nil {
                throw fail("default.quantize", "a plan with a preset takes every tensor's format from the preset; set formats in rules instead")
            }
        }
        if let r = o["rules"] {
            guard case .array(let items) = r else { throw fail("rules", "expected an array of rules, got \(describe(r))") }
            for (i, item) in items.enumerated() {
                plan.rules.append(try rule(item, at: FieldPath.index("rules", i)))
            }
        }
        plan.solve = try o["solve"].map { (v) throws(PlanError) in try solve(v, at: "solve") }
        plan.distill = try o["distill"].map { (v) throws(PlanError) in try distillation(v, at: "distill") }
        return plan
    }

    func rule(_ v: Value, at field: String) throws(PlanError) -> PlanRule {
        let o = try object(v, at: field)
        try allow(o, at: field, ["match", "note", "prune", "quantize"])
        guard let m = o["match"] else { throw fail(FieldPath.join(field, "match"), "missing (a regular expression for tensor names)") }
        let pattern = try string(m, at: FieldPath.join(field, "match"))
        if let problem = RegexCheck.problem(pattern) {
            throw fail(FieldPath.join(field, "match"), "invalid regular expression: \(problem)")
        }
        var rule = PlanRule(match: pattern)
        rule.note = try o["note"].map { (v) throws(PlanError) in try string(v, at: FieldPath.join(field, "note")) }
        rule.prune = try o["prune"].map { (v) throws(PlanError) in try prune(v, at: FieldPath.join(field, "prune")) }
        rule.quantize = try o["quantize"].map { (v) throws(PlanError) in try quantize(v, at: FieldPath.join(field, "quantize")) }
        if rule.prune == nil && rule.quantize == nil {
            throw fail(field, "the rule sets neither prune nor quantize")
        }
        return rule
    }

    // MARK: Sections

    func prune(_ v: Value, at field: String) throws(PlanError) -> PruneMethod {
        let o = try object(v, at: field)
        try allow(o, at: field, ["method", "threshold", "sparsity", "n", "m", "norm"])
        let method = try choice(o, "method", at: field, PlanVocabulary.pruneMethods)
        let f = { (key: String) in FieldPath.join(field, key) }
        switch method {
        case "none":
            try allow(o, at: field, ["method"], context: "method \"none\"")
            return .none
        case "magnitude":
            try allow(o, at: field, ["method", "threshold", "sparsity"], context: "method \"magnitude\"")
            switch (o["threshold"], o["sparsity"]) {
            case (let t?, nil):
                let t = try number(t, at: f("threshold"))
                guard t >= 0 else { throw fail(f("threshold"), "\(t) is negative (magnitudes below it are zeroed)") }
                return .threshold(t)
            case (nil, let s?):
                return .sparsity(try sparsity(s, at: f("sparsity")))
            default:
                throw fail(field, "method \"magnitude\" needs exactly one of threshold or sparsity")
            }
        case "global_magnitude":
            try allow(o, at: field, ["method", "sparsity"], context: "method \"global_magnitude\"")
            return .globalMagnitude(sparsity: try sparsity(try required(o, "sparsity", at: field), at: f("sparsity")))
        case "nm":
            try allow(o, at: field, ["method", "n", "m"], context: "method \"nm\"")
            let m = try integer(try required(o, "m", at: field), at: f("m"), in: PlanVocabulary.nmM)
            let n = try integer(try required(o, "n", at: field), at: f("n"), in: 1...(m - 1))
            return .nm(n: n, m: m)
        default: // rows
            try allow(o, at: field, ["method", "norm", "sparsity"], context: "method \"rows\"")
            let norm = try choice(o, "norm", at: field, ["l1", "l2"])
            let s = try sparsity(try required(o, "sparsity", at: field), at: f("sparsity"))
            return .rows(norm: RowNorm(rawValue: norm)!, sparsity: s)
        }
    }

    /// A quantize section: `format` picks the codec (`Codecs.all`), which reads its own keys.
    func quantize(_ v: Value, at field: String) throws(PlanError) -> QuantFormat {
        let o = try object(v, at: field)
        try allow(o, at: field, Codecs.planKeys)
        let format = try choice(o, "format", at: field, Codecs.planFormats)
        let context = "format \"\(format)\""
        guard let codec = Codecs.reading(format) else {   // "none"
            try allow(o, at: field, ["format"], context: context)
            return .none
        }
        try allow(o, at: field, ["format"] + codec.planKeys, context: context)
        return try codec.parse(format: format, PlanFields(reader: self, fields: o, path: field))
    }

    func granularity(_ v: Value, at field: String, groups: Bool) throws(PlanError) -> Granularity {
        let expected = groups ? "\"tensor\", \"channel\" or {\"group\": g}" : "\"tensor\" or \"channel\""
        switch v {
        case .string("tensor"): return .tensor
        case .string("channel"): return .channel
        case .object where groups:
            let o = try object(v, at: field)
            try allow(o, at: field, ["group"])
            return .group(try integer(try required(o, "group", at: field), at: FieldPath.join(field, "group"), in: CodecBounds.groupSize))
        case .string(let s):
            throw fail(field, "unknown granularity \(quoted(s)) (expected \(expected))")
        default:
            throw fail(field, "expected \(expected), got \(describe(v))")
        }
    }

    func clipping(_ v: Value, at field: String) throws(PlanError) -> Clipping {
        switch v {
        case .string("minmax"): return .minmax
        case .string("mse"): return .mse
        case .object:
            let o = try object(v, at: field)
            try allow(o, at: field, ["percentile"])
            let pf = FieldPath.join(field, "percentile")
            let p = try number(try required(o, "percentile", at: field), at: pf)
            guard p > 0 && p <= 100 else { throw fail(pf, "\(format(p)) is out of range 0 < p ≤ 100") }
            return .percentile(p)
        case .string(let s):
            throw fail(field, "unknown clipping \(quoted(s)) (expected \"minmax\", \"mse\" or {\"percentile\": p})")
        default:
            throw fail(field, "expected \"minmax\", \"mse\" or {\"percentile\": p}, got \(describe(v))")
        }
    }

    // MARK: Typed values

    /// An object's members by key, remembering file order for messages.
    struct Fields {
        var order: [String] = []
        var values: [String: Value] = [:]
        subscript(key: String) -> Value? { values[key] }
    }

    /// The members of an object, rejecting duplicate keys (which Foundation would silently collapse).
    func object(_ v: Value, at field: String) throws(PlanError) -> Fields {
        guard case .object(let members) = v else { throw fail(field, "expected an object, got \(describe(v))") }
        var out = Fields()
        for m in members {
            guard out.values[m.key] == nil else { throw fail(FieldPath.join(field, m.key), "duplicate key") }
            out.values[m.key] = m.value
            out.order.append(m.key)
        }
        return out
    }

    /// Rejects keys outside `keys`, reporting the first in file order.
    func allow(_ o: Fields, at field: String, _ keys: [String], context: String? = nil) throws(PlanError) {
        for key in o.order where !keys.contains(key) {
            let scope = context.map { " for \($0)" } ?? ""
            throw fail(FieldPath.join(field, key), "unknown key\(scope) (expected \(keys.joined(separator: ", ")))")
        }
    }

    func required(_ o: Fields, _ key: String, at field: String) throws(PlanError) -> Value {
        guard let v = o[key] else { throw fail(FieldPath.join(field, key), "missing") }
        return v
    }

    /// A string field whose value must be one of `options`.
    func choice(_ o: Fields, _ key: String, at field: String, _ options: [String]) throws(PlanError) -> String {
        let f = FieldPath.join(field, key)
        let list = options.joined(separator: ", ")
        guard let v = o[key] else { throw fail(f, "missing (expected one of \(list))") }
        let s = try string(v, at: f)
        guard options.contains(s) else { throw fail(f, "unknown value \(quoted(s)) (expected one of \(list))") }
        return s
    }

    func string(_ v: Value, at field: String) throws(PlanError) -> String {
        guard case .string(let s) = v else { throw fail(field, "expected a string, got \(describe(v))") }
        return s
    }

    func bool(_ v: Value, at field: String) throws(PlanError) -> Bool {
        guard case .bool(let b) = v else { throw fail(field, "expected true or false, got \(describe(v))") }
        return b
    }

    /// A finite number (any JSON number syntax).
    func number(_ v: Value, at field: String) throws(PlanError) -> Double {
        guard case .number(let text) = v else { throw fail(field, "expected a number, got \(describe(v))") }
        guard let d = Double(text), d.isFinite else { throw fail(field, "\(text) is not a finite number") }
        return d
    }

    /// An integer written as one: digits with an optional minus sign, nothing else.
    func integer(_ v: Value, at field: String, in range: ClosedRange<Int>? = nil) throws(PlanError) -> Int {
        guard case .number(let text) = v else { throw fail(field, "expected an integer, got \(describe(v))") }
        guard !text.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) else {
            throw fail(field, "expected an integer, got \(text)")
        }
        guard let i = Int(text) else { throw fail(field, "\(text) is too large") }
        if let range, !range.contains(i) {
            throw fail(field, "\(i) is out of range \(range.lowerBound)…\(range.upperBound)")
        }
        return i
    }

    func sparsity(_ v: Value, at field: String) throws(PlanError) -> Double {
        let s = try number(v, at: field)
        guard s >= 0 && s < 1 else {
            throw fail(field, "\(format(s)) is out of range 0 ≤ sparsity < 1 (a fraction of the weights)")
        }
        return s
    }

    // MARK: Messages

    func describe(_ v: Value) -> String {
        switch v {
        case .null: "null"
        case .bool(let b): b ? "true" : "false"
        case .number(let text): text
        case .string(let s): "the string " + quoted(s)
        case .array: "an array"
        case .object: "an object"
        }
    }

    /// A user-supplied string in a message: quoted, escaped, and cut short.
    func quoted(_ s: String) -> String {
        let cut = s.count > 40 ? String(s.prefix(40)) + "…" : s
        return "\"" + DisplayText.escaped(cut) + "\""
    }

    /// Numbers as the user would write them: `1` rather than `1.0`.
    func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int(d)) : "\(d)"
    }
}

/// Compiles patterns with Swift's `Regex` (which works on Linux without Foundation and gives one-line error
/// messages), so a bad pattern is reported at parse time rather than when the model is opened.
///
/// Swift's `Regex` is a backtracking matcher with no step limit, so a repeated group that itself repeats or
/// alternates (`(.*)*x`, `(a+)+$`, `(.|.)*x`) takes time exponential in the tensor name's length: one line
/// of a plan file hung `resolve` for good. Such patterns are refused here, before anything is matched.
enum RegexCheck {
    static func problem(_ pattern: String) -> String? {
        do {
            _ = try Regex(pattern)
        } catch {
            return DisplayText.escaped(String(describing: error))
        }
        if let group = nestedRepetition(pattern) {
            return "the group \"\(DisplayText.escaped(group))\" repeats and itself repeats or has alternatives, which can take exponential time to match; write it without nesting repetition"
        }
        return nil
    }

    /// The first group (as written, quantifier included) that is quantified and whose body holds a
    /// quantifier or an alternation, or nil. Escapes, `\Q…\E` quoting, `(?#…)` comments and character
    /// classes (nested too) are skipped; group-syntax `?` (`(?:`, `(?i)`, `(?<n>`) is not a quantifier.
    /// Only called on patterns `Regex` accepted.
    static func nestedRepetition(_ pattern: String) -> String? {
        let c = Array(pattern.unicodeScalars)
        struct Open { let start: Int; var risky: Bool }
        var stack: [Open] = []
        var i = 0
        func isQuantifier(_ k: Int) -> Bool {
            guard k < c.count else { return false }
            if c[k] == "*" || c[k] == "+" || c[k] == "?" { return true }
            // `{n}`, `{n,}`, `{n,m}`, `{,m}`: a brace followed by a digit or comma.
            return c[k] == "{" && k + 1 < c.count && (c[k + 1] == "," || ("0"..."9").contains(c[k + 1]))
        }
        func markRisky() { if !stack.isEmpty { stack[stack.count - 1].risky = true } }
        while i < c.count {
            let ch = c[i]
            switch ch {
            case "\\":
                if i + 1 < c.count, c[i + 1] == "Q" {          // \Q…\E: everything literal
                    i += 2
                    while i < c.count && !(c[i] == "\\" && i + 1 < c.count && c[i + 1] == "E") { i += 1 }
                    i += 2
                } else {
                    i += 2
                }
                continue
            case "[":
                var depth = 1
                i += 1
                if i < c.count, c[i] == "^" { i += 1 }
                if i < c.count, c[i] == "]" { i += 1 }       // a leading ] is literal
                while i < c.count && depth > 0 {
                    if c[i] == "\\" { i += 2; continue }
                    if c[i] == "[" { depth += 1 } else if c[i] == "]" { depth -= 1 }
                    i += 1
                }
                continue
            case "(":
                if i + 2 < c.count, c[i + 1] == "?", c[i + 2] == "#" {   // (?#comment)
                    while i < c.count && c[i] != ")" { i += 1 }
                    i += 1
                    continue
                }
                stack.append(Open(start: i, risky: false))
                i += 1
                if i < c.count, c[i] == "?" { i += 1 }        // group syntax, not a quantifier
                continue
            case ")":
                guard let open = stack.popLast() else { i += 1; continue }
                let quantified = isQuantifier(i + 1)
                if quantified && open.risky {
                    var end = i + 2
                    if c[i + 1] == "{" { while end < c.count && c[end - 1] != "}" { end += 1 } }
                    return String(String.UnicodeScalarView(c[open.start..<min(end, c.count)]))
                }
                if open.risky || quantified { markRisky() }    // the enclosing group now holds repetition
                i += 1
                continue
            case "|":
                markRisky()
            default:
                if isQuantifier(i) { markRisky() }
            }
            i += 1
        }
        return nil
    }

    static func compile(_ pattern: String) -> Regex<AnyRegexOutput>? {
        try? Regex(pattern)
    }
}
