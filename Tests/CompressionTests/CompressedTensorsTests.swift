@testable import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats

/// compressed-tensors packing, checked by an independent decoder.
///
/// `Tests/Fixtures/compressed_tensors/model.safetensors` and `config.json` are what `CompressedTensors` packs
/// for the layers below (written through `SafetensorsWriter`); `decoded.safetensors` is what the numpy decoder
/// in `Tests/Fixtures/make_compressed_tensors.py`, written from the format's description (unpack_from_int32,
/// signed codes and zero points, `(q − zp)·scale`), reads in them, finding each module's scheme through the
/// config's groups. The tests check that we still pack exactly those bytes and that the decoded values are
/// the engine's reconstruction bit for bit.
///
/// To regenerate after a deliberate change: `WEIGHTLAB_REGENERATE_CT=1 swift test --filter
/// CompressedTensorsTests`, then `python3 Tests/Fixtures/make_compressed_tensors.py`.
@Suite struct CompressedTensorsTests {
    struct Layer {
        let name: String
        let input: String
        let shape: [Int]
        let settings: LayerSettings
    }

    static let layers: [Layer] = [
        Layer(name: "model.layers.0.sym4_g32.weight", input: "normal_16x256", shape: [16, 256],
              settings: LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax))),
        // N = 7: the zero points' last word along N is padded.
        Layer(name: "model.layers.0.asym4_ch.weight", input: "laplace_7x64", shape: [7, 64],
              settings: LayerSettings(quantize: .int(bits: 4, symmetric: false, granularity: .channel, clip: .minmax))),
        // A row of zeros: scale 0.
        Layer(name: "model.layers.0.asym4_g16_zerorow.weight", input: "zerorow_8x96", shape: [8, 96],
              settings: LayerSettings(quantize: .int(bits: 4, symmetric: false, granularity: .group(16), clip: .minmax))),
        // K = 20: the codes' last word of every row is padded.
        Layer(name: "model.layers.1.sym4_ch_k20.weight", input: "normal_16x256", shape: [5, 20],
              settings: LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .channel, clip: .percentile(99)))),
        Layer(name: "model.layers.1.asym2_g32.weight", input: "normal_16x256", shape: [16, 256],
              settings: LayerSettings(quantize: .int(bits: 2, symmetric: false, granularity: .group(32), clip: .mse))),
        Layer(name: "model.layers.1.sym8_ch.weight", input: "laplace_7x64", shape: [7, 64],
              settings: LayerSettings(quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))),
        Layer(name: "model.layers.2.asym8_g32.weight", input: "normal_16x256", shape: [16, 256],
              settings: LayerSettings(quantize: .int(bits: 8, symmetric: false, granularity: .group(32), clip: .minmax))),
        Layer(name: "model.layers.2.asym3_tensor.weight", input: "ties_4x32", shape: [4, 32],
              settings: LayerSettings(quantize: .int(bits: 3, symmetric: false, granularity: .tensor, clip: .minmax))),
        Layer(name: "model.layers.2.asym4_tensor.weight", input: "laplace_7x64", shape: [7, 64],
              settings: LayerSettings(quantize: .int(bits: 4, symmetric: false, granularity: .tensor, clip: .minmax))),
        // Pruned weights are coded as exact zeros.
        Layer(name: "model.layers.3.nm24_asym4_g64.weight", input: "normal_16x256", shape: [16, 256],
              settings: LayerSettings(prune: .nm(n: 2, m: 4), quantize: .int(bits: 4, symmetric: false, granularity: .group(64), clip: .minmax))),
        Layer(name: "model.layers.3.fp8_ch.weight", input: "laplace_7x64", shape: [7, 64],
              settings: LayerSettings(quantize: .fp8(.e4m3, granularity: .channel))),
        Layer(name: "model.layers.3.fp8_tensor.weight", input: "normal_16x256", shape: [16, 256],
              settings: LayerSettings(quantize: .fp8(.e4m3, granularity: .tensor))),
        // Left alone: stored as it is and listed in `ignore`.
        Layer(name: "lm_head.weight", input: "ties_4x32", shape: [4, 32], settings: .identity),
    ]

    static let directory = Fixtures.path("compressed_tensors")

    static func values(_ l: Layer) throws -> [Float] {
        let all = try CompressionReference.input(l.input)
        return Array(all.prefix(l.shape.reduce(1, *)))
    }

    /// The checkpoint's tensors and config for `layers`, as an exporter writes them.
    static func pack() throws -> (file: [UInt8], config: String) {
        let schemes = try CompressedTensors.schemes(layers.map { ($0.name, $0.shape, $0.settings) })
        var stored: [CompressedTensors.StoredTensor] = []
        for (l, scheme) in zip(layers, schemes) {
            let v = try values(l)
            if let scheme, let encoded = try v.withUnsafeBufferPointer({ try LayerEvaluator.encode(l.settings, shape: l.shape, values: $0) }) {
                let module = CompressedTensors.module(of: l.name)!
                let packed = try CompressedTensors.pack(encoded, module: module, scheme: scheme)
                // The header a streaming writer computes up front is the one the packed tensors need.
                #expect(packed.map(\.entry) == CompressedTensors.entries(module: module, shape: l.shape, scheme: scheme), "\(l.name)")
                #expect(packed.map(\.name) == CompressedTensors.tensorNames(module: module, scheme: scheme))
                for t in packed { #expect(t.bytes.count == t.dtype.byteCount(elements: t.shape.reduce(1, *)), "\(t.name)") }
                stored += packed
            } else {
                var bytes: [UInt8] = []
                for x in v { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
                stored.append(.init(name: l.name, dtype: .float32, shape: l.shape, bytes: bytes))
            }
        }
        var sink = MemorySink()
        try SafetensorsWriter.write(tensors: stored.map(\.entry), metadata: [("format", "pt")], to: &sink, path: "model.safetensors") { i, s in
            try s.write(stored[i].bytes)
        }
        let recipe = CompressedTensors.quantizationConfig(zip(layers, schemes).map { ($0.name, $0.shape, $1) })
        return (sink.bytes, "{\"quantization_config\": " + recipe + "}\n")
    }

    @Test func packsTheCommittedFiles() throws {
        let (file, config) = try Self.pack()
        if ProcessInfo.processInfo.environment["WEIGHTLAB_REGENERATE_CT"] == "1" {
            try Data(file).write(to: URL(fileURLWithPath: Self.directory + "/model.safetensors"))
            try Data(config.utf8).write(to: URL(fileURLWithPath: Self.directory + "/config.json"))
        }
        let committed = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Self.directory + "/model.safetensors")))
        #expect(file == committed, "model.safetensors differs from Tests/Fixtures/compressed_tensors/model.safetensors")
        let committedConfig = try String(contentsOfFile: Self.directory + "/config.json", encoding: .utf8)
        #expect(config == committedConfig)
        // Valid JSON with the fields loaders read.
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(config.utf8)) as? [String: Any])
        let q = try #require(parsed["quantization_config"] as? [String: Any])
        #expect(q["quant_method"] as? String == "compressed-tensors")
        #expect(q["format"] as? String == "mixed-precision")
        #expect(q["quantization_status"] as? String == "compressed")
        #expect(q["ignore"] as? [String] == ["lm_head"])
    }

    @Test func theNumpyDecoderReadsTheEnginesReconstruction() throws {
        let decoded = try ModelFile.open(Self.directory + "/decoded.safetensors")
        for l in Self.layers where !l.settings.isIdentity {
            let t = try #require(decoded.tensors.first { $0.name == l.name }, "\(l.name) missing from decoded.safetensors")
            #expect(t.shape == l.shape)
            var theirs = [Float](repeating: .nan, count: t.parameters)
            try theirs.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            let v = try Self.values(l)
            var ours = [Float](repeating: .nan, count: v.count)
            try v.withUnsafeBufferPointer { vp in
                try ours.withUnsafeMutableBufferPointer { op in
                    _ = try LayerEvaluator.evaluate(l.settings, shape: l.shape, values: vp, reconstruction: op)
                }
            }
            let bad = (0..<ours.count).filter { ours[$0] != theirs[$0] }
            #expect(bad.isEmpty, "\(l.name): \(bad.count) values differ, first at \(bad.first ?? -1): \(bad.first.map { "\(ours[$0]) vs \(theirs[$0])" } ?? "")")
        }
    }

    // MARK: - Layout details

    @Test func packingIsLowFirstWithTheOffset() throws {
        // 4 bits, codes −8…7 in a row of 9: word 0 holds columns 0–7 (+8 each, low nibble first), word 1 column 8.
        let q: [Int8] = [-8, -7, -1, 0, 1, 2, 6, 7, 3]
        let bytes = CompressedTensors.packRows(q, rows: 1, columns: 9, bits: 4)
        #expect(bytes == [0x10, 0x87, 0xA9, 0xFE, 0x0B, 0, 0, 0])
        // Along N, 2 bits: rows 0…16 of one column → 16 per word, row 16 in the next word.
        let z: [Int8] = (0..<17).map { Int8($0 % 4) - 2 }
        let packed = CompressedTensors.packColumns(z, rows: 17, columns: 1, bits: 2)
        #expect(packed.count == 8)
        #expect(packed[0] == 0b11_10_01_00 && packed[3] == 0b11_10_01_00)
        #expect(Array(packed[4...]) == [0, 0, 0, 0])
    }

    @Test func tensorNamesFollowTheFormat() throws {
        let s = CompressedTensors.Scheme(format: .packQuantized, bits: 4, type: "int", symmetric: false, granularity: .group(128))
        #expect(CompressedTensors.tensorNames(module: "m", scheme: s) == ["m.weight_packed", "m.weight_scale", "m.weight_zero_point", "m.weight_shape"])
        var v = try CompressionReference.input("normal_16x256")
        let settings = LayerSettings(quantize: .int(bits: 4, symmetric: false, granularity: .group(128), clip: .minmax))
        let e = try #require(try v.withUnsafeMutableBufferPointer { try LayerEvaluator.encode(settings, shape: [16, 256], values: UnsafeBufferPointer($0)) })
        let packed = try CompressedTensors.pack(e, module: "m", scheme: s)
        #expect(packed.map { $0.name } == CompressedTensors.tensorNames(module: "m", scheme: s))
        #expect(packed.map { $0.dtype } == [DType.int32, .float32, .int32, .int64])
        #expect(packed.map { $0.shape } == [[16, 32], [16, 2], [2, 2], [2]])
    }

    // MARK: - What the format cannot hold

    @Test func refusesWhatCompressedTensorsCannotHoldNamingTensorsAndContainers() throws {
        let layers: [(name: String, shape: [Int], settings: LayerSettings)] = [
            ("a.weight", [8, 64], LayerSettings(quantize: .nf4(group: 64))),
            ("b.weight", [8, 64], LayerSettings(quantize: .gguf(.q4_0))),
            ("c.weight", [8, 64], LayerSettings(quantize: .kmeans(clusters: 16))),
            ("d.weight", [8, 64], LayerSettings(quantize: .fp8(.e5m2, granularity: .tensor))),
            ("e.bias", [64], LayerSettings(quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))),
            ("f.weight", [2, 4, 64], LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax))),
            ("ok.weight", [8, 64], LayerSettings(prune: .sparsity(0.5), quantize: .int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax))),
            ("pruned.weight", [8, 64], LayerSettings(prune: .nm(n: 2, m: 4))),
        ]
        do {
            _ = try CompressedTensors.schemes(layers)
            Issue.record("expected a refusal")
        } catch let r as CompressedTensors.Refusal {
            #expect(r.items.map(\.tensor) == ["a.weight", "b.weight", "c.weight", "d.weight", "e.bias", "f.weight"])
            #expect(r.items[1].containers == ["gguf", "safetensors (dequantized)"])
            #expect(r.description.hasPrefix("compressed-tensors cannot hold the settings of 6 tensors: 'a.weight' (nf4 g64): compressed-tensors has no NF4"))
            #expect(r.description.contains("can be written to gguf or safetensors (dequantized)"))
        }
        let held = try CompressedTensors.schemes(Array(layers.suffix(2)))
        #expect(held[0]?.format == .packQuantized)
        #expect(held[1] == nil)
    }

    @Test func formatsByBitWidth() throws {
        func format(_ bits: Int) throws -> CompressedTensors.Format? {
            try CompressedTensors.scheme(for: LayerSettings(quantize: .int(bits: bits, symmetric: true, granularity: .channel, clip: .minmax)),
                                         name: "m.weight", shape: [4, 64]).get()?.format
        }
        #expect(try (2...8).map(format) == [.packQuantized, .naiveQuantized, .packQuantized, .naiveQuantized, .naiveQuantized, .naiveQuantized, .intQuantized])
    }
}

