import WeightFormats

/// Settings an export target cannot hold (a container such as compressed-tensors, or a tool such as
/// llama-quantize that must reproduce the plan), listed together: one error for the whole plan, naming every
/// tensor, why, and the containers that can hold its setting.
public struct ExportRefusal: Error, Equatable, Sendable, CustomStringConvertible {
    public struct Item: Error, Equatable, Sendable {
        public var tensor: String
        /// The setting's label ("nf4 g64", "prune 2:4").
        public var setting: String
        public var reason: String
        /// Containers that hold the setting (empty: none says more than the reason).
        public var containers: [String]

        public init(tensor: String, setting: String, reason: String, containers: [String]) {
            self.tensor = tensor
            self.setting = setting
            self.reason = reason
            self.containers = containers
        }
    }

    /// "compressed-tensors", "llama-quantize".
    public var target: String
    /// "hold" (a container), "reproduce" (a tool).
    public var verb: String
    public var items: [Item]

    public init(target: String, verb: String = "hold", items: [Item]) {
        self.target = target
        self.verb = verb
        self.items = items
    }

    /// "compressed-tensors cannot hold the settings of 2 tensors: 'a.weight' (nf4 g64): …; can be written to
    /// safetensors (dequantized); …", at most 8 tensors named and the rest counted.
    public var description: String {
        let shown = items.prefix(8).map {
            "'\(DisplayText.escaped($0.tensor))' (\($0.setting)): \($0.reason)"
                + ($0.containers.isEmpty ? "" : "; can be written to \($0.containers.joined(separator: " or "))")
        }
        let more = items.count > 8 ? "; and \(items.count - 8) more" : ""
        return "\(target) cannot \(verb) the settings of \(items.count) tensor\(items.count == 1 ? "" : "s"): "
            + shown.joined(separator: "; ") + more
    }
}
