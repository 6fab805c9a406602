import Foundation

/// One stored tensor: what it is (name, dtype, shape) and where its bytes are. Values are decoded on demand
/// into bounded Float chunks, so a model larger than memory can be walked and nothing holds a whole model
/// as Float.
public struct Tensor: Sendable {
    public let name: String
    public let dtype: DType
    /// In NumPy (row-major, outermost first) order for every format, GGUF included.
    public let shape: [Int]
    public let parameters: Int
    public let byteCount: Int
    /// Exactly `byteCount` bytes: the tensor's stored data.
    public let data: any ByteSource
    public let byteOrder: ByteOrder
    /// NumPy's `fortran_order`: the bytes hold the column-major layout of `shape`.
    public let fortranOrder: Bool
    /// Row-major values of a Fortran-ordered tensor, made on first read (nil for row-major tensors).
    let fortranCache: FortranCache?
    /// What the file really stores when `data` is computed from it (an already-quantized weight shown
    /// dequantized, a pruned kernel shown masked): "I8 per-axis (dim 0, 8 scales)". Nil: stored as `dtype`.
    /// The one label every reader uses for that (TFLite, ONNX QDQ and MatMulNBits, PyTorch quantized tensors,
    /// TFMOT masks); GGUF needs none, its dtype is the stored type.
    public var storedAs: String?
    /// Bytes the file spends on this tensor when that is not `byteCount`: an already-quantized weight shown
    /// dequantized as F32 costs its codes, scales and zero points at the widths the file stores them, as a
    /// GGUF quant type costs its blocks. Nil: the tensor costs `byteCount`.
    public var storedBytes: Int?

    /// What the tensor costs in its file: the original size inspect, report, compare and the workbench
    /// start from (`TensorInfo.bytes`, `ModelTotals.bytesOriginal`).
    public var originalBytes: Int { storedBytes ?? byteCount }

    /// Marks the tensor as computed from a stored quantized form of `bytes` bytes described by `label`.
    public mutating func stored(as label: String, bytes: Int?) {
        storedAs = label
        storedBytes = bytes
    }

    /// Checks the geometry once so every later read can trust it: `parameters` is the shape's product
    /// (no overflow), it is a whole number of blocks, and `data` holds exactly the bytes that needs.
    public init(name: String, dtype: DType, shape: [Int], data: any ByteSource,
                byteOrder: ByteOrder = .little, fortranOrder: Bool = false) throws {
        guard let n = Shape.elementCount(shape) else {
            throw ModelError(data.path, "tensor '\(DisplayText.escaped(name))': shape \(shape) overflows or is negative")
        }
        guard let bytes = dtype.byteCount(elements: n) else {
            throw ModelError(data.path, "tensor '\(DisplayText.escaped(name))': \(n) elements is not a whole number of \(dtype) blocks of \(dtype.blockSize)")
        }
        guard UInt64(bytes) == data.size else {
            throw ModelError(data.path, "tensor '\(DisplayText.escaped(name))': \(dtype) \(shape) needs \(bytes) bytes but the file gives it \(data.size)")
        }
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.parameters = n
        self.byteCount = bytes
        self.data = data
        self.byteOrder = byteOrder
        self.fortranOrder = fortranOrder && shape.count > 1
        fortranCache = self.fortranOrder ? FortranCache() : nil
    }

    public var isFloating: Bool { dtype.isFloating }

    /// The same tensor under another name, keeping what it is stored as.
    public func renamed(_ newName: String) throws -> Tensor {
        var t = try Tensor(name: newName, dtype: dtype, shape: shape, data: data, byteOrder: byteOrder, fortranOrder: fortranOrder)
        (t.storedAs, t.storedBytes) = (storedAs, storedBytes)
        return t
    }

    /// Length of the last dimension (a row); 1 for a 0-d tensor.
    public var rowLength: Int { shape.last ?? 1 }
    /// Number of rows of the last dimension (product of the leading dimensions).
    public var rowCount: Int { rowLength == 0 ? 0 : parameters / rowLength }
}

public enum Shape {
    /// The product of `dims`, or nil when a dimension is negative or the product overflows Int.
    public static func elementCount(_ dims: [Int]) -> Int? {
        var n = 1
        for d in dims {
            guard d >= 0 else { return nil }
            let (p, o) = n.multipliedReportingOverflow(by: d)
            if o { return nil }
            n = p
        }
        return n
    }
}

extension Tensor {
    /// A sensible chunk for streaming: about 1 Mi elements, a whole number of storage blocks.
    public static let defaultChunkElements = 1 << 20

    /// Decodes elements `range` (logical row-major order) into `out[0..<range.count]`.
    /// Both ends of `range` must fall on storage block boundaries (or at the end of the tensor).
    public func decode(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) throws {
        var scratch: [UInt8] = []
        try decode(range, into: out, scratch: &scratch)
    }

