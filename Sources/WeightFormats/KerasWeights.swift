/// The weights of a Keras HDF5 file, in whichever layout wrote it:
///
/// - legacy Keras `.h5` (`keras/src/legacy/saving/legacy_h5_format.py`): a `layer_names` attribute (on the
///   root for `save_weights`, on `model_weights` for a full model; split into `layer_names0`, `layer_names1`, …
///   when large), each layer group's `weight_names` giving dataset paths relative to it. Tensors are named by
///   that path (`<layer>/<weight name>`), in `layer_names` then `weight_names` order, as `load_weights` reads them.
///   TFMOT-pruned layers saved without `strip_pruning` carry `mask` variables beside their kernels: the kernel
///   is shown multiplied by its mask (its sparsity is the pruning), and the mask is not listed again.
/// - Keras 3 (`saving_lib.py` H5IOStore, inside `.keras` archives or `.weights.h5`): groups `…/vars` whose
///   attribute `name` is the layer's name and whose datasets `0`, `1`, … are its variables. Tensors are named
///   `<layer name>/<index>`, ordered as the layers appear in `config.json` when there is one.
/// - any other HDF5 file: every numeric dataset, named by its path.
///
/// config.json is read as inert JSON (names only); nothing in it is instantiated (CVE-2024-3660, CVE-2025-1550).
enum KerasWeights {
    struct Result {
        var tensors: [Tensor]
        var metadata: [(key: String, value: MetadataValue)]
    }

