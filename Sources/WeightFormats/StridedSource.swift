import Foundation

/// The row-major bytes of a non-contiguous tensor view: element i of the view is element
/// `offset + Σ index_d · stride_d` of its storage (PyTorch's `as_strided`). Elements are gathered on each
/// read through a bounded window of the storage, so a transposed weight is never copied whole.
final class StridedSource: ByteSource, @unchecked Sendable {
    let base: any ByteSource
    let elementBytes: Int
    let offset: Int
    let shape: [Int]
    let strides: [Int]
    let size: UInt64
    var path: String { base.path }
    private let lock = NSLock()
    private var window: [UInt8] = []
    private var windowStart: UInt64 = 0

    static let windowBytes = 1 << 22

    /// The caller has checked that every element lies inside `base`.
    init(base: any ByteSource, elementBytes: Int, offset: Int, shape: [Int], strides: [Int], count: Int) {
        self.base = base
        self.elementBytes = elementBytes
        self.offset = offset
        self.shape = shape
        self.strides = strides
        self.size = UInt64(count * elementBytes)
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        try ElementRangeRead.read(at: offset, into: buffer, size: size, elementBytes: elementBytes, path: path) { first, count, out in
            try lock.withLock { try gather(first: first, count: count, into: out) }
        }
    }

    private func gather(first: Int, count: Int, into out: UnsafeMutableRawBufferPointer) throws {
        var index = [Int](repeating: 0, count: shape.count)
        var rest = first
        for d in stride(from: shape.count - 1, through: 0, by: -1) where shape[d] > 0 {
            index[d] = rest % shape[d]
            rest /= shape[d]
        }
        for k in 0..<count {
            var element = offset
            for d in 0..<shape.count { element += index[d] * strides[d] }
            let at = UInt64(element) * UInt64(elementBytes)
            if at < windowStart || at + UInt64(elementBytes) > windowStart + UInt64(window.count) {
                let n = Int(min(UInt64(Self.windowBytes), base.size - at))
                window = try base.bytes(at: at, count: n)
                windowStart = at
            }
            let w = Int(at - windowStart)
            for b in 0..<elementBytes { out[k * elementBytes + b] = window[w + b] }
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
    }
}