extension CompressedTensorsTests {
    @Test func modelConfigKeepsTheOriginalAndReplacesTheRecipe() throws {
        let original = #"{"architectures": ["LlamaForCausalLM"], "rms_norm_eps": 1e-05, "quantization_config": {"old": 1}, "torch_dtype": "bfloat16"}"#
        let recipe = CompressedTensors.quantizationConfig([("a.weight", [4, 64], nil)])
        let text = try CompressedTensors.modelConfig(original: Array(original.utf8), recipe: recipe)
        #expect(text.contains("\"rms_norm_eps\": 1e-05,"))
        #expect(!text.contains("\"old\""))
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(parsed["torch_dtype"] as? String == "bfloat16")
        #expect((parsed["quantization_config"] as? [String: Any])?["ignore"] as? [String] == ["a"])
        #expect(text.hasPrefix("{\n  \"architectures\": [\n    \"LlamaForCausalLM\"\n  ],"))
        #expect(throws: CompressionError.self) { try CompressedTensors.modelConfig(original: Array("[1]".utf8), recipe: recipe) }
        #expect(throws: CompressionError.self) { try CompressedTensors.modelConfig(original: Array("{".utf8), recipe: recipe) }
        let alone = try CompressedTensors.modelConfig(original: nil, recipe: recipe)
        #expect(alone.hasPrefix("{\n  \"quantization_config\": {\n    \"config_groups\": {},"))
    }
}

