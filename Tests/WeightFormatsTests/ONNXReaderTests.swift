import Foundation
import Testing
import TestSupport
@testable import WeightFormats

/// ONNXReader against what onnx itself reads (`Tests/Fixtures/onnx/expected.json`, written by
/// `Tests/Fixtures/make_onnx.py` with onnx's `numpy_helper`, its reference evaluator for DequantizeLinear and
/// ONNX Runtime for MatMulNBits), and against hostile files.
@Suite struct ONNXReaderTests {
    static let directory = Fixtures.path("onnx")

    static func expected(_ file: String) throws -> [[String: Any]] {
        let all = try #require(Fixtures.json("onnx/expected.json") as? [String: Any])
        let entry = try #require(all[file] as? [String: Any], "\(file) missing from expected.json")
        return try #require(entry["tensors"] as? [[String: Any]])
    }

    /// Names, order, dtypes, shapes and every value (Float of onnx's float64 of the element); for large
    /// tensors the first 64 values exactly and the sum, min and max.
    static func check(_ file: String) throws -> Model {
        let model = try ModelFile.open(directory + "/" + file)
        #expect(model.format == .onnx)
        let refs = try expected(file)
        #expect(model.tensors.map(\.name) == refs.compactMap { $0["name"] as? String }, "\(file): names in order")
        for (t, ref) in zip(model.tensors, refs) {
            let context = "\(file): \(t.name)"
            #expect(t.dtype.description == ref["dtype"] as? String, "\(context) dtype")
            #expect(t.shape == ref["shape"] as? [Int], "\(context) shape")
            let values = try FormatReference.decodeAll(t, chunk: 5)
            #expect(values.count == ref["count"] as? Int, "\(context) count")
            if let all = ref["values"] as? [Double] {
                let bad = zip(values, all).enumerated().filter { $0.element.0.bitPattern != Float($0.element.1).bitPattern }
                #expect(bad.isEmpty, "\(context): \(bad.count) values differ, first at \(bad.first?.offset ?? -1): \(bad.first.map { "\($0.element.0) vs \($0.element.1)" } ?? "")")
            } else {
                let first = try #require(ref["first"] as? [Double])
                #expect(Array(values.prefix(first.count)) == first.map { Float($0) }, "\(context) first values")
                let sum = values.reduce(0.0) { $0 + Double($1) }
                let refSum = try #require(ref["sum"] as? Double)
                #expect(abs(sum - refSum) <= 1e-9 * max(1, abs(refSum)) * Double(values.count), "\(context) sum \(sum) vs \(refSum)")
                // Through Float: Foundation's JSON parser can miss the last bit of a double.
                #expect(values.min() == (ref["min"] as? Double).map { Float($0) }, "\(context) min")
                #expect(values.max() == (ref["max"] as? Double).map { Float($0) }, "\(context) max")
            }
        }
        return model
    }

    @Test func sileroVADWeightsSitInConstantsAndSubgraphs() throws {
        let model = try Self.check("silero_vad_16k_op15.onnx")
        #expect(model.tensors.count > 100)
        // The STFT basis and the encoder weights are Constants one If-subgraph deep in the real file.
        #expect(model.metadata.contains { $0.key == "producer_name" })
        #expect(model.metadata.contains { $0.key.hasPrefix("constant ") })
    }

    @Test func basicPitchAsTf2onnxWroteIt() throws {
        let model = try Self.check("basic_pitch_nmp.onnx")
        #expect(model.metadata.first { $0.key == "producer_name" }?.value == .string("tf2onnx"))
        #expect(model.tensors.count >= 102)
    }

    @Test func everyStorageFormReadsAsOnnxReadsIt() throws {
        let model = try Self.check("storage_forms.onnx")
        let notRead = model.metadata.first { $0.key == "not read" }?.value
        #expect(notRead == .string("'names' (STRING)"))
    }

