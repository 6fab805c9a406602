import Foundation
import Testing
import TestSupport
@testable import WeightFormats

/// The writers' files as the reference libraries (Python `safetensors` 0.8 and `gguf` 0.19) read them.
///
/// `Tests/Fixtures/written/` holds what our writers produce for `WriterFixtures` and `reference.json`, what
/// `Tests/Fixtures/check_written.py` printed for those files with the reference libraries. Without Python,
/// the tests check that the writers still produce exactly those bytes and that the reference saw in them
/// what we meant to write; with the libraries installed, fresh output is checked by them directly.
///
/// To regenerate after a deliberate format change: `WEIGHTLAB_REGENERATE_WRITTEN=1 swift test --filter
/// WriterReferenceTests`, then `python3 Tests/Fixtures/make_writer_reference.py`.
@Suite("Writers read back by the reference libraries")
struct WriterReferenceTests {
    static let committed = Fixtures.path("written")

    static let referenceLibrariesInstalled: Bool = {
        guard let r = try? python(["-c", "import numpy, safetensors, gguf, ml_dtypes"]) else { return false }
        return r.status == 0
    }()

    static func python(_ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: String) {
        let r = try CommandRunner.run(["python3"] + arguments, executable: "/usr/bin/env")
        return (r.status, Data(r.stdout.utf8), r.stderr)
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// What the reference reported for one file, checked against what we wrote and what our reader sees.
    static func check(reference: [String: Any], directory: String) throws {
        for f in WriterFixtures.safetensorsFiles {
            let entry = try #require(reference[f.name] as? [String: Any], "\(f.name) missing from the reference output")
            try checkSafetensors(f, entry, path: directory + "/" + f.name)
        }
        for f in WriterFixtures.ggufFiles {
            let entry = try #require(reference[f.name] as? [String: Any], "\(f.name) missing from the reference output")
            try checkGGUF(f, entry, path: directory + "/" + f.name)
        }
    }

    /// Every value our reader decodes, each equal to the Float of the reference's float64.
    static func checkValues(_ t: Tensor, _ ref: [String: Any], context: String) throws {
        let values = try #require(ref["values"] as? [Double], "\(context): values")
        let ours = try FormatReference.decodeAll(t, chunk: 256)
        #expect(ours.count == values.count, "\(context)")
        let mismatches = zip(ours, values).enumerated().filter { $0.element.0 != Float($0.element.1) }
        #expect(mismatches.isEmpty, "\(context): \(mismatches.count) values differ, first at \(mismatches.first?.offset ?? -1)")
    }

    static func checkSafetensors(_ f: WriterFixtures.SafetensorsFile, _ entry: [String: Any], path: String) throws {
        let metadata = try #require(entry["metadata"] as? [[String]])
        #expect(metadata == f.metadata.map { [$0.key, $0.value] }.sorted { $0[0] < $1[0] }, "\(f.name) metadata")
        let refs = try #require(entry["tensors"] as? [[String: Any]])
        #expect(refs.compactMap { $0["name"] as? String } == f.tensors.map(\.name), "\(f.name) tensor order")
        let model = try ModelFile.open(path)
        #expect(model.tensors.map(\.name) == f.tensors.map(\.name))
        for ((t, wrote), (ours, ref)) in zip(zip(f.tensors, f.data), zip(model.tensors, refs)) {
            let context = "\(f.name): \(t.name)"
            #expect(ref["dtype"] as? String == t.dtype.safetensorsName, "\(context)")
            #expect(ref["shape"] as? [Int] == t.shape, "\(context)")
            #expect(ref["hex"] as? String == hex(wrote), "\(context): stored bytes")
            try checkValues(ours, ref, context: context)
        }
    }

    /// gguf-py's `field.types`: the value's type, then (for a non-empty array) its first element's chain.
    static func typeChain(_ v: GGUFValue) -> [String] {
        if case .array(_, let items) = v, let first = items.first { return ["ARRAY"] + typeChain(first) }
        return [v.type.description]
    }

    /// gguf-py's `field.data` leaves as check_written.py prints them (floats compared as numbers).
    static func leaves(_ v: GGUFValue) -> [GGUFValue] {
        if case .array(_, let items) = v { return items.flatMap(leaves) }
        return [v]
    }

    static func leafMatches(_ v: GGUFValue, _ text: String) -> Bool {
        switch v {
        case .float32(let x): Double(text) == Double(x)
        case .float64(let x): Double(text) == x
        case .bool(let b): text == (b ? "true" : "false")
        case .string(let s): text == s
        case .uint8(let x): text == String(x)
        case .int8(let x): text == String(x)
        case .uint16(let x): text == String(x)
        case .int16(let x): text == String(x)
        case .uint32(let x): text == String(x)
        case .int32(let x): text == String(x)
        case .uint64(let x): text == String(x)
        case .int64(let x): text == String(x)
        case .array: false
        }
    }

    static func checkGGUF(_ f: WriterFixtures.GGUFFile, _ entry: [String: Any], path: String) throws {
        let alignment = f.metadata.first { $0.key == "general.alignment" }.map { _ in 64 } ?? 32
        #expect(entry["alignment"] as? Int == alignment, "\(f.name) alignment")
        let metadata = try #require(entry["metadata"] as? [[String: Any]])
        #expect(metadata.compactMap { $0["key"] as? String } == f.metadata.map(\.key), "\(f.name) metadata keys")
        for (m, (key, value)) in zip(metadata, f.metadata) {
            #expect(m["types"] as? [String] == typeChain(value), "\(f.name): \(key) types")
            let texts = try #require(m["values"] as? [String])
            let ours = leaves(value)
            #expect(texts.count == ours.count && zip(ours, texts).allSatisfy { leafMatches($0, $1) },
                    "\(f.name): \(key) = \(texts)")
        }
        let refs = try #require(entry["tensors"] as? [[String: Any]])
        #expect(refs.compactMap { $0["name"] as? String } == f.tensors.map(\.name), "\(f.name) tensor order")
        let model = try ModelFile.open(path)
        for ((t, wrote), (ours, ref)) in zip(zip(f.tensors, f.data), zip(model.tensors, refs)) {
            let context = "\(f.name): \(t.name)"
            #expect(ref["type"] as? String == t.type.name, "\(context)")
            #expect(ref["ne"] as? [Int] == Array(t.shape.reversed()), "\(context)")
            #expect(ref["n_bytes"] as? Int == wrote.count, "\(context)")
            #expect(ref["hex"] as? String == hex(wrote), "\(context): stored bytes")
            #expect(ref["offset"] as? Int == (ours.data as? SliceSource).map { Int($0.offset) }, "\(context): data offset")
            try checkValues(ours, ref, context: context)
        }
    }

