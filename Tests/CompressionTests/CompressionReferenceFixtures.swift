import Foundation
@testable import Compression
import WeightFormats
import TestSupport

/// The reference values `Tests/Fixtures/make_compression.py` computed with numpy, gguf-py and ml_dtypes.
enum CompressionReference {
    struct Case {
        var id: String
        var input: String
        var shape: [Int]
        var settings: LayerSettings
        var pruneKind: String
        var quantKind: String
        var metrics: [String: Any]
        var zerosAfterPruning: Int
        var prunedRows: Int
        var sizeBits: Int
        var encodingPrefix: String
    }

    nonisolated(unsafe) static let json: [String: Any] = {
        (try? Fixtures.json("compression/reference.json") as? [String: Any]) ?? [:]
    }()

    static func shape(_ input: String) -> [Int] {
        let inputs = json["inputs"] as! [String: Any]
        return ((inputs[input] as! [String: Any])["shape"] as! [Any]).map { ($0 as! NSNumber).intValue }
    }

    static func floats(_ relative: String) throws -> [Float] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("compression/" + relative)))
        return data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("compression/" + relative))))
    }

    static func input(_ name: String) throws -> [Float] { try floats("inputs/\(name).bin") }

    static func int(_ d: [String: Any], _ k: String) -> Int { (d[k] as! NSNumber).intValue }
    static func double(_ d: [String: Any], _ k: String) -> Double { (d[k] as! NSNumber).doubleValue }

    static func prune(_ p: [String: Any]) -> PruneMethod {
        switch p["kind"] as! String {
        case "none": return .none
        case "threshold": return .threshold(double(p, "t"))
        case "sparsity": return .sparsity(double(p, "s"))
        case "nm": return .nm(n: int(p, "n"), m: int(p, "m"))
        case "rows": return .rows(norm: RowNorm(rawValue: p["norm"] as! String)!, sparsity: double(p, "s"))
        default: fatalError("unknown prune \(p)")
        }
    }

    static func granularity(_ q: [String: Any]) -> Granularity {
        switch q["granularity"] as! String {
        case "tensor": return .tensor
        case "channel": return .channel
        default: return .group(int(q, "group"))
        }
    }

    static func quant(_ q: [String: Any]) -> QuantFormat {
        switch q["kind"] as! String {
        case "none": return .none
        case "int":
            let clip: Clipping
            switch q["clip"] as! String {
            case "minmax": clip = .minmax
            case "percentile": clip = .percentile(double(q, "p"))
            default: clip = .mse
            }
            return .int(bits: int(q, "bits"), symmetric: q["symmetric"] as! Bool, granularity: granularity(q), clip: clip)
        case "nf4": return .nf4(group: int(q, "group"))
        case "fp8": return .fp8(FP8Format(rawValue: q["format"] as! String)!, granularity: granularity(q))
        case "gguf": return .gguf(GGMLType(name: q["type"] as! String)!)
        default: fatalError("unknown quant \(q)")
        }
    }

    nonisolated(unsafe) static let cases: [Case] = {
        guard let list = json["cases"] as? [[String: Any]] else { return [] }
        return list.map { c in
            let p = c["prune"] as! [String: Any], q = c["quant"] as! [String: Any]
            return Case(id: c["id"] as! String, input: c["input"] as! String, shape: shape(c["input"] as! String),
                        settings: LayerSettings(prune: prune(p), quantize: quant(q)),
                        pruneKind: p["kind"] as! String, quantKind: q["kind"] as! String,
                        metrics: c["metrics"] as! [String: Any], zerosAfterPruning: int(c, "zeros_after_pruning"),
                        prunedRows: int(c, "pruned_rows"), sizeBits: int(c, "size_bits"),
                        encodingPrefix: c["encoding_prefix"] as! String)
        }
    }()

    /// |a − b| ≤ rel·max(|a|, |b|) (+ a tiny absolute floor for values near 0).
    static func close(_ a: Double, _ b: Double, rel: Double = 1e-4, abs floor: Double = 1e-12) -> Bool {
        if a == b { return true }
        return Swift.abs(a - b) <= rel * Swift.max(Swift.abs(a), Swift.abs(b)) + floor
    }

    /// Indices where two float arrays differ bitwise (treating +0 and −0 as equal).
    static func mismatches(_ a: [Float], _ b: [Float]) -> [Int] {
        precondition(a.count == b.count)
        return a.indices.filter { a[$0] != b[$0] }
    }
}
