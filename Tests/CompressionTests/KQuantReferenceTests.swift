import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// ggml's own bytes (Tests/Fixtures/make_kquants.py, `ggml_quantize_chunk` of ggml-python built without
/// FMA) for Q2_K … Q6_K, IQ4_NL, IQ4_XS and the importance-weighted paths of every type, on random,
/// heavy-tailed, all-zero, tiny, huge and constant rows, and rows of 288 values (not a multiple of 256).
enum KQuantReference {
    nonisolated(unsafe) static let json: [String: Any] = {
        (try? Fixtures.json("kquants/reference.json")) as? [String: Any] ?? [:]
    }()

    static func floats(_ relative: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("kquants/" + relative)))
        return data.withUnsafeBytes { raw in (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.load(fromByteOffset: 4 * $0, as: UInt32.self))) } }
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("kquants/" + relative))))
    }

    static var cases: [[String: Any]] { json["cases"] as? [[String: Any]] ?? [] }
}

@Suite struct KQuantReferenceTests {
    /// Our bytes for one case, and where they first differ from ggml's.
    func check(_ entry: [String: Any]) throws -> (ok: Bool, message: String) {
        let type = GGMLType(name: entry["type"] as! String)!
        let shape = entry["shape"] as! [Int]
        let x = try KQuantReference.floats("inputs/\(entry["input"] as! String).bin")
        let expected = try KQuantReference.bytes("outputs/" + (entry["bytes"] as! String))
        let got: [UInt8]
        if let im = entry["imatrix"] as? String {
            let w = try KQuantReference.floats("inputs/" + im)
            got = x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize(xp, type: type, rowLength: shape[1], importance: $0) }
            }
        } else {
            got = x.withUnsafeBufferPointer { GGUFBlockQuantizer.quantize($0, type: type) }
        }
        let diff = zip(got, expected).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        let differing = zip(got, expected).filter { $0 != $1 }.count
        let message = "\(entry["bytes"]!): \(differing) bytes differ, first at \(diff.map(String.init) ?? "-") (block \(diff.map { String($0 / type.typeSize) } ?? "-"))"
        return (got == expected && got.count == expected.count, message)
    }

    @Test func everyCaseHasItsTypeAndBothPaths() {
        let cases = KQuantReference.cases
        #expect(cases.count == 172)
        for t in ["Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"] {
            #expect(cases.contains { $0["type"] as? String == t && $0["imatrix"] is NSNull })
            #expect(cases.contains { $0["type"] as? String == t && $0["imatrix"] is String })
        }
    }

    @Test(arguments: ["Q4_K", "Q5_K", "Q6_K", "Q8_0", "Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS", "Q4_0", "Q4_1", "Q5_0", "Q5_1"])
    func bytesEqualGGMLWithoutImportance(_ type: String) throws {
        for entry in KQuantReference.cases where entry["type"] as? String == type && entry["imatrix"] is NSNull {
            let (ok, message) = try check(entry)
            #expect(ok, "\(message)")
        }
    }

    @Test(arguments: ["Q4_K", "Q5_K", "Q6_K", "Q2_K", "Q3_K", "IQ4_NL", "IQ4_XS", "Q4_0", "Q4_1", "Q5_0", "Q5_1"])
    func bytesEqualGGMLWithImportance(_ type: String) throws {
        for entry in KQuantReference.cases where entry["type"] as? String == type && entry["imatrix"] is String {
            let (ok, message) = try check(entry)
            #expect(ok, "\(message)")
        }
    }
}

/// The K-quant and IQ4 rows as codecs: sizes, fit, encode → decode equal to the fake-quantizer, levels.
@Suite struct KQuantCodecTests {
    static let types: [GGMLType] = [.q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .iq4_NL, .iq4_XS]

    @Test func sizesAreGGMLsBlocks() throws {
        let bits: [GGMLType: Double] = [.q2_K: 2.625, .q3_K: 3.4375, .q4_K: 4.5, .q5_K: 5.5, .q6_K: 6.5625, .iq4_NL: 4.5, .iq4_XS: 4.25]
        for t in Self.types {
            let codec = try #require(QuantFormat.gguf(t).codec)
            #expect(Double(try #require(codec.blockBits(count: 4096))) / 4096 == bits[t])
            #expect(codec.pieceAlignment == t.blockSize)
        }
        #expect(QuantFormat.gguf(.q6_K).codec?.misfit([4, 4544]) == CodecMisfit(field: "type", reason: "q6_k (blocks of 256) does not divide the last dimension (4544)"))
        #expect(QuantFormat.gguf(.iq4_NL).codec?.misfit([4, 4544]) == nil)
    }

    @Test func encodeDecodesToTheFakeQuantizationAndTheLevelsHoldEveryValue() throws {
        let x = try KQuantReference.floats("inputs/heavy_4x512.bin")
        let shape = [4, 512]
        for t in Self.types {
            let codec = try #require(QuantFormat.gguf(t).codec)
            var fake = [Float](repeating: .nan, count: x.count), decoded = fake
            let encoded = try x.withUnsafeBufferPointer { input in
                _ = try fake.withUnsafeMutableBufferPointer {
                    try codec.fakeQuantize(input, shape: shape, into: $0, measuringAgainst: nil, zerosArePruned: false)
                }
                return codec.encode(input, shape: shape, zerosArePruned: false)
            }
            #expect(encoded.parts.map(\.bytes.count) == [x.count / t.blockSize * t.typeSize])
            try decoded.withUnsafeMutableBufferPointer { try codec.decode(encoded, into: $0) }
            #expect(fake.map(\.bitPattern) == decoded.map(\.bitPattern), "\(t.name)")
            // The widest block's levels contain every value that block decodes to.
            let found = try #require(x.withUnsafeBufferPointer { codec.levels($0, shape: shape, firstRow: 0, clustering: nil) })
            let unit = found.levels.unit
            let block = try #require(Int(unit.split(separator: " ").last ?? ""))
            let values = Set(found.levels.values.map { Float($0) })
            for i in (block * t.blockSize) ..< ((block + 1) * t.blockSize) {
                #expect(values.contains(fake[i]), "\(t.name) block \(block) value \(fake[i])")
            }
        }
    }
}
