import Foundation
@testable import WeightFormats

/// The fixed inputs of the writer tests: what each file in `Tests/Fixtures/written/` holds. The same content
/// is written by the round-trip tests, by the committed-fixture test (byte for byte) and by the live
/// reference test (read back by the Python `safetensors` and `gguf` packages through
/// `Tests/Fixtures/check_written.py`).
///
/// Values are small integers over 8 (exact in every float dtype, including BF16), FP8 bytes avoid NaN and
/// infinity, and ggml blocks have finite f16 scales, so the reference's float64 values compare exactly.
enum WriterFixtures {
    struct SafetensorsFile {
        let name: String
        let metadata: [(key: String, value: String)]
        let tensors: [SafetensorsWriter.TensorEntry]
        let data: [[UInt8]]
    }

    struct GGUFFile {
        let name: String
        let metadata: [(key: String, value: GGUFValue)]
        let tensors: [GGUFWriter.TensorEntry]
        let data: [[UInt8]]
    }

    /// Element `i` of a test tensor as a number: −50…50 in steps of 1/8.
    static func value(_ i: Int, salt: Int) -> Double {
        Double((i * 37 + salt * 11) % 101 - 50) / 8
    }

    /// `count` elements of `dtype` (little-endian), deterministic in `salt`.
    static func bytes(_ dtype: DType, count: Int, salt: Int) -> [UInt8] {
        var out: [UInt8] = []
        func le<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        for i in 0..<count {
            let v = value(i, salt: salt)
            let k = (i * 37 + salt * 11) % 101           // 0…100, integral
            switch dtype {
            case .float64: le(v.bitPattern)
            case .float32: le(Float(v).bitPattern)
            case .float16: le(Float16(Float(v)).bitPattern)
            case .bfloat16: le(UInt16(Float(v).bitPattern >> 16))   // exact: at most 7 significant bits
            case .float8E4M3:
                let b = UInt8((i * 29 + salt * 7) & 0xFF)
                out.append(b & 0x7F == 0x7F ? b ^ 1 : b)           // S.1111.111 is NaN
            case .float8E5M2:
                let b = UInt8((i * 29 + salt * 7) & 0xFF)
                out.append(b & 0x7C == 0x7C ? b & ~0x40 : b)       // exponent 11111 is inf/NaN
            case .int8: le(Int8(k - 50))
            case .uint8: le(UInt8(k * 2))
            case .int16: le(Int16((k - 50) * 300))
            case .uint16: le(UInt16(k * 600))
            case .int32: le(Int32((k - 50) * 100_000))
            case .uint32: le(UInt32(k * 100_000))
            case .int64: le(Int64((k - 50) * 150_000))
            case .uint64: le(UInt64(k * 150_000))
            case .bool: out.append(k % 3 == 0 ? 1 : 0)
            case .ggml(let t): out += blocks(t, count: count / t.blockSize, salt: salt); return out
            }
        }
        return out
    }

    /// `count` blocks of a quantized ggml type: pattern bytes, with finite f16 scales (and mins) where the
    /// block layout keeps them (struct order, as in ggml: `d` first for legacy and Q4_K/Q5_K, last for Q6_K).
    static func blocks(_ t: GGMLType, count: Int, salt: Int) -> [UInt8] {
        let halves: [Int] = switch t.name {
        case "Q4_1", "Q5_1", "Q4_K", "Q5_K": [0, 2]
        case "Q2_K": [80, 82]
        case "Q3_K": [108]
        case "Q6_K": [208]
        default: [0]
        }
        var out: [UInt8] = []
        for b in 0..<count {
            var block = (0..<t.typeSize).map { UInt8(($0 * 31 + b * 7 + salt * 13) & 0xFF) }
            for (k, at) in halves.enumerated() {
                let bits = Float16(Float(k == 0 ? b % 5 + 1 : b % 3) / (k == 0 ? 16 : 32)).bitPattern
                block[at] = UInt8(bits & 0xFF)
                block[at + 1] = UInt8(bits >> 8)
            }
            out += block
        }
        return out
    }