    /// As `decode(_:into:)`, reusing `scratch` for the raw bytes between calls.
    public func decode(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>,
                       scratch: inout [UInt8]) throws {
        guard range.lowerBound >= 0, range.upperBound <= parameters, out.count >= range.count else {
            throw ModelError(data.path, "tensor '\(DisplayText.escaped(name))': read of \(range) outside \(parameters) elements")
        }
        if range.isEmpty { return }
        if fortranOrder {
            try decodeFortran(range, into: out)
            return
        }
        let b = dtype.blockSize
        guard range.lowerBound % b == 0, range.upperBound % b == 0 || range.upperBound == parameters else {
            throw ModelError(data.path, "tensor '\(DisplayText.escaped(name))': read of \(range) does not fall on \(dtype) block boundaries")
        }
        let firstByte = (range.lowerBound / b) * dtype.blockBytes
        let byteLen = (range.count / b) * dtype.blockBytes
        if dtype == .float32 && byteOrder == .little && ByteOrder.host == .little {
            // Stored exactly as the Floats we want: read straight into the output, no second copy.
            try data.read(at: UInt64(firstByte), into: UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(out)[0..<byteLen]))
            return
        }
        if scratch.count < byteLen { scratch = [UInt8](repeating: 0, count: byteLen) }
        try scratch.withUnsafeMutableBytes { raw in
            let window = UnsafeMutableRawBufferPointer(rebasing: raw[0..<byteLen])
            try data.read(at: UInt64(firstByte), into: window)
            try ElementDecoder.decode(UnsafeRawBufferPointer(window), dtype: dtype, byteOrder: byteOrder,
                                      count: range.count, into: out, path: data.path)
        }
    }

    /// Streams every element in row-major order as consecutive chunks of at most `chunkElements` values
    /// (rounded down to whole blocks; at least one block). One Float buffer and one byte buffer are reused.
    public func forEachChunk(elements chunkElements: Int = Tensor.defaultChunkElements,
                             _ body: (_ start: Int, _ values: UnsafeBufferPointer<Float>) throws -> Void) throws {
        let b = dtype.blockSize
        let step = max(b, (chunkElements / b) * b)
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: min(step, max(parameters, 1)))
        defer { buffer.deallocate() }
        var scratch: [UInt8] = []
        var start = 0
        while start < parameters {
            let end = min(parameters, start + step)
            let out = UnsafeMutableBufferPointer(rebasing: buffer[0..<(end - start)])
            try decode(start..<end, into: out, scratch: &scratch)
            try body(start, UnsafeBufferPointer(out))
            start = end
        }
    }

    /// Column-major storage: the first read decodes the whole tensor once into row-major order (kept by the
    /// tensor, shared by its copies), and every read gathers from that. Fortran-ordered arrays are rare and
    /// come from NumPy files; this costs one tensor of Floats instead of a quadratic number of re-reads.
    private func decodeFortran(_ range: Range<Int>, into out: UnsafeMutableBufferPointer<Float>) throws {
        let rowMajor = try fortranCache!.values { try transposedToRowMajor() }
        rowMajor.withUnsafeBufferPointer { v in
            _ = out.initialize(from: v[range])
        }
    }

    private func transposedToRowMajor() throws -> [Float] {
        let raw = try data.bytes(at: 0, count: byteCount)
        var stored = [Float](repeating: 0, count: parameters)
        try raw.withUnsafeBytes { r in
            try stored.withUnsafeMutableBufferPointer { s in
                try ElementDecoder.decode(r, dtype: dtype, byteOrder: byteOrder, count: parameters, into: s, path: data.path)
            }
        }
        // Column-major strides: dimension 0 varies fastest.
        var strides = [Int](repeating: 1, count: shape.count)
        for d in 1..<shape.count { strides[d] = strides[d - 1] * shape[d - 1] }
        var index = [Int](repeating: 0, count: shape.count)
        var rowMajor = [Float](repeating: 0, count: parameters)
        for i in 0..<parameters {
            var offset = 0
            for d in 0..<shape.count { offset += index[d] * strides[d] }
            rowMajor[i] = stored[offset]
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                if index[d] < shape[d] { break }
                index[d] = 0
                d -= 1
            }
        }
        return rowMajor
    }
}

/// The row-major values of a Fortran-ordered tensor, computed on first use by whichever thread gets there
/// first and then shared.
final class FortranCache: @unchecked Sendable {
    private let lock = NSLock()
    private var cached: [Float]?

    func values(_ make: () throws -> [Float]) throws -> [Float] {
        try lock.withLock {
            if let cached { return cached }
            let v = try make()
            cached = v
            return v
        }
    }
}
