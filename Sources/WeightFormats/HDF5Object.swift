/// A group or dataset of an HDF5 file, opened from its object header: its attributes, and for a group its
/// members, for a dataset its shape, type and data.
struct HDF5Object {
    let file: HDF5File
    let header: HDF5ObjectHeader
    /// The path from the root ("/model_weights/dense_1"), for messages.
    let path: String

    init(file: HDF5File, address: UInt64, path: String) throws {
        self.file = file
        self.header = try HDF5ObjectHeader(file: file, address: address)
        self.path = path
    }

    var what: String { "'\(DisplayText.escaped(path))'" }

    var isDataset: Bool { header.first(.layout) != nil }
    var isGroup: Bool { header.first(.symbolTable) != nil || header.first(.link) != nil || header.first(.linkInfo) != nil }

    // MARK: attributes

    func attributes() throws -> [HDF5Attribute] {
        var dense: [HDF5Attribute] = []
        if let info = header.first(.attributeInfo) {
            var c = file.cursor(info.data, "\(what): attribute info")
            try c.skip(1)
            let flags = try c.u8()
            if flags & 0x01 != 0 { try c.skip(2) }
            let heap = try c.offset()
            if heap != HDF5Cursor.undefined {
                // Dense storage: the attributes are Attribute messages inside a fractal heap.
                dense = try HDF5FractalHeap(file: file, address: heap, what: "\(what): attribute heap").attributes()
            }
        }
        return try dense + header.all(.attribute).map { m in
            if m.flags & 0x02 != 0 { throw ModelError(file.path, "\(what): shared attribute messages are not supported") }
            return try HDF5Attribute(m.data, file: file, what: what)
        }
    }

    func attribute(_ name: String) throws -> HDF5Attribute? {
        try attributes().first { $0.name == name }
    }

    /// A string or string-array attribute's values, or nil when absent or not strings.
    func strings(_ name: String) throws -> [String]? {
        try attribute(name)?.strings(file: file, what: what)
    }

    // MARK: groups

    /// The group's members, name and object header address, in the file's order (symbol tables keep names
    /// sorted; link messages keep insertion order).
    func members() throws -> [(name: String, address: UInt64)] {
        if let st = header.first(.symbolTable) {
            var c = file.cursor(st.data, "\(what): symbol table")
            let btree = try c.offset()
            let heap = try c.offset()
            return try symbolTableMembers(btree: btree, heap: heap)
        }
        if let info = header.first(.linkInfo) {
            var c = file.cursor(info.data, "\(what): link info")
            try c.skip(1)
            let flags = try c.u8()
            if flags & 0x01 != 0 { try c.skip(8) }
            let heap = try c.offset()
            if heap != HDF5Cursor.undefined {
                // Dense storage: the links are Link messages inside a fractal heap.
                return try HDF5FractalHeap(file: file, address: heap, what: "\(what): link heap").links()
                    .map { ($0.name, $0.address) }.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
            }
        }
        // Link messages keep insertion order; HDF5 (and h5py) list members by name, as symbol tables store them.
        return try header.all(.link).map { m in
            let link = try HDF5Link(m.data, file: file, what: what)
            return (link.name, link.address)
        }.sorted { Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)) }
    }

    /// The member objects named by a v1 B-tree of symbol table nodes and the local heap holding the names.
    private func symbolTableMembers(btree: UInt64, heap: UInt64) throws -> [(name: String, address: UInt64)] {
        var h = file.cursor(try file.bytes(at: heap, count: 8 + 2 * file.lengthSize + file.offsetSize, "\(what): local heap"), "\(what): local heap")
        guard Array(try h.take(4)) == Array("HEAP".utf8) else {
            throw ModelError(file.path, "\(what): no local heap at address \(heap)")
        }
        try h.skip(4)
        let heapSize = try h.length()
        _ = try h.length()
        let heapData = try h.offset()
        guard heapSize <= file.source.size else { throw ModelError(file.path, "\(what): local heap size \(heapSize) exceeds the file") }
        let names = try file.bytes(at: heapData, count: Int(heapSize), "\(what): local heap data")

        var out: [(name: String, address: UInt64)] = []
        var visited = Set<UInt64>()
        let entrySize = 2 * file.offsetSize + 4 + 4 + 16
        func walk(_ node: UInt64, depth: Int) throws {
            guard depth <= HDF5File.maximumDepth else {
                throw ModelError(file.path, "\(what): group B-tree deeper than \(HDF5File.maximumDepth) levels")
            }
            guard visited.insert(node).inserted else {
                throw ModelError(file.path, "\(what): group B-tree nodes form a cycle (node at \(node) reached twice)")
            }
            let head = try file.bytes(at: node, count: 8, "\(what): B-tree node")
            if head.starts(with: Array("SNOD".utf8)) {
                let count = Int(UInt16(head[6]) | UInt16(head[7]) << 8)
                var c = file.cursor(try file.bytes(at: node &+ 8, count: count * entrySize, "\(what): symbol table node"), "\(what): symbol table node")
                for _ in 0..<count {
                    let nameOffset = try c.offset()
                    let address = try c.offset()
                    try c.skip(24)
                    guard nameOffset < UInt64(names.count) else {
                        throw ModelError(file.path, "\(what): link name offset \(nameOffset) lies outside the local heap (\(names.count) bytes)")
                    }
                    let name = String(decoding: names[Int(nameOffset)...].prefix { $0 != 0 }, as: UTF8.self)
                    out.append((name, address))
                }
                return
            }
            guard head.starts(with: Array("TREE".utf8)), head[4] == 0 else {
                throw ModelError(file.path, "\(what): no group B-tree node at address \(node)")
            }
            let entries = Int(UInt16(head[6]) | UInt16(head[7]) << 8)
            // Left and right siblings, then keys (heap offsets) and children interleaved.
            let body = 2 * file.offsetSize + (entries + 1) * file.lengthSize + entries * file.offsetSize
            var c = file.cursor(try file.bytes(at: node &+ 8, count: body, "\(what): B-tree node"), "\(what): B-tree node")
            try c.skip(2 * file.offsetSize)
            var children: [UInt64] = []
            for _ in 0..<entries {
                _ = try c.length()
                children.append(try c.offset())
            }
            for child in children { try walk(child, depth: depth + 1) }
        }
        try walk(btree, depth: 0)
        return out
    }

    /// The member named `name`, or nil.
    func member(_ name: String) throws -> HDF5Object? {
        guard let m = try members().first(where: { $0.name == name }) else { return nil }
        return try HDF5Object(file: file, address: m.address, path: path == "/" ? "/" + name : path + "/" + name)
    }

    /// The object at a relative path ("a/b/c"), or nil when a component is missing. Bounded by the number of
    /// components (a path cannot loop).
    func object(at relative: String) throws -> HDF5Object? {
        var current = self
        for part in relative.split(separator: "/", omittingEmptySubsequences: true) {
            guard current.isGroup, let next = try current.member(String(part)) else { return nil }
            current = next
        }
        return current
    }
}
