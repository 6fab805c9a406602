import WeightFormats

extension Plan {
    public typealias TensorDescription = (name: String, dtype: DType, shape: [Int])

    /// The plan the workbench saves: the plan it opened (`base`) kept as the user wrote it — note, default,
    /// rules and their notes — with the edits made since expressed as few, general rules appended to it.
    /// With no edit the base comes back unchanged; with no base the default is the most common setting of
    /// the weight matrices.
    ///
    /// Edits are grouped by what they set; each group becomes one rule whose pattern names its tensors with
    /// runs of digits generalised (`^encoder\.layer\.[0-9]+\.attention\.self\.query\.weight$`) wherever the
    /// generalised pattern changes no other tensor, and exact names elsewhere. Changing the default instead
    /// is tried too, and the plan with fewer rules wins. The result is checked by resolving it; if it does not
    /// reproduce `settings`, one exact-name rule per edited tensor is used (`from(settings:)`), which always does.
    public static func saving(_ layers: [(tensor: TensorDescription, settings: LayerSettings)], over base: Plan?) -> Plan {
        let tensors = layers.map(\.tensor)
        let wanted = layers.map(\.settings)
        func resolved(_ plan: Plan, checked: Bool) -> [LayerSettings]? { resolvedSettings(plan, tensors, checked: checked) }
        var starts: [Plan] = []
        if let base, let now = resolved(base, checked: true) {
            if now == wanted { return base }
            starts.append(base)
            var newDefault = base
            newDefault.defaultSettings = commonDefault(layers)
            if newDefault.defaultSettings != base.defaultSettings { starts.append(newDefault) }
        } else {
            starts.append(Plan(defaultSettings: commonDefault(layers), note: base?.note, ignoreCase: base?.ignoreCase ?? false))
        }
        var best: Plan?
        for start in starts {
            guard let current = resolved(start, checked: false) else { continue }
            var plan = start
            plan.rules += generalRules(tensors: tensors, current: current, wanted: wanted, ignoreCase: start.ignoreCase)
            guard resolved(plan, checked: true) == wanted else { continue }
            if best == nil || plan.rules.count < best!.rules.count { best = plan }
        }
        if let best { return best }
        var exact = from(settings: layers)
        exact.note = base?.note
        return exact
    }

    /// The plan's settings for `tensors`, or nil when it does not resolve. Out of line, with a typed catch:
    /// the Swift 6.3 release optimiser crashes on typed-throws calls inlined into untyped handling.
    @inline(never)
    static func resolvedSettings(_ plan: Plan, _ tensors: [TensorDescription], checked: Bool) -> [LayerSettings]? {
        do throws(PlanError) {
            return try plan.resolution(for: tensors, strict: false, checkingShapes: checked).settings
        } catch {
            return nil
        }
    }

    /// The most common settings of the floating rank ≥ 2 tensors (ties: the first seen), as a default.
    static func commonDefault(_ layers: [(tensor: TensorDescription, settings: LayerSettings)]) -> PlanSection {
        var counts: [LayerSettings: Int] = [:]
        var firstSeen: [LayerSettings] = []
        for l in layers where l.tensor.dtype.isFloating && l.tensor.shape.count >= 2 {
            if counts[l.settings] == nil { firstSeen.append(l.settings) }
            counts[l.settings, default: 0] += 1
        }
        var common = LayerSettings.identity
        var best = 0
        for s in firstSeen where counts[s]! > best {
            common = s
            best = counts[s]!
        }
        return PlanSection(prune: common.prune == .none ? nil : common.prune,
                           quantize: common.quantize == .none ? nil : common.quantize)
    }

    /// Rules that take every floating tensor from `current` to `wanted`: one per distinct change.
    static func generalRules(tensors: [TensorDescription], current: [LayerSettings], wanted: [LayerSettings],
                             ignoreCase: Bool) -> [PlanRule] {
        struct Change: Hashable { var prune: PruneMethod?; var quantize: QuantFormat? }
        var order: [Change] = []
        var members: [Change: [Int]] = [:]
        for i in tensors.indices where tensors[i].dtype.isFloating && current[i] != wanted[i] {
            let c = Change(prune: current[i].prune == wanted[i].prune ? nil : wanted[i].prune,
                           quantize: current[i].quantize == wanted[i].quantize ? nil : wanted[i].quantize)
            if members[c] == nil { order.append(c) }
            members[c, default: []].append(i)
        }
        return order.map { change in
            // A generalised name may also match tensors outside the group: allowed when the change leaves
            // each of them as wanted. Worth it only when it covers more than the one name.
            func harmless(_ pattern: String) -> Bool {
                guard var regex = try? Regex(pattern) else { return false }
                if ignoreCase { regex = regex.ignoresCase() }
                var matched = 0
                for j in tensors.indices where tensors[j].name.contains(regex) {
                    matched += 1
                    guard tensors[j].dtype.isFloating else { continue }
                    var s = current[j]
                    if let p = change.prune { s.prune = p }
                    if let q = change.quantize { s.quantize = q }
                    if s != wanted[j] { return false }
                }
                return matched > 1
            }
            var stems: [String] = []
            for i in members[change]! {
                let general = generalisedName(tensors[i].name)
                let stem = general != escapedName(tensors[i].name) && harmless("^" + general + "$") ? general : escapedName(tensors[i].name)
                if !stems.contains(stem) { stems.append(stem) }
            }
            return PlanRule(match: alternation(stems), prune: change.prune, quantize: change.quantize)
        }
    }

    /// Why `pattern` cannot be a rule's `match` (not a valid expression, or one that can take exponential
    /// time), or nil.
    public static func patternProblem(_ pattern: String) -> String? { RegexCheck.problem(pattern) }

    /// The name with regular-expression metacharacters escaped (no anchors).
    public static func escapedName(_ name: String) -> String {
        String(exactNamePattern(name).dropFirst().dropLast())
    }

    /// The escaped name with every run of digits written `[0-9]+` (layer and block indices).
    static func generalisedName(_ name: String) -> String {
        var out = ""
        var inDigits = false
        for ch in escapedName(name) {
            if ch.isASCII && ch.isNumber {
                if !inDigits { out += "[0-9]+" }
                inDigits = true
            } else {
                out.append(ch)
                inDigits = false
            }
        }
        return out
    }

    /// `^stem$` for one stem; for several, their common leading and trailing name components stay outside one
    /// group: `^(conv[0-9]+|final_conv)\.weight$`.
    static func alternation(_ stems: [String]) -> String {
        guard stems.count > 1 else { return "^" + (stems.first ?? "") + "$" }
        let separator = "\\."
        let parts = stems.map { $0.components(separatedBy: separator) }
        var head = 0
        while parts.allSatisfy({ $0.count > head + 1 }) && Set(parts.map { $0[head] }).count == 1 { head += 1 }
        var tail = 0
        while parts.allSatisfy({ $0.count > head + tail + 1 }) && Set(parts.map { $0[$0.count - 1 - tail] }).count == 1 { tail += 1 }
        let prefix = parts[0].prefix(head).map { $0 + separator }.joined()
        let suffix = parts[0].suffix(tail).map { separator + $0 }.joined()
        let middles = parts.map { $0.dropFirst(head).dropLast(tail).joined(separator: separator) }
        return "^" + prefix + "(" + middles.joined(separator: "|") + ")" + suffix + "$"
    }
}