    @Test func constantsSubgraphsFunctionsAndTrainingGraphs() throws {
        let model = try Self.check("graphs.onnx")
        let names = model.tensors.map(\.name)
        #expect(names.contains("deep_w"))               // an If in a Loop in an If
        // If's attributes are stored sorted (else_branch first): the then branch's `trip` is the repeat.
        #expect(names.contains("outer_if.then_branch/trip"))
        #expect(names.contains("fn_scale"))              // a Constant in a function
        #expect(names.contains("trained_w"))             // a training-info initializer
        let consumers = model.metadata.first { $0.key == "constant fn_scale" }?.value
        #expect(consumers == .string("Mul '' input 1"))
    }

    @Test func externalDataIsReadInPlaceBesideTheModel() throws {
        let model = try Self.check("external/model.onnx")
        #expect(model.tensors.allSatisfy { $0.data.path.hasSuffix("model.onnx_data") })
        #expect(model.sourceFiles.count == 2)
    }

    /// A model over 2 GB: its weights in external data past the 4 GiB mark (a sparse file), read in place.
    @Test func externalDataPastFourGigabytesIsReadInPlace() throws {
        let dir = try TemporaryDirectory()
        typealias P = ProtobufEncoding
        let offset: UInt64 = 5 << 30
        func entry(_ k: String, _ v: String) -> [UInt8] { P.field(13, P.field(1, k) + P.field(2, v)) }
        let tensor = P.field(1, P.varint(2) + P.varint(2)) + P.field(2, int: 1) + P.field(8, "big.weight")
            + entry("location", "weights.bin") + entry("offset", String(offset)) + entry("length", "16") + P.field(14, int: 1)
        let model = P.field(1, int: 10) + P.field(7, P.field(5, tensor))
        let path = try dir.write("big.onnx", model)
        let data = dir.path + "/weights.bin"
        FileManager.default.createFile(atPath: data, contents: nil)
        let handle = try #require(FileHandle(forWritingAtPath: data))
        try handle.seek(toOffset: offset)
        let values: [Float] = [1.5, -2, 0.25, 8]
        try handle.write(contentsOf: values.withUnsafeBytes { Data($0) })
        try handle.close()
        let m = try ModelFile.open(path)
        #expect(m.tensors.map(\.name) == ["big.weight"])
        #expect(m.tensors[0].shape == [2, 2])
        #expect(try FormatReference.decodeAll(m.tensors[0]) == values)
        #expect(m.tensors[0].data is SliceSource)
    }

    @Test func rawAndPackedFloatDataAreReadFromTheFileNotCopied() throws {
        let model = try ModelFile.open(Self.directory + "/storage_forms.onnx")
        let byName = Dictionary(uniqueKeysWithValues: model.tensors.map { ($0.name, $0) })
        for name in ["float_raw", "float_typed", "double_raw", "double_typed", "int8_raw", "float16_raw"] {
            #expect(byName[name]?.data is SliceSource, "\(name)")
        }
        #expect(byName["int64_typed"]?.data is MemorySource)   // varints: decoded when opened
    }