extension CompressedTensorsTests {
    /// Our reading of the committed checkpoint equals the numpy decoder's, value for value.
    @Test func theCheckpointReadsBackAsTheNumpyDecoderReadsIt() throws {
        let packed = try ModelFile.open(Self.directory + "/model.safetensors")
        #expect(CompressedTensorsCheckpoint.looksCompressed(packed))
        let config = try [UInt8](Data(contentsOf: URL(fileURLWithPath: CompressedTensorsCheckpoint.configPath(forModelAt: packed.path))))
        let view = try CompressedTensorsCheckpoint.decoded(packed, config: config)
        #expect(view.tensors.map(\.name) == Self.layers.map(\.name))
        let decoded = try ModelFile.open(Self.directory + "/decoded.safetensors")
        for t in view.tensors where t.name != "lm_head.weight" {
            let ref = try #require(decoded.tensors.first { $0.name == t.name })
            #expect(t.shape == ref.shape)
            // Read in awkward pieces: rows are decoded on demand.
            var ours = [Float](repeating: .nan, count: t.parameters), theirs = ours
            try ours.withUnsafeMutableBufferPointer { out in
                for a in stride(from: 0, to: t.parameters, by: 37) {
                    let b = min(t.parameters, a + 37)
                    try t.decode(a..<b, into: UnsafeMutableBufferPointer(rebasing: out[a..<b]))
                }
            }
            try theirs.withUnsafeMutableBufferPointer { try ref.decode(0..<ref.parameters, into: $0) }
            #expect(ours.map(\.bitPattern) == theirs.map(\.bitPattern), "\(t.name)")
        }
        // A module no group targets is an error, not a silent pass-through.
        let bare = Array(#"{"quantization_config": {"quant_method": "compressed-tensors", "format": "pack-quantized", "config_groups": {}}}"#.utf8)
        #expect(throws: ModelError.self) { try CompressedTensorsCheckpoint.decoded(packed, config: bare) }
    }
}

extension CompressedTensorsTests {
    /// Comparing the original weights with the checkpoint gives the engine's metrics for each layer: what
    /// `compare IN OUT` prints after `apply --to compressed-tensors` is what `report` printed.
    @Test func comparingTheCheckpointGivesTheEnginesMetrics() throws {
        let tmp = try TemporaryDirectory()
        let originals = try Self.layers.map { try Self.values($0) }
        try SafetensorsWriter.write(to: tmp.path + "/original.safetensors",
                                    tensors: Self.layers.map { .init(name: $0.name, dtype: .float32, shape: $0.shape) }) { i, sink in
            var bytes: [UInt8] = []
            for x in originals[i] { withUnsafeBytes(of: x.bitPattern.littleEndian) { bytes += $0 } }
            try sink.write(bytes)
        }
        let out = tmp.path + "/ct"
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: false)
        for f in ["model.safetensors", "config.json"] {
            try FileManager.default.copyItem(atPath: Self.directory + "/" + f, toPath: out + "/" + f)
        }
        let c = try ModelComparison(a: CompressedTensorsCheckpoint.open(tmp.path + "/original.safetensors"),
                                    b: CompressedTensorsCheckpoint.open(out))
        #expect(c.onlyInA.isEmpty && c.onlyInB.isEmpty && c.shapeMismatches.isEmpty)
        for (l, v) in zip(Self.layers, originals) {
            let p = try #require(c.pairs.first { $0.nameA == l.name })
            let e = try LayerEvaluator.evaluate(l.settings, shape: l.shape, values: v)
            #expect(p.metrics.count == e.metrics.count && p.metrics.zeros == e.metrics.zeros, "\(l.name)")
            #expect(p.metrics.maxAbsError == e.metrics.maxAbsError, "\(l.name)")
            for (a, b) in [(p.metrics.sumSquaredError, e.metrics.sumSquaredError), (p.metrics.sumSquares, e.metrics.sumSquares),
                           (p.metrics.sumProducts, e.metrics.sumProducts)] {
                #expect(abs(a - b) <= 1e-6 * abs(b), "\(l.name): \(a) vs \(b)")
            }
        }
    }
}
