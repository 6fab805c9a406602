import Foundation
import WeightFormats

/// An importance matrix checked against the model it is used with, once, before anything is evaluated or
/// written: every command (`report`, `apply`, `compare`, the workbench) loads it through here, so a wrong
/// file is one error naming the tensor instead of numbers quietly computed without weights.
///
/// Rules (llama-quantize's where it has them, `llamacpp_quantize_facts.md` §9):
/// - an entry is found by the tensor's name, or for a Hugging Face llama-family name by its GGUF name
///   (imatrix columns are the projection's inputs, which the converter never permutes);
/// - entries for tensors the model does not have are ignored (llama-imatrix records every matrix product;
///   a plan may quantize a subset), but a file with no entry for any matrix of the model is refused;
/// - an entry must have `columns × experts` values (experts: dimension 0 of a 3-D tensor, else 1), its
///   GGUF `counts` one per expert, and it must belong to a floating tensor of rank 2 or 3.
extension ImportanceMatrix {
    /// The name of `tensor`'s entry in this matrix, nil when it has none.
    public func entryName(for tensor: String) -> String? {
        if entries[tensor] != nil { return tensor }
        if let g = LlamaTensorNames.gguf(forHF: tensor), entries[g] != nil { return g }
        return nil
    }

    /// The tensor's weights (one per column, experts after one another), nil when it has no entry.
    public func weights(for tensor: Tensor) throws -> [Float]? {
        guard let name = entryName(for: tensor.name), let columns = tensor.shape.last else { return nil }
        return try weights(for: name, columns: columns, experts: tensor.shape.count == 3 ? tensor.shape[0] : 1)
    }

    /// Loads `path` (GGUF or legacy) and checks it against `model`.
    public static func load(path: String, for model: Model) throws -> ImportanceMatrix {
        let m = try load(path: path)
        try m.check(against: model)
        return m
    }

    /// Throws one `ModelError` for the first mismatch between this matrix and `model` (with how many more
    /// there are), naming the tensor.
    public func check(against model: Model) throws {
        var problems: [String] = []
        var matched = 0
        for t in model.tensors {
            guard let name = entryName(for: t.name), let values = entries[name] else { continue }
            let shown = DisplayText.escaped(t.name) + (name == t.name ? "" : " (entry '\(DisplayText.escaped(name))')")
            guard t.isFloating, t.shape.count == 2 || t.shape.count == 3, let columns = t.shape.last else {
                problems.append("tensor '\(shown)' \(t.shape) has an entry but is not a floating matrix")
                continue
            }
            let experts = t.shape.count == 3 ? t.shape[0] : 1
            if let n = matrices[name], n != experts {
                problems.append("tensor '\(shown)' \(t.shape) has \(experts) \(experts == 1 ? "matrix" : "matrices"), its entry counts \(n)")
            } else if values.count != columns * experts {
                problems.append("tensor '\(shown)' \(t.shape) needs \(columns * experts) values (\(columns) columns × \(experts)), its entry has \(values.count)")
            } else {
                matched += 1
            }
        }
        if let first = problems.first {
            throw ModelError(path, "imatrix does not fit the model: " + first + (problems.count > 1 ? " (and \(problems.count - 1) more)" : ""))
        }
        if matched == 0 {
            let sample = entries.keys.sorted().prefix(2).map { "'\(DisplayText.escaped($0))'" }.joined(separator: ", ")
            throw ModelError(path, "imatrix has no entry for any tensor of \(DisplayText.escaped(model.path)) (its entries are named like \(sample)): made for another model?")
        }
    }

    /// The importance matrix a command uses: `override` (a `--imatrix` path, relative to the working
    /// directory), else the plan's `imatrix` (relative to the plan file's directory), checked against `model`;
    /// nil when neither names one.
    public static func forCommand(override: String?, plan: Plan?, planPath: String?, model: Model) throws -> ImportanceMatrix? {
        if let override { return try load(path: override, for: model) }
        guard let p = plan?.imatrix else { return nil }
        return try load(path: resolve(p, besidePlan: planPath), for: model)
    }

    /// A `--imatrix` path made absolute, for the plan it is recorded in (a plan's relative path means
    /// beside the plan, an option's means the working directory).
    public static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// A plan's `imatrix` path: absolute as given, else relative to the plan's directory.
    public static func resolve(_ path: String, besidePlan planPath: String?) -> String {
        guard !path.hasPrefix("/"), let planPath else { return path }
        let dir = (planPath as NSString).deletingLastPathComponent
        return dir.isEmpty ? path : (dir as NSString).appendingPathComponent(path)
    }
}
