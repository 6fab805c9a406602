/// The managed objects of an HDF5 fractal heap ("FRHP"), where new-style groups keep their links, and objects
/// their attributes, once they outgrow compact storage (h5py with `libver="latest"` and more than 8 links or
/// attributes, or an attribute too large for the object header). Written from the HDF5 File
/// Format Specification 3.0, section III.G.
///
/// Objects are found by walking the heap's blocks, not through the v2 B-tree name index: each managed object
/// is a self-delimiting message (a Link or Attribute message), objects are packed from the start of each direct
/// block, and a zero byte where the next message's version would be marks the block's free space. The index
/// only speeds up lookups by name, which this reader does not need to list a group.
///
/// Bounds: every block address and size is checked against the file before it is read, blocks are visited
/// at most once (a cycle is an error), indirect blocks nest at most `HDF5File.maximumDepth` levels, and the
/// number of blocks is capped; nothing is allocated from a size the file declares without that check.
struct HDF5FractalHeap {
    let file: HDF5File
    let what: String
    let address: UInt64
    let flags: UInt8
    let tableWidth: Int
    let startingBlockSize: UInt64
    let maximumDirectBlockSize: UInt64
    /// Bytes of a block's "block offset" field: the heap's maximum size in bits, rounded up to bytes.
    let blockOffsetSize: Int
    let rootAddress: UInt64
    let rootRows: Int
    /// Objects stored in the heap's blocks, per its header: the walk stops after that many.
    let managedObjects: UInt64

    /// Blocks one heap walk visits at most.
    static let maximumBlocks = 1 << 20

    init(file: HDF5File, address: UInt64, what: String) throws {
        self.file = file
        self.what = what
        self.address = address
        let o = file.offsetSize, l = file.lengthSize
        let size = 4 + 1 + 2 + 2 + 1 + 4 + l + o + l + o + 8 * l + 2 + l + l + 2 + 2 + o + 2
        var c = file.cursor(try file.bytes(at: address, count: size, "\(what): fractal heap header"), "\(what): fractal heap header")
        guard Array(try c.take(4)) == Array("FRHP".utf8) else {
            throw ModelError(file.path, "\(what): no fractal heap header at address \(address)")
        }
        let version = try c.u8()
        guard version == 0 else { throw ModelError(file.path, "\(what): fractal heap version \(version) is not supported") }
        try c.skip(2)  // heap ID length
        let filterLength = try c.u16()
        guard filterLength == 0 else { throw ModelError(file.path, "\(what): filtered fractal heaps are not supported") }
        flags = try c.u8()
        try c.skip(4 + l + o + l + o + 3 * l)  // max managed size, huge-object and free-space bookkeeping
        managedObjects = try c.length()
        let hugeObjects = (try c.length(), try c.length())
        let tinyObjects = (try c.length(), try c.length())
        guard hugeObjects.1 == 0, tinyObjects.1 == 0 else {
            throw ModelError(file.path, "\(what): fractal heap with huge or tiny objects is not supported")
        }
        tableWidth = Int(try c.u16())
        startingBlockSize = try c.length()
        maximumDirectBlockSize = try c.length()
        let maximumHeapBits = Int(try c.u16())
        try c.skip(2)  // starting rows of the root indirect block
        rootAddress = try c.offset()
        rootRows = Int(try c.u16())
        blockOffsetSize = (maximumHeapBits + 7) / 8
        func isPowerOfTwo(_ v: UInt64) -> Bool { v != 0 && v & (v - 1) == 0 }
        guard tableWidth > 0, tableWidth <= 65_535, isPowerOfTwo(startingBlockSize), isPowerOfTwo(maximumDirectBlockSize),
              startingBlockSize <= maximumDirectBlockSize, maximumDirectBlockSize <= file.source.size,
              (1...64).contains(maximumHeapBits) else {
            throw ModelError(file.path, "\(what): fractal heap header at \(address) is malformed (width \(tableWidth), block sizes \(startingBlockSize)/\(maximumDirectBlockSize), \(maximumHeapBits) address bits)")
        }
    }

    /// The bytes of every direct block's object area, in heap order.
    func objectAreas() throws -> [[UInt8]] {
        guard rootAddress != HDF5Cursor.undefined else { return [] }
        var out: [[UInt8]] = []
        var visited = Set<UInt64>()
        if rootRows == 0 {
            try direct(rootAddress, size: startingBlockSize, into: &out, visited: &visited)
        } else {
            try indirect(rootAddress, rows: rootRows, depth: 0, into: &out, visited: &visited)
        }
        return out
    }

    private func rowBlockSize(_ row: Int) -> UInt64 {
        row == 0 ? startingBlockSize : startingBlockSize << UInt64(min(row - 1, 63))
    }

    private func log2(_ v: UInt64) -> Int { 63 - v.leadingZeroBitCount }