    static func elements(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    static func safetensors(_ name: String, metadata: [(key: String, value: String)],
                            _ tensors: [(String, DType, [Int])]) -> SafetensorsFile {
        let entries = tensors.map { SafetensorsWriter.TensorEntry(name: $0.0, dtype: $0.1, shape: $0.2) }
        let data = entries.enumerated().map { i, e in bytes(e.dtype, count: elements(e.shape), salt: i) }
        return SafetensorsFile(name: name, metadata: metadata, tensors: entries, data: data)
    }

    static func gguf(_ name: String, metadata: [(key: String, value: GGUFValue)],
                     _ tensors: [(String, GGMLType, [Int])]) -> GGUFFile {
        let entries = tensors.map { GGUFWriter.TensorEntry(name: $0.0, type: $0.1, shape: $0.2) }
        let data = entries.enumerated().map { i, e in bytes(DType(ggml: e.type), count: elements(e.shape), salt: i) }
        return GGUFFile(name: name, metadata: metadata, tensors: entries, data: data)
    }

    /// Every dtype safetensors stores, in a 2×3 shape, with unicode metadata.
    static let dtypes = safetensors("dtypes.safetensors", metadata: [
        ("format", "pt"), ("note", "Grüße, 模型 — ✓"), ("empty", ""),
    ], DType.safetensorsTypes.map { ($0.description.lowercased(), $0, [2, 3]) })

    /// 0-D, 1-D, 4-D and empty tensors, names needing JSON escapes, no metadata.
    static let shapes = safetensors("shapes.safetensors", metadata: [], [
        ("scalar", .float32, []),
        ("vector", .float16, [7]),
        ("blocks.0.weight", .bfloat16, [2, 3, 2, 4]),
        ("empty", .float32, [0, 4]),
        ("quote\"and\\slash ünï", .int32, [3]),
        ("last", .uint8, [5]),
    ])

    /// Every GGUF metadata type, arrays (nested, empty, of strings), unicode; plain and block ggml types;
    /// the default alignment (32).
    static let kvTypes = gguf("kv_types.gguf", metadata: [
        ("general.architecture", .string("llama")),
        ("test.u8", .uint8(200)), ("test.i8", .int8(-100)),
        ("test.u16", .uint16(60_000)), ("test.i16", .int16(-30_000)),
        ("test.u32", .uint32(4_000_000_000)), ("test.i32", .int32(-2_000_000_000)),
        ("test.u64", .uint64(UInt64.max)), ("test.i64", .int64(Int64.min)),
        ("test.f32", .float32(3.140625)), ("test.f32_subnormal", .float32(Float(bitPattern: 0x0000_1234))),
        ("test.f64", .float64(-2.718281828459045)), ("test.f64_big", .float64(1.7976931348623157e308)),
        ("test.true", .bool(true)), ("test.false", .bool(false)),
        ("test.string", .string("Grüße, 模型 — ✓ \u{1F600}")), ("test.empty_string", .string("")),
        ("test.array_i32", .array(.int32, [.int32(1), .int32(-2), .int32(3)])),
        ("test.array_f32", .array(.float32, [.float32(0.5), .float32(-1.25)])),
        ("test.array_strings", .array(.string, [.string("a"), .string("ü"), .string("")])),
        ("test.array_bool", .array(.bool, [.bool(true), .bool(false), .bool(true)])),
        ("test.array_u8", .array(.uint8, [.uint8(0), .uint8(255)])),
        ("test.array_empty", .array(.uint64, [])),
        ("test.array_nested", .array(.array, [.array(.int16, [.int16(1), .int16(2)]), .array(.int16, [.int16(3)])])),
    ], [
        ("f32", .f32, [2, 3]),
        ("f16", .f16, [5]),
        ("bf16", GGMLType(name: "BF16")!, [2, 2]),
        ("f64", GGMLType(name: "F64")!, [3]),
        ("i8", GGMLType(name: "I8")!, [4]),
        ("i16", GGMLType(name: "I16")!, [4]),
        ("i32", GGMLType(name: "I32")!, [2, 2]),
        ("i64", GGMLType(name: "I64")!, [3]),
        ("q4_0", .q4_0, [2, 64]),
        ("q8_0", .q8_0, [3, 32]),
        ("q4_k", .q4_K, [2, 256]),
        ("q6_k", .q6_K, [1, 256]),
    ])

    /// `general.alignment` 64 with 0-D, 1-D and 4-D shapes and block types.
    static let aligned64 = gguf("aligned64.gguf", metadata: [
        ("general.alignment", .uint32(64)),
        ("general.name", .string("aligned")),
    ], [
        ("scalar", .f32, []),
        ("vector", .f16, [3]),
        ("four_d", .f32, [2, 1, 3, 2]),
        ("q8_0.4d", .q8_0, [1, 2, 1, 32]),
        ("q4_0", .q4_0, [1, 32]),
    ])

    /// No metadata at all, one tensor.
    static let emptyMetadata = gguf("empty_metadata.gguf", metadata: [], [("only", .f32, [4])])

    static let safetensorsFiles = [dtypes, shapes]
    static let ggufFiles = [kvTypes, aligned64, emptyMetadata]

    /// Writes every fixture file into `directory` through the writers (and AtomicFile).
    static func writeAll(into directory: String, overwrite: Bool = false) throws {
        for f in safetensorsFiles {
            try SafetensorsWriter.write(to: directory + "/" + f.name, tensors: f.tensors, metadata: f.metadata,
                                        overwrite: overwrite) { i, sink in try sink.write(f.data[i]) }
        }
        for f in ggufFiles {
            try GGUFWriter.write(to: directory + "/" + f.name, metadata: f.metadata, tensors: f.tensors,
                                 overwrite: overwrite) { i, sink in try sink.write(f.data[i]) }
        }
    }
}
