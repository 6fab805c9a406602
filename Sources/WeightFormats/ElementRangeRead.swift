/// Byte reads from a source that makes its bytes element by element (a strided view, dequantized or masked
/// values): any byte range is served by producing the whole elements it touches, so callers that read
/// unaligned ranges (`ByteSource.bytes`) get the same bytes as aligned ones.
enum ElementRangeRead {
    /// Fills `buffer` with bytes `[offset, offset + buffer.count)` of a source of `size` bytes made of
    /// `elementBytes`-byte elements; `produce(first, count, out)` writes elements `first..<first+count`.
    static func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer, size: UInt64, elementBytes: Int,
                     path: String, produce: (Int, Int, UnsafeMutableRawBufferPointer) throws -> Void) throws {
        guard offset <= size, UInt64(buffer.count) <= size - offset else {
            throw ModelError(path, "read of \(buffer.count) bytes at \(offset) is outside the tensor (\(size) bytes)")
        }
        if buffer.isEmpty { return }
        let es = UInt64(elementBytes)
        let first = Int(offset / es)
        let last = Int((offset + UInt64(buffer.count) - 1) / es)
        let count = last - first + 1
        if offset % es == 0, buffer.count == count * elementBytes {
            try produce(first, count, buffer)
            return
        }
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: count * elementBytes, alignment: 16)
        defer { scratch.deallocate() }
        try produce(first, count, scratch)
        let skip = Int(offset - UInt64(first) * es)
        buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: scratch[skip..<(skip + buffer.count)]))
    }
}