    private func visit(_ block: UInt64, _ visited: inout Set<UInt64>) throws {
        guard visited.insert(block).inserted else {
            throw ModelError(file.path, "\(what): fractal heap blocks form a cycle (block at \(block) reached twice)")
        }
        guard visited.count <= Self.maximumBlocks else {
            throw ModelError(file.path, "\(what): fractal heap has more than \(Self.maximumBlocks) blocks")
        }
    }

    private func direct(_ block: UInt64, size: UInt64, into out: inout [[UInt8]], visited: inout Set<UInt64>) throws {
        try visit(block, &visited)
        guard size <= maximumDirectBlockSize else {
            throw ModelError(file.path, "\(what): fractal heap direct block of \(size) bytes exceeds the heap's maximum")
        }
        let bytes = try file.bytes(at: block, count: Int(size), "\(what): fractal heap direct block")
        var c = file.cursor(bytes, "\(what): fractal heap direct block")
        guard Array(try c.take(4)) == Array("FHDB".utf8) else {
            throw ModelError(file.path, "\(what): no fractal heap direct block at address \(block)")
        }
        try c.skip(1)
        guard try c.offset() == address else {
            throw ModelError(file.path, "\(what): fractal heap direct block at \(block) belongs to another heap")
        }
        try c.skip(blockOffsetSize)
        if flags & 0x02 != 0 { try c.skip(4) }  // checksum of direct blocks
        out.append(Array(bytes[c.position...]))
    }

    private func indirect(_ block: UInt64, rows: Int, depth: Int, into out: inout [[UInt8]], visited: inout Set<UInt64>) throws {
        guard depth <= HDF5File.maximumDepth else {
            throw ModelError(file.path, "\(what): fractal heap indirect blocks nest deeper than \(HDF5File.maximumDepth) levels")
        }
        try visit(block, &visited)
        guard rows <= 64 else { throw ModelError(file.path, "\(what): fractal heap indirect block declares \(rows) rows") }
        // Rows of direct blocks first (as long as the row's block size fits a direct block), then indirect ones.
        let maxDirectRows = log2(maximumDirectBlockSize) - log2(startingBlockSize) + 2
        let directRows = min(rows, maxDirectRows)
        let entries = rows * tableWidth
        let size = 4 + 1 + file.offsetSize + blockOffsetSize + entries * file.offsetSize
        var c = file.cursor(try file.bytes(at: block, count: size, "\(what): fractal heap indirect block"), "\(what): fractal heap indirect block")
        guard Array(try c.take(4)) == Array("FHIB".utf8) else {
            throw ModelError(file.path, "\(what): no fractal heap indirect block at address \(block)")
        }
        try c.skip(1)
        guard try c.offset() == address else {
            throw ModelError(file.path, "\(what): fractal heap indirect block at \(block) belongs to another heap")
        }
        try c.skip(blockOffsetSize)
        for row in 0..<rows {
            for _ in 0..<tableWidth {
                let child = try c.offset()
                guard child != HDF5Cursor.undefined else { continue }
                if row < directRows {
                    try direct(child, size: rowBlockSize(row), into: &out, visited: &visited)
                } else {
                    // A child indirect block spans one row's size; its rows follow from that size.
                    let span = log2(rowBlockSize(row))
                    let childRows = span - log2(startingBlockSize) - log2(UInt64(tableWidth).nextPowerOfTwo) + 1
                    guard childRows > 0 else {
                        throw ModelError(file.path, "\(what): fractal heap indirect block at \(block) is malformed")
                    }
                    try indirect(child, rows: childRows, depth: depth + 1, into: &out, visited: &visited)
                }
            }
        }
    }

    /// The Link messages kept as this heap's managed objects (a dense group's links).
    func links() throws -> [HDF5Link] {
        try messages("links") { bytes in
            let link = try HDF5Link(bytes, file: file, what: what)
            return (link, link.encodedSize)
        }
    }

    /// The Attribute messages kept as this heap's managed objects (an object's dense attributes).
    func attributes() throws -> [HDF5Attribute] {
        try messages("attributes") { bytes in
            let size = try HDF5Attribute(bytes, file: file, what: what).encodedSize
            return (try HDF5Attribute(Array(bytes.prefix(size)), file: file, what: what), size)
        }
    }

    /// Messages packed from the start of each direct block, up to the object count the header declares.
    private func messages<T>(_ kind: String, _ parse: ([UInt8]) throws -> (T, Int)) throws -> [T] {
        var out: [T] = []
        for area in try objectAreas() {
            var at = 0
            while UInt64(out.count) < managedObjects, at < area.count, area[at] != 0 {
                let (message, size) = try parse(Array(area[at...]))
                guard size > 0 else { throw ModelError(file.path, "\(what): empty message in a fractal heap") }
                out.append(message)
                at += size
            }
        }
        guard UInt64(out.count) == managedObjects else {
            throw ModelError(file.path, "\(what): fractal heap holds \(out.count) \(kind), its header declares \(managedObjects)")
        }
        return out
    }
}

private extension UInt64 {
    var nextPowerOfTwo: UInt64 { self <= 1 ? 1 : UInt64(1) << UInt64(64 - (self - 1).leadingZeroBitCount) }
}