    static func read(_ file: HDF5File, layerOrder: [String] = []) throws -> Result {
        let root = try HDF5Object(file: file, address: file.rootAddress, path: "/")
        var metadata: [(key: String, value: MetadataValue)] = []
        for key in ["keras_version", "backend"] {
            if let v = try root.strings(key)?.first { metadata.append((key, .string(v))) }
        }
        if let (group, names) = try legacyLayers(root) {
            return Result(tensors: try legacyTensors(group, layers: names), metadata: metadata)
        }
        var vars: [(layer: String?, path: String, tensors: [(index: String, object: HDF5Object)])] = []
        var datasets: [HDF5Object] = []
        var visited = Set<UInt64>()
        try walk(root, ancestors: [], visited: &visited) { group in
            if group.path.hasSuffix("/vars") {
                let members = try group.members()
                let items = try members.map { m in
                    (index: m.name, object: try HDF5Object(file: file, address: m.address, path: group.path + "/" + m.name))
                }.filter { $0.object.isDataset }
                if !items.isEmpty {
                    vars.append((try group.strings("name")?.first, group.path, items.sorted { numericOrder($0.index, $1.index) }))
                }
                return false
            }
            return true
        } dataset: { datasets.append($0) }
        if !vars.isEmpty {
            // Layer names must be unique to name tensors; otherwise the group path is the name.
            var seen: [String: Int] = [:]
            for v in vars { if let l = v.layer { seen[l, default: 0] += 1 } }
            let rank = Dictionary(layerOrder.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
            let ordered = vars.enumerated().sorted { a, b in
                let ra = a.element.layer.flatMap { rank[$0] } ?? Int.max, rb = b.element.layer.flatMap { rank[$0] } ?? Int.max
                return (ra, a.offset) < (rb, b.offset)
            }.map(\.element)
            var tensors: [Tensor] = []
            for v in ordered {
                let prefix = v.layer.flatMap { seen[$0] == 1 ? $0 : nil } ?? String(v.path.dropFirst().dropLast(5))
                for item in v.tensors {
                    tensors.append(try HDF5Dataset.tensor(item.object, name: prefix + "/" + item.index))
                }
            }
            return Result(tensors: tensors, metadata: metadata)
        }
        var tensors: [Tensor] = []
        for d in datasets where try HDF5Dataset.holdsNumbers(d) {
            tensors.append(try HDF5Dataset.tensor(d, name: String(d.path.dropFirst())))
        }
        return Result(tensors: tensors, metadata: metadata)
    }

    /// "2" before "10": Keras 3 numbers variables `0`, `1`, … and symbol tables sort names as text.
    private static func numericOrder(_ a: String, _ b: String) -> Bool {
        if let x = Int(a), let y = Int(b) { return x < y }
        return a < b
    }

    /// Visits every group (depth first, file order) and dataset under `group`. `enter` says whether to walk
    /// into a group. A group that contains one of its ancestors is a cycle and an error; an object reached
    /// twice by different paths (a hard link) is visited once.
    private static func walk(_ group: HDF5Object, ancestors: Set<UInt64>, visited: inout Set<UInt64>,
                             _ enter: (HDF5Object) throws -> Bool, dataset: (HDF5Object) throws -> Void) throws {
        guard ancestors.count < HDF5File.maximumDepth else {
            throw ModelError(group.file.path, "\(group.what): groups nested deeper than \(HDF5File.maximumDepth) levels")
        }
        guard try enter(group) else { return }
        let inside = ancestors.union([group.header.address])
        for m in try group.members() {
            if inside.contains(m.address) {
                throw ModelError(group.file.path, "\(group.what): member '\(DisplayText.escaped(m.name))' links back to a group containing it (a cycle)")
            }
            guard visited.insert(m.address).inserted else { continue }
            let child = try HDF5Object(file: group.file, address: m.address, path: (group.path == "/" ? "" : group.path) + "/" + m.name)
            if child.isDataset {
                try dataset(child)
            } else if child.isGroup {
                try walk(child, ancestors: inside, visited: &visited, enter, dataset: dataset)
            }
        }
    }

    // MARK: legacy layout

    /// The group holding `layer_names` and the names, or nil when the file is not in the legacy layout.
    private static func legacyLayers(_ root: HDF5Object) throws -> (HDF5Object, [String])? {
        if let names = try splitStrings(root, "layer_names") { return (root, names) }
        if let mw = try root.member("model_weights"), let names = try splitStrings(mw, "layer_names") { return (mw, names) }
        return nil
    }

    /// A string-array attribute, or its chunks `<name>0`, `<name>1`, … joined (Keras splits attributes larger
    /// than HDF5's 64 KiB object header limit).
    private static func splitStrings(_ group: HDF5Object, _ name: String) throws -> [String]? {
        if let whole = try group.strings(name) { return whole }
        var out: [String] = []
        var k = 0
        while let part = try group.strings("\(name)\(k)") {
            out += part
            k += 1
        }
        return k > 0 ? out : nil
    }

    private static func legacyTensors(_ group: HDF5Object, layers: [String]) throws -> [Tensor] {
        var tensors: [Tensor] = []
        for layer in layers {
            guard let g = try group.member(layer) else {
                throw ModelError(group.file.path, "\(group.what): layer_names lists '\(DisplayText.escaped(layer))' but there is no such group")
            }
            let names = try splitStrings(g, "weight_names") ?? []
            var weights: [Tensor] = []
            for w in names {
                guard let d = try g.object(at: w), d.isDataset else {
                    throw ModelError(group.file.path, "\(g.what): weight_names lists '\(DisplayText.escaped(w))' but there is no such dataset")
                }
                weights.append(try HDF5Dataset.tensor(d, name: layer + "/" + w))
            }
            tensors += try PruningMasks.apply(weights)
        }
        return tensors
    }

    /// The layer names of a Keras config.json, in document order (every object's `config.name` beside a
    /// `class_name`), for ordering Keras 3 variables like the model.
    static func layerOrder(configJSON bytes: [UInt8], path: String) throws -> [String] {
        let json = try SafetensorsReader.parseJSON(bytes, "config.json", startingAtByte: nil, path: path)
        var out: [String] = []
        func visit(_ v: StrictJSON.Value) {
            switch v {
            case .object(let members):
                if members.contains(where: { $0.key == "class_name" }),
                   case .object(let config)? = members.first(where: { $0.key == "config" })?.value,
                   case .string(let name)? = config.first(where: { $0.key == "name" })?.value {
                    out.append(name)
                }
                for m in members { visit(m.value) }
            case .array(let items):
                for i in items { visit(i) }
            default:
                break
            }
        }
        visit(json)
        return out
    }
}