    @Test func aDirectoryHoldingModelOnnxOpens() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.copyItem(atPath: Self.directory + "/writer/model.onnx", toPath: dir.path + "/model.onnx")
        let model = try ModelFile.open(dir.path)
        #expect(model.tensors.map(\.name) == ["conv.weight", "conv.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
    }

    @Test func quantizedWeightsAreDecodedAndLabelled() throws {
        let model = try Self.check("quantized.onnx")
        let labels = Dictionary(uniqueKeysWithValues: model.tensors.compactMap { t in t.storedAs.map { (t.name, $0) } })
        #expect(labels["w_int4_block16"] == "DequantizeLinear INT4 blocks of 16 along axis 1, FLOAT scales (codes 'w_int4_block16_quantized', scale 'w_int4_block16_scale')")
        #expect(labels["w_int8_axis0"] == "DequantizeLinear INT8 per axis 0, FLOAT scales (codes 'w_int8_axis0_quantized', scale 'w_int8_axis0_scale')")
        #expect(labels["mm_nbits_zp_B"] == "MatMulNBits 4-bit blocks of 32, FLOAT scales (B 'mm_nbits_zp_B', scales 'mm_nbits_zp_scales', zero points 'mm_nbits_zp_zero_points')")
        #expect(labels.count == 7)
        #expect(!model.metadata.contains { $0.key.hasPrefix("quantized ") })
    }

    // MARK: - Hostile external data

    static func refusal(_ path: String) -> String? {
        do {
            _ = try ModelFile.open(path)
            return nil
        } catch let e as ModelError {
            return e.reason
        } catch {
            return "unexpected \(error)"
        }
    }

    @Test(arguments: [
        ("dotdot", "leaves the model's directory"),
        ("subdir_dotdot", "leaves the model's directory"),
        ("absolute", "is an absolute path"),
        ("ort_mem", "in-memory marker"),
        ("missing", "does not exist beside the model"),
        ("offset_past_end", "is past the end"),
        ("length_text", "is not a non-negative integer"),
        ("length_huge", "runs past the end"),
    ])
    func externalDataOutsideTheModelIsRefused(_ file: String, _ reason: String) throws {
        let r = try #require(Self.refusal(Self.directory + "/external/\(file).onnx"))
        #expect(r.contains("tensor 'ext_w1': external data"), "\(r)")
        #expect(r.contains(reason), "\(r)")
    }

    @Test func symlinksOutOfTheDirectoryAreRefused() throws {
        let dir = try TemporaryDirectory()
        let inner = dir.path + "/model"
        try FileManager.default.createDirectory(atPath: inner, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.directory + "/external/symlink.onnx", toPath: inner + "/symlink.onnx")
        try FileManager.default.copyItem(atPath: Self.directory + "/external/model.onnx_data", toPath: dir.path + "/outside.bin")
        try FileManager.default.createSymbolicLink(atPath: inner + "/link.onnx_data", withDestinationPath: dir.path + "/outside.bin")
        let r = try #require(Self.refusal(inner + "/symlink.onnx"))
        #expect(r.contains("is a symbolic link; refused"), "\(r)")
        // A symlinked directory on the way out is caught by the real-path check.
        try FileManager.default.createDirectory(atPath: dir.path + "/elsewhere", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.directory + "/external/model.onnx_data", toPath: dir.path + "/elsewhere/link.onnx_data")
        try FileManager.default.removeItem(atPath: inner + "/link.onnx_data")
        try FileManager.default.createSymbolicLink(atPath: inner + "/sub", withDestinationPath: dir.path + "/elsewhere")
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: inner + "/symlink.onnx")))
        // Same length: "link.onnx_data" -> "sub/link.onnx" is shorter, so replace with an equal-length path.
        let from = Array("link.onnx_data".utf8), to = Array("sub/link.onnx_".utf8)
        try FileManager.default.moveItem(atPath: dir.path + "/elsewhere/link.onnx_data", toPath: dir.path + "/elsewhere/link.onnx_")
        let at = try #require((0...(bytes.count - from.count)).first { Array(bytes[$0..<($0 + from.count)]) == from })
        bytes.replaceSubrange(at..<(at + from.count), with: to)
        let redirected = try dir.write("model/redirected.onnx", bytes)
        let r2 = try #require(Self.refusal(redirected))
        #expect(r2.contains("resolves outside the model's directory"), "\(r2)")
    }

    // MARK: - Hostile protobuf

    /// The bytes of a fixture with `edit` applied, written to a temporary `.onnx`.
    static func mutated(_ dir: TemporaryDirectory, _ name: String, from file: String = "storage_forms.onnx",
                        _ edit: (inout [UInt8]) -> Void) throws -> String {
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: directory + "/" + file)))
        edit(&bytes)
        return try dir.write(name + ".onnx", bytes)
    }

    @Test func everyTruncationIsOneClearError() throws {
        let dir = try TemporaryDirectory()
        let full = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.directory + "/graphs.onnx")))
        for cut in stride(from: 1, to: full.count, by: 7) {
            let p = try dir.write("cut.onnx", Array(full[0..<cut]))
            do {
                let m = try ModelFile.open(p)
                for t in m.tensors { _ = try FormatReference.decodeAll(t, chunk: 64) }
            } catch let e as ModelError {
                #expect(!e.reason.isEmpty && !e.reason.contains("\n"))
            }
        }
    }

    /// Random byte changes in every generated fixture: each opens or fails with one ModelError line, and
    /// every tensor that opens decodes (a crash or another error type fails the run).
    @Test(arguments: ["graphs.onnx", "quantized.onnx", "storage_forms.onnx"])
    func randomDamageIsOneClearError(_ file: String) throws {
        let dir = try TemporaryDirectory()
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.directory + "/" + file)))
        var state: UInt64 = 0x9E3779B97F4A7C15
        func next() -> Int { state = state &* 6364136223846793005 &+ 1442695040888963407; return Int(state >> 33) }
        for round in 0..<300 {
            var bytes = original
            for _ in 0..<(1 + next() % 4) {
                let at = next() % bytes.count
                switch next() % 3 {
                case 0: bytes[at] = UInt8(truncatingIfNeeded: next())
                case 1: bytes[at] = 0xFF
                default: bytes[at] ^= 0x80
                }
            }
            let p = try dir.write("damaged.onnx", bytes)
            do {
                let m = try ModelFile.open(p)
                for t in m.tensors { _ = try FormatReference.decodeAll(t, chunk: 64) }
            } catch let e as ModelError {
                #expect(!e.reason.isEmpty && !e.reason.contains("\n"), "round \(round)")
            }
        }
    }

    @Test func badVarintsHugeLengthsAndDeepNestingAreRefused() throws {
        let dir = try TemporaryDirectory()
        // ir_version's varint never ends.
        let badVarint = try dir.write("varint.onnx", [0x08] + [UInt8](repeating: 0xFF, count: 12))
        #expect(Self.refusal(badVarint)?.contains("bad varint") == true)
        // A graph field declaring 2^40 bytes.
        let huge = try dir.write("huge.onnx", [0x08, 0x0A, 0x3A, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20])
        #expect(Self.refusal(huge)?.contains("declares 1099511627776 bytes") == true, "\(Self.refusal(huge) ?? "")")
        // Graph -> node -> attribute -> graph, 40 levels deep.
        func len(_ n: Int) -> [UInt8] { var v = n, out: [UInt8] = []; repeat { out.append(UInt8(v & 0x7F) | (v > 0x7F ? 0x80 : 0)); v >>= 7 } while v > 0; return out }
        var graph: [UInt8] = []
        for _ in 0..<40 {
            let attribute: [UInt8] = [0x32] + len(graph.count) + graph
            let node: [UInt8] = [0x2A] + len(attribute.count) + attribute
            graph = [0x0A] + len(node.count) + node
        }
        let deep = try dir.write("deep.onnx", [0x08, 0x0A, 0x3A] + len(graph.count) + graph)
        #expect(Self.refusal(deep)?.contains("nest deeper than 32") == true, "\(Self.refusal(deep) ?? "")")
        // Wire type 3 (a group).
        let group = try dir.write("group.onnx", [0x08, 0x0A, 0x3B])
        #expect(Self.refusal(group)?.contains("wire type 3") == true)
        // No graph.
        let empty = try dir.write("nograph.onnx", [0x08, 0x0A])
        #expect(Self.refusal(empty)?.contains("no graph") == true)
    }

    @Test func rawDataShorterThanTheShapeIsRefused() throws {
        let dir = try TemporaryDirectory()
        // float_raw is [3, 4] F32: 48 bytes of raw_data (field 9 = 0x4A, length 0x30). Declare dims [3, 5].
        let p = try Self.mutated(dir, "short") { b in
            // The first dims of float_raw: 0x08 0x03 0x08 0x04; make the second dim 5.
            if let i = (0..<(b.count - 4)).first(where: { b[$0] == 0x08 && b[$0 + 1] == 0x03 && b[$0 + 2] == 0x08 && b[$0 + 3] == 0x04 }) {
                b[i + 3] = 0x05
            }
        }
        let r = try #require(Self.refusal(p))
        #expect(r.contains("raw_data holds 48 bytes, FLOAT [3, 5] needs 60"), "\(r)")
    }

    @Test func sniffNeedsTheNameOrALeadingIRVersion() {
        #expect(ONNXReader.sniff(head: [0x08, 0x08, 0x12], name: "m.onnx") == .signature)
        #expect(ONNXReader.sniff(head: [0x7B, 0x22], name: "m.onnx") == .guess)
        #expect(ONNXReader.sniff(head: [0x08, 0x08, 0x12], name: "m.bin") == nil)
    }
}
