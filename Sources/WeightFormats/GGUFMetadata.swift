/// GGUF's typed metadata: the 13 value types and the parser for one KV value.
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0, int8 = 1, uint16 = 2, int16 = 3, uint32 = 4, int32 = 5, float32 = 6, bool = 7
    case string = 8, array = 9, uint64 = 10, int64 = 11, float64 = 12

    /// gguf-py's spelling (`GGUFValueType.<name>`).
    public var description: String {
        switch self {
        case .uint8: "UINT8"
        case .int8: "INT8"
        case .uint16: "UINT16"
        case .int16: "INT16"
        case .uint32: "UINT32"
        case .int32: "INT32"
        case .float32: "FLOAT32"
        case .bool: "BOOL"
        case .string: "STRING"
        case .array: "ARRAY"
        case .uint64: "UINT64"
        case .int64: "INT64"
        case .float64: "FLOAT64"
        }
    }

    /// Bytes of one stored value for fixed-size types, nil for strings and arrays.
    var fixedSize: UInt64? {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string, .array: nil
        }
    }

    /// The fewest bytes one value can take: a string is at least its u64 length, an array its u32 type and
    /// u64 count.
    var minimumSize: UInt64 {
        switch self {
        case .string: 8
        case .array: 12
        default: fixedSize!
        }
    }
}

/// One metadata entry as stored: key and value with its exact GGUF types, so a writer can copy it unchanged
/// (`GGUFWriter` takes `(entry.key, entry.stored)`).
public struct GGUFEntry: Sendable, Equatable {
    public let key: String
    public let stored: GGUFValue

    public init(key: String, stored: GGUFValue) {
        self.key = key
        self.stored = stored
    }

    /// The value type (for arrays, the outer type is `.array`).
    public var type: GGUFValueType { stored.type }
    /// The value as models carry metadata.
    public var value: MetadataValue { stored.metadataValue }
}

extension GGUFCursor {
    /// Reads a u32 value type tag.
    mutating func valueType(_ what: @autoclosure () -> String) throws -> GGUFValueType {
        let raw = try u32("value type of \(what())")
        guard let t = GGUFValueType(rawValue: raw) else {
            throw fail("unknown metadata value type \(raw) for \(what()) at offset \(offset - 4)")
        }
        return t
    }

    /// Reads one value of type `type`, as models carry metadata. `budget` counts array elements still
    /// allowed across the whole header.
    mutating func value(_ type: GGUFValueType, what: @autoclosure () -> String, depth: Int = 0,
                        budget: inout UInt64) throws -> MetadataValue {
        try storedValue(type, what: what(), depth: depth, budget: &budget).metadataValue
    }

    /// Reads one value of type `type` with its exact GGUF types.
    mutating func storedValue(_ type: GGUFValueType, what: @autoclosure () -> String, depth: Int = 0,
                              budget: inout UInt64) throws -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try u8(what()))
        case .int8: return .int8(Int8(bitPattern: try u8(what())))
        case .uint16: return .uint16(try u16(what()))
        case .int16: return .int16(Int16(bitPattern: try u16(what())))
        case .uint32: return .uint32(try u32(what()))
        case .int32: return .int32(Int32(bitPattern: try u32(what())))
        case .uint64: return .uint64(try u64(what()))
        case .int64: return .int64(Int64(bitPattern: try u64(what())))
        case .float32: return .float32(Float(bitPattern: try u32(what())))
        case .float64: return .float64(Double(bitPattern: try u64(what())))
        case .bool: return .bool(try u8(what()) != 0)
        case .string: return .string(try string(what()))
        case .array: return try array(what: what(), depth: depth, budget: &budget)
        }
    }

    private mutating func array(what: @autoclosure () -> String, depth: Int,
                                budget: inout UInt64) throws -> GGUFValue {
        guard depth < GGUFLimits.maxArrayDepth else {
            throw fail("\(what()): arrays nested deeper than \(GGUFLimits.maxArrayDepth) levels")
        }
        let elementType = try valueType("elements of \(what())")
        let count = try u64("length of \(what())")
        // Each element needs at least minimumSize bytes; compare without multiplying (no overflow).
        guard count <= remaining / elementType.minimumSize else {
            throw fail("array length \(count) of \(what()) (\(elementType)) cannot fit in the file (\(remaining) bytes remain)")
        }
        guard count <= budget else {
            throw fail("\(what()): metadata arrays hold more than \(GGUFLimits.maxArrayElements) elements in all")
        }
        budget -= count
        var items: [GGUFValue] = []
        items.reserveCapacity(Int(min(count, 1 << 16)))
        for i in 0..<count {
            items.append(try storedValue(elementType, what: "\(what())[\(i)]", depth: depth + 1, budget: &budget))
        }
        return .array(elementType, items)
    }
}

extension MetadataValue {
    /// The value as an unsigned integer, if it is a non-negative integer.
    var unsignedValue: UInt64? {
        switch self {
        case .uint(let v): v
        case .int(let v) where v >= 0: UInt64(v)
        default: nil
        }
    }
}

/// A GGUF metadata value with its exact types, as the reader found it (`GGUFEntry.stored`) and as the writer
/// writes it: every one of the 13 value types, arrays with their element type (so an empty array still has one).
public indirect enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case uint64(UInt64), int64(Int64), float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFValueType, [GGUFValue])

    public var type: GGUFValueType {
        switch self {
        case .uint8: .uint8
        case .int8: .int8
        case .uint16: .uint16
        case .int16: .int16
        case .uint32: .uint32
        case .int32: .int32
        case .uint64: .uint64
        case .int64: .int64
        case .float32: .float32
        case .float64: .float64
        case .bool: .bool
        case .string: .string
        case .array: .array
        }
    }

    /// The value as `GGUFReader` returns it.
    public var metadataValue: MetadataValue {
        switch self {
        case .uint8(let x): .uint(UInt64(x))
        case .int8(let x): .int(Int64(x))
        case .uint16(let x): .uint(UInt64(x))
        case .int16(let x): .int(Int64(x))
        case .uint32(let x): .uint(UInt64(x))
        case .int32(let x): .int(Int64(x))
        case .uint64(let x): .uint(x)
        case .int64(let x): .int(x)
        case .float32(let x): .float(Double(x))
        case .float64(let x): .float(x)
        case .bool(let x): .bool(x)
        case .string(let s): .string(s)
        case .array(_, let items): .array(items.map(\.metadataValue))
        }
    }
}
