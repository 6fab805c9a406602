import Foundation

/// An HDF5 dataset as a tensor. Contiguous data is read in place; compact data is copied from the header;
/// chunked data is assembled (chunks unfiltered: Fletcher-32 stripped, inflated, unshuffled) into memory on
/// first read. The dataspace's byte count is checked against what the file can hold before anything is
/// allocated: contiguous storage must match it exactly, and chunked storage may not declare more than
/// `maximumExpansion` times the file size nor more than `maximumChunkedBytes` (Keras' own "shape bomb" rule is
/// 1000x the stored bytes).
enum HDF5Dataset {
    static let maximumExpansion: UInt64 = 1000
    static let maximumChunkedBytes = 1 << 31

    /// Whether the dataset's type is one weightlab reads as a tensor (numbers, Keras' opaque bf16); strings
    /// and compound types are not weights.
    static func holdsNumbers(_ object: HDF5Object) throws -> Bool {
        guard let typeMessage = object.header.first(.datatype) else { return false }
        var tc = object.file.cursor(typeMessage.data, "\(object.what): datatype")
        let type = try HDF5Datatype.parse(&tc, file: object.file, what: object.what).0
        if case .opaque = type { return true }
        return type.dtype(opaqueName: nil) != nil
    }

    static func tensor(_ object: HDF5Object, name: String) throws -> Tensor {
        let file = object.file
        let what = object.what
        guard object.header.first(.externalFiles) == nil else {
            throw ModelError(file.path, "\(what): external dataset storage is not supported")
        }
        guard let spaceMessage = object.header.first(.dataspace), let typeMessage = object.header.first(.datatype),
              let layoutMessage = object.header.first(.layout) else {
            throw ModelError(file.path, "\(what): dataset lacks its dataspace, datatype or layout")
        }
        if typeMessage.flags & 0x02 != 0 {
            throw ModelError(file.path, "\(what): committed (shared) datatypes are not supported")
        }
        let space = try HDF5Dataspace(spaceMessage.data, file: file, what: what)
        var tc = file.cursor(typeMessage.data, "\(what): datatype")
        let type = try HDF5Datatype.parse(&tc, file: file, what: what).0
        let opaqueName = try object.strings("dtype")?.first
        guard let (dtype, order) = type.dtype(opaqueName: opaqueName) else {
            throw ModelError(file.path, "\(what): \(type.shortName) datasets are not weights weightlab reads")
        }
        guard let count = space.elementCount, let bytes = dtype.byteCount(elements: count) else {
            throw ModelError(file.path, "\(what): shape \(space.shape) overflows")
        }
        let layout = try HDF5Layout(layoutMessage.data, rank: space.shape.count, file: file, what: what)
        let filters = try object.header.first(.filters).map { try HDF5FilterPipeline($0.data, file: file, what: what) }
        let data: any ByteSource
        switch layout {
        case .compact(let raw):
            guard raw.count == bytes else {
                throw ModelError(file.path, "\(what): compact data holds \(raw.count) bytes, \(dtype) \(space.shape) needs \(bytes)")
            }
            data = MemorySource(raw, path: file.path)
        case .contiguous(let address, let size):
            if address == HDF5Cursor.undefined && bytes == 0 {
                data = MemorySource([], path: file.path)
            } else if address == HDF5Cursor.undefined {
                // Never written: HDF5 reads it as the fill value; Keras never leaves weights unwritten.
                throw ModelError(file.path, "\(what): dataset has no stored data")
            } else {
                guard filters?.filters.isEmpty ?? true else {
                    throw ModelError(file.path, "\(what): filters on contiguous data are not valid HDF5")
                }
                guard size == UInt64(bytes) else {
                    throw ModelError(file.path, "\(what): \(dtype) \(space.shape) needs \(bytes) bytes but its storage holds \(size)")
                }
                data = try file.slice(at: address, count: size, what)
            }
        case .chunked(let btree, let chunk):
            guard UInt64(bytes) <= max(1 << 20, maximumExpansion * file.source.size), bytes <= maximumChunkedBytes else {
                throw ModelError(file.path, "\(what): \(dtype) \(space.shape) declares \(bytes) bytes, far more than the file (\(file.source.size) bytes) can hold")
            }
            data = ChunkedDataSource(file: file, what: what, btree: btree, shape: space.shape, chunk: chunk,
                                     elementSize: dtype.blockBytes, filters: filters?.filters ?? [], size: bytes)
        }
        return try Tensor(name: name, dtype: dtype, shape: space.shape, data: data, byteOrder: order)
    }
}