    @Test func theWritersStillWriteTheCommittedFiles() throws {
        if ProcessInfo.processInfo.environment["WEIGHTLAB_REGENERATE_WRITTEN"] == "1" {
            try WriterFixtures.writeAll(into: Self.committed, overwrite: true)
        }
        let dir = try TemporaryDirectory()
        try WriterFixtures.writeAll(into: dir.path)
        for name in (WriterFixtures.safetensorsFiles.map(\.name) + WriterFixtures.ggufFiles.map(\.name)) {
            let fresh = try Data(contentsOf: URL(fileURLWithPath: dir.path + "/" + name))
            let committed = try Data(contentsOf: URL(fileURLWithPath: Self.committed + "/" + name))
            #expect(fresh == committed, "\(name) differs from Tests/Fixtures/written/\(name)")
        }
    }

    @Test func theReferenceLibrariesReadTheCommittedFilesAsWritten() throws {
        let reference = try #require(try Fixtures.json("written/reference.json") as? [String: Any])
        #expect(Set(reference.keys) == Set(WriterFixtures.safetensorsFiles.map(\.name) + WriterFixtures.ggufFiles.map(\.name)))
        try Self.check(reference: reference, directory: Self.committed)
    }

    /// gguf-py's `GGUFWriter` wrote these fixtures (Tests/Fixtures/make_gguf.py). Handed what our reader found
    /// in them — every KV pair with its exact types, every tensor's type, shape and bytes — our writer
    /// reproduces each file byte for byte: same header encoding, ne order, offsets and padding as the
    /// reference writer. This is also the path `apply` takes to copy a GGUF's metadata.
    @Test(arguments: ["all_types.gguf", "undecodable.gguf"])
    func rewritingAGGUFPyFileReproducesItExactly(_ name: String) throws {
        let path = Fixtures.path("gguf/" + name)
        let source = try FileSource(path: path)
        let header = try GGUFReader.read(source)
        #expect(header.version == 3)
        let tensors = header.tensors.map { GGUFWriter.TensorEntry(name: $0.name, type: $0.type, shape: $0.shape) }
        var sink = MemorySink()
        try GGUFWriter.write(metadata: header.metadata.map { ($0.key, $0.stored) }, tensors: tensors,
                             to: &sink, path: "rewritten") { i, out in
            let info = header.tensors[i]
            try out.write(try source.bytes(at: header.dataOffset + info.offset, count: info.byteCount))
        }
        let original = try source.bytes(at: 0, count: Int(source.size))
        #expect(sink.bytes.count == original.count)
        let firstDifference = zip(sink.bytes, original).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(sink.bytes == original, "first difference at byte \(firstDifference ?? -1)")
    }

    /// The same for files `safetensors.numpy.save_file` wrote (Tests/Fixtures/make_formats_safetensors_numpy.py):
    /// given the tensors in the order our reader returns them (offset order) and the metadata in header order,
    /// our writer reproduces the reference's header JSON, its space padding and its data section exactly.
    @Test(arguments: ["dtypes.safetensors", "shapes.safetensors", "sharded/model-00001-of-00002.safetensors",
                      "sharded/model-00002-of-00002.safetensors"])
    func rewritingASafetensorsFileReproducesItExactly(_ name: String) throws {
        let source = try FileSource(path: Fixtures.path("safetensors/" + name))
        let model = try SafetensorsReader.open(source)
        let metadata = try model.metadata.map { kv -> (key: String, value: String) in
            guard case .string(let s) = kv.value else { throw ModelError(name, "metadata is not a string") }
            return (kv.key, s)
        }
        let tensors = model.tensors.map { SafetensorsWriter.TensorEntry(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        var sink = MemorySink()
        try SafetensorsWriter.write(tensors: tensors, metadata: metadata, to: &sink, path: "rewritten") { i, out in
            try out.write(try model.tensors[i].data.bytes(at: 0, count: model.tensors[i].byteCount))
        }
        let original = try source.bytes(at: 0, count: Int(source.size))
        let firstDifference = zip(sink.bytes, original).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(sink.bytes == original, "first difference at byte \(firstDifference ?? -1)")
    }

    @Test(.enabled(if: WriterReferenceTests.referenceLibrariesInstalled, "needs python3 with numpy, safetensors, gguf, ml_dtypes"))
    func theReferenceLibrariesReadFreshOutput() throws {
        let dir = try TemporaryDirectory()
        try WriterFixtures.writeAll(into: dir.path)
        let run = try Self.python([Fixtures.path("check_written.py"), dir.path])
        #expect(run.status == 0, "check_written.py failed: \(run.stderr)")
        let reference = try #require(try JSONSerialization.jsonObject(with: run.stdout) as? [String: Any])
        try Self.check(reference: reference, directory: dir.path)
    }
}
