import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// `apply`'s verification from the write pass: each piece's engine evaluation and the digest of its
/// reconstruction are kept while writing, and the reopened file's values (decoded by the reader) must match
/// them. These tests check that the numbers kept are the engine's (what `report` prints), that a single
/// corrupted byte of the written file still fails verification with the element named and leaves no output,
/// and that the digest tells one changed value apart.
struct ApplyDigestVerificationTests {
    /// A GGUF input with one F16 tensor of several engine pieces (2 100 × 1 024 values: three pieces, the last
    /// one short) and one small F32 tensor, values seeded.
    static func input(_ dir: TemporaryDirectory) throws -> Model {
        let path = dir.path + "/in.gguf"
        let big = [2100, 1024], small = [8, 64]
        var seed: UInt64 = 11
        func next() -> Float {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int64(bitPattern: seed) >> 40) / Float(1 << 23) * 0.05
        }
        let a = (0..<(big[0] * big[1])).map { _ in Float16(next()) }
        let b = (0..<(small[0] * small[1])).map { _ in next() }
        try GGUFWriter.write(to: path, metadata: [("general.architecture", .string("llama"))],
                             tensors: [.init(name: "blk.0.ffn_up.weight", type: GGMLType(id: 1)!, shape: big),
                                       .init(name: "blk.0.attn_q.weight", type: GGMLType(id: 0)!, shape: small)]) { i, sink in
            if i == 0 { try a.withUnsafeBytes { try sink.write($0) } } else { try b.withUnsafeBytes { try sink.write($0) } }
        }
        let model = try ModelFile.open(path)
        #expect(model.tensors.map(\.shape) == [big, small])
        return model
    }

    func job(_ model: Model, _ settings: [LayerSettings], output: String) -> ApplyJob {
        ApplyJob(model: model, settings: settings, output: output, overwrite: false, verifies: true, planText: "",
                 engine: Engine(model: model, scheduler: ImmediateScheduler()), cancel: CancellationToken(), progress: { _ in })
    }

    /// Writes `model` as `GGUFModelWriter` does, with `tamper` run on the temporary file before verifying it.
    func write(_ j: ApplyJob, tamper: @escaping (String) throws -> Void) throws {
        let model = j.model
        try GGUFWriter.write(to: j.output, metadata: [("general.architecture", .string("llama"))], tensors: model.tensors.indices.map {
            GGUFWriter.TensorEntry(name: model.tensors[$0].name, type: GGUFModelWriter.storedType(model.tensors[$0], j.settings[$0]),
                                   shape: model.tensors[$0].shape)
        }, beforeCommit: { temporary in
            try tamper(temporary)
            try j.verify(try GGUFReader.open(FileSource(path: temporary)))
        }) { i, sink in
            let s = j.settings[i]
            try j.writePieces(i, to: &sink, checkedAs: DType(ggml: GGUFModelWriter.storedType(model.tensors[i], s))) { shape, values, cut in
                try LayerEvaluator.encode(s, shape: shape, values: values, globalCut: cut)!.part("blocks").bytes
            }
        }
    }

    @Test(arguments: [GGMLType.q8_0, GGMLType.q4_0])
    func numbersKeptWhileWritingAreTheEngines(type: GGMLType) throws {
        let dir = try TemporaryDirectory()
        let model = try Self.input(dir)
        let settings = [LayerSettings(prune: .none, quantize: .gguf(type)), LayerSettings(prune: .none, quantize: .gguf(.q8_0))]
        let out = dir.path + "/out.gguf"
        let o = try ModelApply.run(model: model, settings: settings, planText: "{}", output: out, container: "gguf",
                                   overwrite: false, verify: true, numbers: false)
        let all: Int = model.tensors.reduce(0) { $0 + $1.parameters }
        #expect(o.verified)
        #expect(o.verifiedValues == all)
        // What `report` computes for the same plan, from scratch.
        let report = try PlanEvaluation(model: model, settings: settings, engine: Engine(model: model, scheduler: ImmediateScheduler()))
        let kept = try #require(o.evaluation)
        #expect(kept.layers == report.layers)
        #expect(kept.totals == report.totals)
    }

    @Test(arguments: [GGMLType.q8_0, GGMLType.q4_0])
    func aCorruptedByteFailsVerification(type: GGMLType) throws {
        let dir = try TemporaryDirectory()
        let model = try Self.input(dir)
        let settings = [LayerSettings(prune: .none, quantize: .gguf(type)), LayerSettings(prune: .none, quantize: .gguf(.q8_0))]
        let out = dir.path + "/out.gguf"
        // The untouched file verifies from the digests kept while writing.
        let clean = job(model, settings, output: out)
        try write(clean) { _ in }
        #expect(clean.checkedTensors == [0, 1])
        try FileManager.default.removeItem(atPath: out)

        // One code byte of block 40 000 (in the second piece of the big tensor) changed in the written file.
        let block = 40_000
        let j = job(model, settings, output: out)
        var message = ""
        do {
            try write(j) { temporary in
                let written = try GGUFReader.open(FileSource(path: temporary))
                let t = written.tensors[0]
                let original = try t.data.bytes(at: 0, count: t.byteCount)
                let blockBytes = Array(original[(block * type.typeSize)..<((block + 1) * type.typeSize)])
                var file = try [UInt8](Data(contentsOf: URL(fileURLWithPath: temporary)))
                // The tensor's bytes are found in the file by content, so the test does not trust the writer's offsets.
                let at = try #require(Self.find(original, in: file))
                file[at + block * type.typeSize + 5] ^= 0x11
                #expect(blockBytes[5] != file[at + block * type.typeSize + 5])
                try Data(file).write(to: URL(fileURLWithPath: temporary))
            }
            Issue.record("verification passed a corrupted file")
        } catch let e as ApplyError {
            message = e.message
            #expect(e.kind == .write)
        }
        // Byte 5 of a Q8_0 block is the code of element 3; of a Q4_0 block, elements 3 and 19.
        let element = "element \(block * 32 + 3)"
        #expect(message.contains("blk.0.ffn_up.weight"), "\(message)")
        #expect(message.contains(element), "\(message)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["in.gguf"])
    }

    /// A verified write of ggml blocks quantizes each block once: the blocks of the engine's evaluation are
    /// written and the writer's own quantizer is not called; without verification it is, for every piece. The
    /// two files are equal byte for byte.
    @Test(arguments: [GGMLType.q8_0, GGMLType.q4_0])
    func verifiedWritesTheEnginesBlocksQuantizingOnce(type: GGMLType) throws {
        let dir = try TemporaryDirectory()
        let model = try Self.input(dir)
        let settings = [LayerSettings(prune: .none, quantize: .gguf(type)), LayerSettings(prune: .none, quantize: .gguf(.q8_0))]
        var files: [Data] = []
        for verifies in [true, false] {
            let out = dir.path + "/out-\(verifies).gguf"
            let j = ApplyJob(model: model, settings: settings, output: out, overwrite: false, verifies: verifies, planText: "",
                             engine: Engine(model: model, scheduler: ImmediateScheduler()), cancel: CancellationToken(), progress: { _ in })
            let produced = Counted()
            try GGUFWriter.write(to: out, metadata: [("general.architecture", .string("llama"))], tensors: model.tensors.indices.map {
                GGUFWriter.TensorEntry(name: model.tensors[$0].name, type: GGUFModelWriter.storedType(model.tensors[$0], settings[$0]),
                                       shape: model.tensors[$0].shape)
            }, beforeCommit: verifies ? { try j.verify(try GGUFReader.open(FileSource(path: $0))) } : nil) { i, sink in
                let s = settings[i]
                try j.writePieces(i, to: &sink, checkedAs: DType(ggml: GGUFModelWriter.storedType(model.tensors[i], s))) { shape, values, cut in
                    produced.add()
                    return try LayerEvaluator.encode(s, shape: shape, values: values, globalCut: cut)!.part("blocks").bytes
                }
            }
            // The big tensor is three pieces, the small one one.
            #expect(produced.count == (verifies ? 0 : 4))
            if verifies { #expect(j.checkedTensors == [0, 1] && j.verifiedValues == model.tensors.reduce(0) { $0 + $1.parameters }) }
            files.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        #expect(files[0] == files[1])
    }

    final class Counted: @unchecked Sendable {
        private let lock = NSLock()
        private var n = 0
        func add() { lock.withLock { n += 1 } }
        var count: Int { lock.withLock { n } }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard needle.count <= haystack.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return start }
        }
        return nil
    }

    @Test func digestSeesEveryChangedValue() {
        let values: [Float] = (0..<1003).map { Float($0) * 0.37 - 100 }
        let digest = values.withUnsafeBufferPointer { ValueDigest.of($0) }
        var distinct = Set<UInt64>([digest])
        var changes = 0
        for k in values.indices {
            let candidates: [Float] = [0, -0.0, values[k].nextUp, .nan]
            for change in candidates where change.bitPattern != values[k].bitPattern {
                var v = values
                v[k] = change
                let d: UInt64 = v.withUnsafeBufferPointer { ValueDigest.of($0) }
                distinct.insert(d)
                changes += 1
            }
        }
        // Every single-value change gives a digest of its own.
        #expect(distinct.count == 1 + changes)
        // Fewer values, or the same values in another order, differ too.
        let shorter: UInt64 = Array(values.dropLast()).withUnsafeBufferPointer { ValueDigest.of($0) }
        #expect(shorter != digest)
        var swapped = values
        swapped.swapAt(3, 700)
        let reordered: UInt64 = swapped.withUnsafeBufferPointer { ValueDigest.of($0) }
        #expect(reordered != digest)
    }
}
