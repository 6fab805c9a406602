import WeightFormats

/// Everything that can be wrong with a plan, located precisely enough to fix without guessing: the plan file,
/// the field in JSON-path form (`rules[1].quantize.bits`, rules counted from 0), and why. The command line
/// prints `weightlab: ` + `description` and exits 2.
///
/// One error type for syntax, values and the checks that need the model's shapes, so callers handle plans
/// in one place and tests can assert on `field` rather than on wording.
public struct PlanError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The plan file (or `Plan.source` for a plan built in code).
    public let path: String
    /// The offending field, or "" when the problem is the whole file (unreadable, not JSON, not an object).
    public let field: String
    public let reason: String
    /// Further problems found in the same pass (shape checks look at every tensor), so a user fixes them all
    /// at once rather than one per run. `field` and `reason` are the first.
    public var others: [PlanError]

    public init(path: String, field: String, reason: String, others: [PlanError] = []) {
        self.path = path
        self.field = field
        self.reason = reason
        self.others = others
    }

    /// `<plan path>: <field>: <reason>` on one line (then `; <field>: <reason>` for each further problem); the
    /// path is escaped because it is untrusted text.
    public var description: String {
        let p = DisplayText.escaped(path)
        return (field.isEmpty ? "\(p): \(reason)" : "\(p): \(field): \(reason)")
            + others.map { "; " + ($0.field.isEmpty ? $0.reason : "\($0.field): \($0.reason)") }.joined()
    }
}

/// Builds the JSON-path-ish field names used in `PlanError.field`.
enum FieldPath {
    /// `parent.key`; keys that are not plain identifiers (they can only come from unknown keys) are quoted and
    /// escaped, so a hostile key cannot smuggle control characters or a fake path into the message.
    static func join(_ parent: String, _ key: String) -> String {
        let plain = !key.isEmpty && key.unicodeScalars.allSatisfy {
            ($0 >= "a" && $0 <= "z") || ($0 >= "A" && $0 <= "Z") || ($0 >= "0" && $0 <= "9") || $0 == "_"
        }
        let part = plain ? key : "[\"" + DisplayText.escaped(String(key.prefix(64))).replacingQuotes() + "\"]"
        if parent.isEmpty { return part }
        return plain ? parent + "." + part : parent + part
    }

    static func index(_ parent: String, _ i: Int) -> String { "\(parent)[\(i)]" }
}

extension String {
    fileprivate func replacingQuotes() -> String {
        var out = ""
        for ch in self { out += ch == "\"" ? "\\\"" : String(ch) }
        return out
    }
}
