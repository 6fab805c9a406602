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

/// One metadata entry as stored: key, GGUF value type (for arrays, the outer type is `.array`) and value.
public struct GGUFEntry: Sendable, Equatable {
    public let key: String
    public let type: GGUFValueType
    public let value: MetadataValue
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

    /// Reads one value of type `type`. `budget` counts array elements still allowed across the whole header.
    mutating func value(_ type: GGUFValueType, what: @autoclosure () -> String, depth: Int = 0,
                        budget: inout UInt64) throws -> MetadataValue {
        switch type {
        case .uint8: return .uint(UInt64(try u8(what())))
        case .int8: return .int(Int64(Int8(bitPattern: try u8(what()))))
        case .uint16: return .uint(UInt64(try u16(what())))
        case .int16: return .int(Int64(Int16(bitPattern: try u16(what()))))
        case .uint32: return .uint(UInt64(try u32(what())))
        case .int32: return .int(Int64(Int32(bitPattern: try u32(what()))))
        case .uint64: return .uint(try u64(what()))
        case .int64: return .int(Int64(bitPattern: try u64(what())))
        case .float32: return .float(Double(Float(bitPattern: try u32(what()))))
        case .float64: return .float(Double(bitPattern: try u64(what())))
        case .bool: return .bool(try u8(what()) != 0)
        case .string: return .string(try string(what()))
        case .array: return try array(what: what(), depth: depth, budget: &budget)
        }
    }

    private mutating func array(what: @autoclosure () -> String, depth: Int,
                                budget: inout UInt64) throws -> MetadataValue {
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
        var items: [MetadataValue] = []
        items.reserveCapacity(Int(min(count, 1 << 16)))
        for i in 0..<count {
            items.append(try value(elementType, what: "\(what())[\(i)]", depth: depth + 1, budget: &budget))
        }
        return .array(items)
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
