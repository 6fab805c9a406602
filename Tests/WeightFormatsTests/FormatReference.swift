import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// Helpers shared by the safetensors and NumPy reader tests: comparing a decoded model against the
/// `expected.json` the reference libraries produced, asserting on thrown `ModelError`s, and building
/// malformed safetensors / zip files byte by byte.
enum FormatReference {
    /// `expected.json` of a fixture directory, keyed by file name (relative to that directory).
    static func expected(_ directory: String) throws -> [String: [String: Any]] {
        try #require(Fixtures.json(directory + "/expected.json") as? [String: [String: Any]])
    }

    static func tensors(_ entry: [String: Any]) throws -> [[String: Any]] {
        try #require(entry["tensors"] as? [[String: Any]])
    }

    /// Every element of `tensor`, decoded in small chunks (so chunk boundaries are exercised).
    static func decodeAll(_ tensor: Tensor, chunk: Int = 7) throws -> [Float] {
        var out: [Float] = []
        out.reserveCapacity(tensor.parameters)
        try tensor.forEachChunk(elements: chunk) { start, values in
            #expect(start == out.count)
            out.append(contentsOf: values)
        }
        return out
    }

    /// Compares name, dtype, shape, values (the first up to 16 exactly: Float of numpy's float64 of the
    /// stored element) and statistics computed here in Double from the decoded values against numpy's
    /// (to 1e-6 relative to the tensor's scale).
    static func check(_ tensor: Tensor, against ref: [String: Any], context: String) throws {
        let name = try #require(ref["name"] as? String)
        #expect(tensor.name == name, "\(context)")
        #expect(tensor.dtype.description == ref["dtype"] as? String, "\(context): \(name)")
        #expect(tensor.shape == ref["shape"] as? [Int], "\(context): \(name)")
        let count = try #require(ref["count"] as? Int)
        #expect(tensor.parameters == count, "\(context): \(name)")
        let values = try decodeAll(tensor)
        #expect(values.count == count, "\(context): \(name)")
        let first = try #require(ref["first"] as? [Double])
        #expect(Array(values.prefix(first.count)) == first.map { Float($0) }, "\(context): \(name) first values")
        guard count > 0 else { return }
        var sum = 0.0, lo = Double.infinity, hi = -Double.infinity
        for v in values { let d = Double(v); sum += d; lo = min(lo, d); hi = max(hi, d) }
        let mean = sum / Double(values.count)
        var sq = 0.0
        for v in values { let d = Double(v) - mean; sq += d * d }
        let std = (sq / Double(values.count)).squareRoot()
        let refMin = try #require(ref["min"] as? Double), refMax = try #require(ref["max"] as? Double)
        let scale = max(abs(refMin), abs(refMax), 1e-30)
        func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-6 * max(abs(b), scale) }
        #expect(lo == Double(Float(refMin)), "\(context): \(name) min")
        #expect(hi == Double(Float(refMax)), "\(context): \(name) max")
        #expect(close(mean, try #require(ref["mean"] as? Double)), "\(context): \(name) mean \(mean)")
        #expect(close(std, try #require(ref["std"] as? Double)), "\(context): \(name) std \(std)")
    }

    static func check(_ model: Model, against entry: [String: Any], context: String) throws {
        let refs = try tensors(entry)
        #expect(model.tensors.map(\.name) == refs.compactMap { $0["name"] as? String }, "\(context): tensor order")
        guard model.tensors.map(\.name) == refs.compactMap({ $0["name"] as? String }) else { return }
        for (t, r) in zip(model.tensors, refs) { try check(t, against: r, context: context) }
    }

    /// Runs `body`, requires it to throw a `ModelError`, and checks the reason names the problem.
    @discardableResult
    static func expectError(_ fragment: String, path: String? = nil, sourceLocation: SourceLocation = #_sourceLocation,
                            _ body: () throws -> Void) -> ModelError? {
        do {
            try body()
            Issue.record("expected a ModelError containing '\(fragment)', nothing was thrown", sourceLocation: sourceLocation)
            return nil
        } catch let e as ModelError {
            #expect(e.reason.contains(fragment), "reason: \(e.reason)", sourceLocation: sourceLocation)
            if let path { #expect(e.path == path, sourceLocation: sourceLocation) }
            return e
        } catch {
            Issue.record("expected a ModelError, got \(error)", sourceLocation: sourceLocation)
            return nil
        }
    }

    // MARK: - Building files

    /// `u64 LE length`, the header text, then `data`.
    static func safetensors(_ header: String, data: [UInt8] = []) -> [UInt8] {
        var w = ByteWriter()
        w.u64(UInt64(header.utf8.count))
        w.text(header)
        w.raw(data)
        return w.bytes
    }

    /// A `.npy` file: magic, version, header length, the header text (padded to 64 with a newline), data.
    static func npy(_ header: String, data: [UInt8], major: UInt8 = 1) -> [UInt8] {
        let pre = major == 1 ? 10 : 12
        var text = Array(header.utf8)
        let total = ((pre + text.count + 1 + 63) / 64) * 64
        text += [UInt8](repeating: 0x20, count: total - pre - text.count - 1) + [0x0A]
        var w = ByteWriter()
        w.raw([0x93] + Array("NUMPY".utf8) + [major, 0])
        if major == 1 { w.u16(UInt16(text.count)) } else { w.u32(UInt32(text.count)) }
        w.raw(text)
        w.raw(data)
        return w.bytes
    }

    static func crc32(_ bytes: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0xEDB8_8320 : c >> 1 }
        }
        return ~c
    }

    /// A zip of stored (uncompressed) members.
    static func storedZip(_ members: [(name: String, data: [UInt8])]) -> [UInt8] {
        var w = ByteWriter()
        var central = ByteWriter()
        for m in members {
            let offset = UInt32(w.bytes.count)
            let crc = crc32(m.data)
            let name = Array(m.name.utf8)
            w.u32(0x0403_4B50); w.u16(20); w.u16(0); w.u16(0); w.u16(0); w.u16(0x21)
            w.u32(crc); w.u32(UInt32(m.data.count)); w.u32(UInt32(m.data.count))
            w.u16(UInt16(name.count)); w.u16(0); w.raw(name); w.raw(m.data)
            central.u32(0x0201_4B50); central.u16(20); central.u16(20); central.u16(0); central.u16(0)
            central.u16(0); central.u16(0x21); central.u32(crc)
            central.u32(UInt32(m.data.count)); central.u32(UInt32(m.data.count))
            central.u16(UInt16(name.count)); central.u16(0); central.u16(0); central.u16(0); central.u16(0)
            central.u32(0); central.u32(offset); central.raw(name)
        }
        let cdOffset = UInt32(w.bytes.count)
        w.raw(central.bytes)
        w.u32(0x0605_4B50); w.u16(0); w.u16(0)
        w.u16(UInt16(members.count)); w.u16(UInt16(members.count))
        w.u32(UInt32(central.bytes.count)); w.u32(cdOffset); w.u16(0)
        return w.bytes
    }

    static func readFile(_ path: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    static func f32Bytes(_ values: [Float]) -> [UInt8] {
        var w = ByteWriter()
        for v in values { w.f32(v) }
        return w.bytes
    }
}