/// The bytes of a chunked dataset, assembled on first read from the chunks its v1 B-tree lists.
final class ChunkedDataSource: ByteSource, @unchecked Sendable {
    let path: String
    let size: UInt64
    private let file: HDF5File
    private let what: String
    private let btree: UInt64
    private let shape: [Int]
    private let chunk: [Int]
    private let elementSize: Int
    private let filters: [HDF5FilterPipeline.Filter]
    private let lock = NSLock()
    private var assembled: [UInt8]?

    init(file: HDF5File, what: String, btree: UInt64, shape: [Int], chunk: [Int], elementSize: Int,
         filters: [HDF5FilterPipeline.Filter], size: Int) {
        self.file = file
        self.path = file.path
        self.what = what
        self.btree = btree
        self.shape = shape
        self.chunk = chunk
        self.elementSize = elementSize
        self.filters = filters
        self.size = UInt64(size)
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside \(size) bytes")
        }
        let all = try lock.withLock { () throws -> [UInt8] in
            if let assembled { return assembled }
            let made = try assemble()
            assembled = made
            return made
        }
        all.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + buffer.count)])) }
    }

    private func assemble() throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(size))
        guard let chunkElements = Shape.elementCount(chunk), chunkElements > 0,
              !chunkElements.multipliedReportingOverflow(by: elementSize).overflow else {
            throw ModelError(path, "\(what): chunk shape \(chunk) overflows")
        }
        let chunkBytes = chunkElements * elementSize
        // A chunk may overhang the dataset's edges, but not by orders of magnitude: each chunk is inflated
        // whole, so its size bounds the work one B-tree entry can cause.
        guard chunkBytes <= HDF5Dataset.maximumChunkedBytes, chunkBytes <= max(Int(size), 1 << 20) * 8 else {
            throw ModelError(path, "\(what): chunks of \(chunkBytes) bytes are too large for a dataset of \(size) bytes")
        }
        if btree == HDF5Cursor.undefined { return out }
        var visited = Set<UInt64>()
        var origins = Set<[Int]>()
        try walk(btree, depth: 0, visited: &visited) { origin, storedSize, mask, address in
            // Each chunk of the grid once: a B-tree listing a chunk again could make inflation work unbounded.
            guard origins.insert(origin).inserted else {
                throw ModelError(path, "\(what): chunk at \(origin) is listed twice")
            }
            let stored = try file.bytes(at: address, count: storedSize, "\(what): chunk at \(origin)")
            let raw = try unfilter(stored, mask: mask, chunkBytes: chunkBytes, origin: origin)
            try place(raw, at: origin, into: &out)
        }
        return out
    }

    /// Visits the chunks of the B-tree: each chunk's origin (element indices), stored size, filter mask and address.
    private func walk(_ node: UInt64, depth: Int, visited: inout Set<UInt64>,
                      _ visit: ([Int], Int, UInt32, UInt64) throws -> Void) throws {
        guard depth <= HDF5File.maximumDepth else {
            throw ModelError(path, "\(what): chunk B-tree deeper than \(HDF5File.maximumDepth) levels")
        }
        guard visited.insert(node).inserted else {
            throw ModelError(path, "\(what): chunk B-tree nodes form a cycle (node at \(node) reached twice)")
        }
        let head = try file.bytes(at: node, count: 8, "\(what): chunk B-tree node")
        guard head.starts(with: Array("TREE".utf8)), head[4] == 1 else {
            throw ModelError(path, "\(what): no chunk B-tree node at address \(node)")
        }
        let level = Int(head[5])
        let entries = Int(UInt16(head[6]) | UInt16(head[7]) << 8)
        let keySize = 8 + 8 * (shape.count + 1)
        let body = 2 * file.offsetSize + (entries + 1) * keySize + entries * file.offsetSize
        var c = file.cursor(try file.bytes(at: node &+ 8, count: body, "\(what): chunk B-tree node"), "\(what): chunk B-tree node")
        try c.skip(2 * file.offsetSize)
        for _ in 0..<entries {
            let storedSize = Int(try c.u32())
            let mask = try c.u32()
            var origin: [Int] = []
            for _ in 0...shape.count {
                let v = try c.u64()
                guard v <= UInt64(Int.max) else { throw ModelError(path, "\(what): chunk offset \(v) is out of range") }
                origin.append(Int(v))
            }
            let child = try c.offset()
            if level == 0 {
                try visit(Array(origin.dropLast()), storedSize, mask, child)
            } else {
                try walk(child, depth: depth + 1, visited: &visited, visit)
            }
        }
    }

    private func unfilter(_ stored: [UInt8], mask: UInt32, chunkBytes: Int, origin: [Int]) throws -> [UInt8] {
        var data = stored
        let where_ = "\(what): chunk at \(origin)"
        for (k, filter) in filters.enumerated().reversed() where mask & (1 << UInt32(k)) == 0 {
            switch filter {
            case .fletcher32:
                guard data.count >= 4 else { throw ModelError(path, "\(where_): too short for its Fletcher-32 checksum") }
                data.removeLast(4)
            case .deflate:
                data = try ZlibStream.inflate(data, limit: chunkBytes, path: path, what: where_)
            case .shuffle(let n):
                guard n > 0, data.count % n == 0 else { break }
                let count = data.count / n
                var out = [UInt8](repeating: 0, count: data.count)
                for b in 0..<n { for i in 0..<count { out[i * n + b] = data[b * count + i] } }
                data = out
            }
        }
        guard data.count == chunkBytes else {
            throw ModelError(path, "\(where_): holds \(data.count) bytes, a chunk of \(chunk) needs \(chunkBytes)")
        }
        return data
    }

    /// Copies a chunk into the dataset's row-major bytes, clipping the parts past the dataset's edges.
    private func place(_ raw: [UInt8], at origin: [Int], into out: inout [UInt8]) throws {
        let rank = shape.count
        guard origin.count == rank else { throw ModelError(path, "\(what): chunk key has the wrong rank") }
        for d in 0..<rank where origin[d] % chunk[d] != 0 || origin[d] >= max(shape[d], 1) {
            throw ModelError(path, "\(what): chunk origin \(origin) does not lie on the chunk grid inside the shape \(shape)")
        }
        if rank == 0 { out.replaceSubrange(0..<elementSize, with: raw.prefix(elementSize)); return }
        let run = min(chunk[rank - 1], shape[rank - 1] - origin[rank - 1]) * elementSize
        var index = [Int](repeating: 0, count: rank - 1)
        outer: while true {
            var src = 0, dst = 0
            for d in 0..<rank {
                let i = d < rank - 1 ? index[d] : 0
                src = src * chunk[d] + i
                dst = dst * shape[d] + origin[d] + i
            }
            src *= elementSize
            dst *= elementSize
            out.replaceSubrange(dst..<(dst + run), with: raw[src..<(src + run)])
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                if index[d] < min(chunk[d], shape[d] - origin[d]) { continue outer }
                index[d] = 0
                d -= 1
            }
            break
        }
    }
}
