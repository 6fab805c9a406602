/// Finds the tensors in what a checkpoint's pickle made, and names them as PyTorch users know them: a state
/// dict's keys (`encoder.layer.0.weight`), nested containers joined with dots (`{"model": {...}}` gives
/// `model.…`; a top-level `state_dict` wrapper is dropped, as safetensors' converter does), list and tuple
/// items by index, TorchScript objects by their attribute names. Each container is walked once (a pickle can
/// share or nest them in cycles) and the depth is bounded.
enum TorchStateWalk {
    static let maxDepth = 200
    /// Values visited: tuples are values, so a pickle that nests one shared tuple in itself many times
    /// would otherwise make the walk exponential.
    static let maxVisits = 2 << 20

    static func tensors(in root: PickleValue) throws -> [(name: String, record: TorchTensorRecord)] {
        var out: [(name: String, record: TorchTensorRecord)] = []
        var seen = Set<ObjectIdentifier>()
        var visits = 0
        var start = root
        if case .dict(let d) = root, d.entries.count == 1, case .string("state_dict") = d.entries[0].key {
            start = d.entries[0].value
        }
        try walk(start, prefix: "", depth: 0, seen: &seen, visits: &visits, out: &out)
        return out
    }

    private static func join(_ prefix: String, _ part: String) -> String {
        prefix.isEmpty ? part : prefix + "." + part
    }

    private static func walk(_ v: PickleValue, prefix: String, depth: Int, seen: inout Set<ObjectIdentifier>, visits: inout Int,
                             out: inout [(name: String, record: TorchTensorRecord)]) throws {
        guard depth <= maxDepth else { throw TorchPickleError("containers nest deeper than \(maxDepth) levels") }
        visits += 1
        guard visits <= maxVisits else { throw TorchPickleError("the pickle holds more than \(maxVisits) values to walk") }
        switch v {
        case .tensor(let t):
            out.append((prefix, t))
        case .dict(let d):
            guard seen.insert(ObjectIdentifier(d)).inserted else { return }
            for (k, value) in d.entries {
                let part: String
                switch k {
                case .string(let s): part = s
                case .int(let i): part = String(i)
                default: continue
                }
                try walk(value, prefix: join(prefix, part), depth: depth + 1, seen: &seen, visits: &visits, out: &out)
            }
        case .list(let l):
            guard seen.insert(ObjectIdentifier(l)).inserted else { return }
            for (i, item) in l.items.enumerated() {
                try walk(item, prefix: join(prefix, String(i)), depth: depth + 1, seen: &seen, visits: &visits, out: &out)
            }
        case .tuple(let items, _):
            for (i, item) in items.enumerated() {
                try walk(item, prefix: join(prefix, String(i)), depth: depth + 1, seen: &seen, visits: &visits, out: &out)
            }
        case .object(let o):
            guard seen.insert(ObjectIdentifier(o)).inserted, let state = o.state else { return }
            try walk(state, prefix: prefix, depth: depth + 1, seen: &seen, visits: &visits, out: &out)
        default:
            return
        }
    }
}
