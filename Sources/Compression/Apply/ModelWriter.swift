import WeightFormats

/// One output container of `weightlab apply`: the row of the model-writer table that says what it can hold
/// and writes it. A new container is one type conforming to this protocol and one row in `ModelWriters.all`.
///
/// Writers stream (a tensor at a time, row pieces across cores, see `ApplyJob`), write through `AtomicFile`,
/// and verify what they wrote before it is renamed into place (`ApplyJob.verify`).
public protocol ModelWriter {
    /// The `--to` name: `gguf`, `safetensors`.
    static var name: String { get }
    /// The output file's extension, for default output names.
    static var fileExtension: String { get }
    /// Why this container cannot be written from `model` at all (GGUF needs a GGUF input), or nil.
    static func refusal(for model: Model) -> String?
    /// Why this container cannot hold `settings` on `tensor` (e.g. NF4 in GGUF), or nil. The reason names
    /// the setting, not the tensor: tensors with the same reason are listed together.
    static func misfit(_ settings: LayerSettings, tensor: Tensor) -> String?
    /// Writes the model to `job.output` and returns what each tensor became.
    static func write(_ job: ApplyJob) throws -> [WrittenTensor]
    /// Whether the workbench's write prompt offers this container for the model at `modelPath`.
    static func offered(forModelAt modelPath: String) -> Bool
}

extension ModelWriter {
    /// Offered for every model by default; a container that rewrites its own format's input (ONNX) is not
    /// offered for other formats.
    public static func offered(forModelAt modelPath: String) -> Bool { true }
}

/// The table of output containers, in the order `--to` lists them.
public enum ModelWriters {
    public static let all: [any ModelWriter.Type] = [GGUFModelWriter.self, SafetensorsModelWriter.self, CompressedTensorsModelWriter.self,
                                                      ONNXModelWriter.self]

    public static var names: [String] { all.map { $0.name } }

    public static func named(_ name: String) -> (any ModelWriter.Type)? {
        all.first { $0.name == name.lowercased() }
    }

    /// The container a model goes to when `--to` is not given: its own format when a writer for it exists
    /// (GGUF stays GGUF), else safetensors.
    public static func defaultWriter(for model: Model, output: String) -> any ModelWriter.Type {
        if let byName = all.first(where: { output.hasSuffix("." + $0.fileExtension) && $0.refusal(for: model) == nil }) {
            return byName
        }
        if model.format == .gguf { return GGUFModelWriter.self }
        return SafetensorsModelWriter.self
    }

    /// The one error for settings a container cannot hold: each distinct reason with the tensors it concerns,
    /// and the containers that could hold them all.
    static func misfitError(_ writer: any ModelWriter.Type, model: Model, settings: [LayerSettings]) -> ApplyError? {
        var reasons: [(reason: String, tensors: [String])] = []
        var unfit: [Int] = []
        for (i, t) in model.tensors.enumerated() where !settings[i].isIdentity {
            guard let r = writer.misfit(settings[i], tensor: t) else { continue }
            unfit.append(i)
            if let k = reasons.firstIndex(where: { $0.reason == r }) {
                reasons[k].tensors.append(t.name)
            } else {
                reasons.append((r, [t.name]))
            }
        }
        guard !reasons.isEmpty else { return nil }
        let others = all.filter { w in
            w.name != writer.name && w.refusal(for: model) == nil
                && unfit.allSatisfy { w.misfit(settings[$0], tensor: model.tensors[$0]) == nil }
        }.map { $0.name }
        let parts = reasons.map { r -> String in
            let shown = r.tensors.prefix(3).map { "'\(DisplayText.escaped($0))'" }.joined(separator: ", ")
            let more = r.tensors.count > 3 ? " and \(r.tensors.count - 3) more" : ""
            return "\(r.reason) (tensor\(r.tensors.count == 1 ? "" : "s") \(shown)\(more))"
        }
        let hint = others.isEmpty ? "no container can hold these settings"
            : "use --to " + others.joined(separator: " or ") + ", which can hold them"
        return ApplyError(.plan, "\(writer.name) cannot hold " + parts.joined(separator: "; ") + "; " + hint)
    }
}

/// What one tensor became in the output.
public struct WrittenTensor: Equatable, Sendable {
    public var name: String
    /// The stored type: `Q4_0`, `F16`, …
    public var storedAs: String
    public var bytes: Int
    /// Copied byte for byte from the input.
    public var copied: Bool

    public init(name: String, storedAs: String, bytes: Int, copied: Bool) {
        self.name = name
        self.storedAs = storedAs
        self.bytes = bytes
        self.copied = copied
    }
}

/// Why `apply` wrote nothing. `.plan`: the request is wrong (a setting the container cannot hold, an output
/// that would replace an input); `.write`: writing or verifying failed (a full disk, a mismatch).
public struct ApplyError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable { case plan, write }
    public let kind: Kind
    public let message: String
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }
    public var description: String { message }
}
