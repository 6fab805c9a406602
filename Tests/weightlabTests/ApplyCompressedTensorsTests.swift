import Foundation
import Testing
import TestSupport
import WeightFormats

/// `weightlab apply --to compressed-tensors`: the packed checkpoint and its `config.json`, decoded by the
/// numpy decoder of `Tests/Fixtures/make_compressed_tensors.py` (written from the format's description) to
/// exactly the values the fake-quant safetensors output holds for the same plan.
struct ApplyCompressedTensorsTests {
    static let plan = #"""
        {"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "symmetric": false, "granularity": {"group": 32}}},
         "rules": [{"match": "^l1\\.weight$", "quantize": {"format": "int", "bits": 8, "granularity": "channel"}},
                   {"match": "^l2\\.weight$", "prune": {"method": "magnitude", "threshold": 0.3}, "quantize": {"format": "fp8_e4m3"}},
                   {"match": "^l3\\.weight$", "quantize": {"format": "int", "bits": 4, "granularity": "channel"}}]}
        """#

    /// A float32 model of four linear layers and a bias, and a config.json beside it.
    static func model(in dir: TemporaryDirectory) throws -> String {
        let shapes: [(String, [Int])] = [("l0.weight", [8, 64]), ("l1.weight", [16, 64]), ("l2.weight", [4, 32]),
                                         ("l3.weight", [12, 40]), ("l3.bias", [12])]
        let path = try dir.write("in/model.safetensors", [])
        var seed: UInt32 = 7
        try SafetensorsWriter.write(to: path, tensors: shapes.map { .init(name: $0.0, dtype: .float32, shape: $0.1) },
                                    overwrite: true) { i, sink in
            let n = shapes[i].1.reduce(1, *)
            let values: [Float] = (0..<n).map { _ in
                seed = seed &* 1_664_525 &+ 1_013_904_223
                return Float(Int32(bitPattern: seed)) / Float(Int32.max)
            }
            try values.withUnsafeBytes { try sink.write($0) }
        }
        try dir.write("in/config.json", text: #"{"architectures": ["TinyForCausalLM"], "hidden_size": 64}"#)
        return path
    }

    @Test func writesACheckpointAndItsConfig() throws {
        let dir = try TemporaryDirectory()
        let input = try Self.model(in: dir)
        let plan = try dir.write("plan.json", text: Self.plan)
        try FileManager.default.createDirectory(atPath: dir.path + "/ct", withIntermediateDirectories: true)
        let r = try CommandRunner.run(["apply", input, "--plan", plan, "-o", dir.path + "/ct/model.safetensors",
                                       "--to", "compressed-tensors"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let out = try ModelFile.open(dir.path + "/ct/model.safetensors")
        let names = Set(out.tensors.map(\.name))
        #expect(names.isSuperset(of: ["l0.weight_packed", "l0.weight_scale", "l0.weight_zero_point", "l0.weight_shape",
                                      "l1.weight", "l1.weight_scale", "l2.weight", "l3.weight_packed", "l3.bias"]))
        #expect(!names.contains("l0.weight"))
        let config = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path + "/ct/config.json"))) as? [String: Any])
        #expect(config["architectures"] as? [String] == ["TinyForCausalLM"])
        let q = try #require(config["quantization_config"] as? [String: Any])
        #expect(q["quant_method"] as? String == "compressed-tensors" && q["format"] as? String == "mixed-precision")
        // An existing config.json is not replaced without --force, and nothing is written then.
        try FileManager.default.removeItem(atPath: dir.path + "/ct/model.safetensors")
        let again = try CommandRunner.run(["apply", input, "--plan", plan, "-o", dir.path + "/ct/model.safetensors",
                                           "--to", "compressed-tensors"])
        #expect(again.status != 0 && again.stderr.contains("config.json"), "\(again.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/ct/model.safetensors"))
    }

    @Test func refusesSettingsItCannotHold() throws {
        let dir = try TemporaryDirectory()
        let input = try Self.model(in: dir)
        let plan = try dir.write("nf4.json", text: #"{"version": 1, "rules": [{"match": "^l0\\.weight$", "quantize": {"format": "nf4", "group": 64}}]}"#)
        let r = try CommandRunner.run(["apply", input, "--plan", plan, "-o", dir.path + "/o.safetensors", "--to", "compressed-tensors"])
        #expect(r.status == 2)
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("'l0.weight'") && r.stderr.contains("--to safetensors"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/o.safetensors"))
        #expect(!FileManager.default.fileExists(atPath: dir.path + "/config.json"))
    }

    @Test(.enabled(if: ApplyCommandTests.pythonHasReferenceLibraries, "needs python3 with numpy, safetensors, ml_dtypes"))
    func numpyDecoderReadsTheEngineReconstruction() throws {
        let dir = try TemporaryDirectory()
        let input = try Self.model(in: dir)
        let plan = try dir.write("plan.json", text: Self.plan)
        try FileManager.default.createDirectory(atPath: dir.path + "/ct", withIntermediateDirectories: true)
        #expect(try CommandRunner.run(["apply", input, "--plan", plan, "-o", dir.path + "/ct/model.safetensors", "--to", "compressed-tensors"]).status == 0)
        #expect(try CommandRunner.run(["apply", input, "--plan", plan, "-o", dir.path + "/fake.safetensors", "--to", "safetensors"]).status == 0)
        let script = """
            import sys, numpy as np
            sys.path.insert(0, sys.argv[1])
            import make_compressed_tensors as m
            from safetensors.numpy import load_file
            m.DIR = sys.argv[2]
            captured = {}
            m.save_file = lambda d, path: captured.update(d)
            m.main()
            fake = load_file(sys.argv[3])
            assert set(captured) == {'l0.weight', 'l1.weight', 'l2.weight', 'l3.weight'}, sorted(captured)
            for name, v in captured.items():
                assert v.dtype == np.float32 and np.array_equal(v.view(np.uint32), fake[name].view(np.uint32)), name
            print('ok')
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, Fixtures.directory, dir.path + "/ct", dir.path + "/fake.safetensors"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0 && text.contains("ok"), "\(text)")
    }
}
