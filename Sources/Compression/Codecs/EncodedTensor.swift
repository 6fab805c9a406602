import WeightFormats

/// A tensor as a codec stores it: named parts (codes, scales, zero points, absmax, centroids, ggml blocks,
/// a keep mask), each at its real storage type, little-endian. Writers store the parts; `Codec.decode`
/// turns them back into the floats the fake-quantizer produced, bit for bit.
public struct EncodedTensor: Equatable, Sendable {
    /// The setting that produced the encoding.
    public var format: QuantFormat
    /// The tensor's shape (row-major).
    public var shape: [Int]
    public var parts: [EncodedPart]

    public init(format: QuantFormat, shape: [Int], parts: [EncodedPart]) {
        self.format = format
        self.shape = shape
        self.parts = parts
    }

    /// The part called `name`.
    public func part(_ name: String) throws -> EncodedPart {
        guard let p = parts.first(where: { $0.name == name }) else {
            throw CompressionError("the encoding has no part '\(name)'")
        }
        return p
    }
}

/// One stored array of an encoded tensor.
public struct EncodedPart: Equatable, Sendable {
    /// Standard names: `codes`, `scales`, `zero_points`, `absmax`, `centroids`, `blocks`, `keep_mask`.
    public var name: String
    /// Storage type of one element (`uint8` also for packed nibbles and bits; `ggml` for blocks).
    public var dtype: DType
    /// Logical element count (for packed parts, the values packed, not the bytes).
    public var count: Int
    public var packing: Packing
    /// The stored bytes, little-endian.
    public var bytes: [UInt8]

    public init(name: String, dtype: DType, count: Int, packing: Packing = .none, bytes: [UInt8]) {
        self.name = name
        self.dtype = dtype
        self.count = count
        self.packing = packing
        self.bytes = bytes
    }

    /// How several values share a byte.
    public enum Packing: Hashable, Sendable {
        case none
        /// Two 4-bit values per byte, the first in the high nibble (bitsandbytes' 4-bit layout).
        case nibblesHighFirst
        /// Eight 1-bit values per byte, the first in the lowest bit.
        case bitsLowFirst
    }

    // MARK: Typed parts

    static func float32(_ name: String, _ values: [Float]) -> EncodedPart {
        var bytes = [UInt8]()
        bytes.reserveCapacity(values.count * 4)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        return EncodedPart(name: name, dtype: .float32, count: values.count, bytes: bytes)
    }

    static func float16(_ name: String, bitPatterns: [UInt16]) -> EncodedPart {
        var bytes = [UInt8]()
        bytes.reserveCapacity(bitPatterns.count * 2)
        for v in bitPatterns { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
        return EncodedPart(name: name, dtype: .float16, count: bitPatterns.count, bytes: bytes)
    }

    static func nibbles(_ name: String, _ codes: [UInt8]) -> EncodedPart {
        var bytes = [UInt8](repeating: 0, count: (codes.count + 1) / 2)
        for (i, c) in codes.enumerated() { bytes[i / 2] |= i % 2 == 0 ? (c & 0xF) << 4 : c & 0xF }
        return EncodedPart(name: name, dtype: .uint8, count: codes.count, packing: .nibblesHighFirst, bytes: bytes)
    }

    static func bits(_ name: String, _ flags: [Bool]) -> EncodedPart {
        var bytes = [UInt8](repeating: 0, count: (flags.count + 7) / 8)
        for (i, f) in flags.enumerated() where f { bytes[i / 8] |= 1 << UInt8(i % 8) }
        return EncodedPart(name: name, dtype: .uint8, count: flags.count, packing: .bitsLowFirst, bytes: bytes)
    }

    /// The values of a Float32 part.
    public func float32Values() throws -> [Float] {
        try expect(.float32, .none, bytes: count * 4)
        return (0..<count).map { i in
            Float(bitPattern: UInt32(bytes[4 * i]) | UInt32(bytes[4 * i + 1]) << 8 | UInt32(bytes[4 * i + 2]) << 16 | UInt32(bytes[4 * i + 3]) << 24)
        }
    }

    /// The values of a Float16 part, widened to Float32 (exact).
    public func float16Values() throws -> [Float] {
        try expect(.float16, .none, bytes: count * 2)
        return (0..<count).map { i in Float(Float16(bitPattern: UInt16(bytes[2 * i]) | UInt16(bytes[2 * i + 1]) << 8)) }
    }

    /// The 4-bit values of a nibble-packed part.
    public func nibbleValues() throws -> [UInt8] {
        try expect(.uint8, .nibblesHighFirst, bytes: (count + 1) / 2)
        return (0..<count).map { i in i % 2 == 0 ? bytes[i / 2] >> 4 : bytes[i / 2] & 0xF }
    }

    /// The flags of a bit-packed part.
    public func bitValues() throws -> [Bool] {
        try expect(.uint8, .bitsLowFirst, bytes: (count + 7) / 8)
        return (0..<count).map { i in bytes[i / 8] >> UInt8(i % 8) & 1 == 1 }
    }

    func expect(_ dtype: DType, _ packing: Packing, bytes n: Int) throws {
        guard self.dtype == dtype, self.packing == packing, bytes.count == n else {
            throw CompressionError("encoded part '\(name)' is \(self.dtype) with \(bytes.count) bytes for \(count) values, expected \(dtype) with \(n)")
        }
    }
}
