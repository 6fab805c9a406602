/// A sparse ONNX tensor (`SparseTensorProto`: values `[NNZ]`, INT64 indices `[NNZ]` linear or `[NNZ, rank]`
/// coordinates, dims) read as its dense bytes: zeros everywhere but at the indices. The indices are held
/// (8 bytes per non-zero, checked ascending, unique and inside the shape); the values stay where they are
/// and dense bytes are made only for the range read.
final class ONNXSparseSource: ByteSource, @unchecked Sendable {
    let path: String
    let size: UInt64
    private let values: any ByteSource
    private let linear: [Int]
    private let width: Int

    init(values: any ByteSource, elementBytes: Int, indices: [Int64], dims: [Int], name: String, path: String) throws {
        let shown = "sparse tensor '\(DisplayText.escaped(name))'"
        guard let n = Shape.elementCount(dims), let bytes = Shape.elementCount([n, elementBytes]) else {
            throw ModelError(path, "\(shown): dims \(dims) overflow")
        }
        let nnz = Int(values.size) / elementBytes
        let rank = dims.count
        var linear: [Int] = []
        if indices.count == nnz {
            linear = indices.map { Int($0) }
        } else if rank > 0 && indices.count == nnz * rank {
            linear.reserveCapacity(nnz)
            for k in 0..<nnz {
                var flat = 0
                for d in 0..<rank {
                    let c = Int(indices[k * rank + d])
                    guard c >= 0 && c < dims[d] else { throw ModelError(path, "\(shown): index \(c) is outside dimension \(d) (\(dims[d]))") }
                    flat = flat * dims[d] + c
                }
                linear.append(flat)
            }
        } else {
            throw ModelError(path, "\(shown): \(indices.count) indices for \(nnz) values of rank \(rank)")
        }
        var previous = -1
        for i in linear {
            guard i > previous, i < n else {
                throw ModelError(path, "\(shown): indices must ascend without repeats inside \(n) elements (found \(i) after \(previous))")
            }
            previous = i
        }
        self.path = path
        self.size = UInt64(bytes)
        self.values = values
        self.linear = linear
        self.width = elementBytes
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside \(size) bytes")
        }
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        let start = Int(offset), end = start + buffer.count
        let firstElement = start / width
        var lo = 0, hi = linear.count
        while lo < hi { let mid = (lo + hi) / 2; if linear[mid] < firstElement { lo = mid + 1 } else { hi = mid } }
        var element = [UInt8](repeating: 0, count: width)
        var k = lo
        while k < linear.count && linear[k] * width < end {
            try element.withUnsafeMutableBytes { try values.read(at: UInt64(k * width), into: $0) }
            for b in 0..<width {
                let at = linear[k] * width + b
                if at >= start && at < end { buffer[at - start] = element[b] }
            }
            k += 1
        }
    }
}
