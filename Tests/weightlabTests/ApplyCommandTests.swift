import Foundation
import Testing
import TestSupport
import WeightFormats
import Compression
@testable import weightlab

/// `weightlab apply` end to end: outputs against the reference libraries' own files and values
/// (`Tests/Fixtures/make_apply.py`), the numbers against `report`, and the writing rules (refusals, a full
/// disk, signals, the input never opened for writing).
struct ApplyCommandTests {
    let ggufInput = Fixtures.path("apply/input.gguf")
    let ggufPlan = Fixtures.path("apply/plan_gguf.json")
    let stInput = Fixtures.path("apply/input.safetensors")
    let stPlan = Fixtures.path("apply/plan_safetensors.json")
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    @Test func ggufOutputIsGGUFPysFileByteForByte() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/out.gguf"
        let r = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("verified"))
        let ours = try Data(contentsOf: URL(fileURLWithPath: out))
        let theirs = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("apply/expected.gguf")))
        #expect(ours == theirs, "apply's GGUF differs from the file gguf-py wrote with gguf.quants.quantize")
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    /// Without verification the writer quantizes the blocks itself (with it, the engine's blocks are written):
    /// the same bytes as gguf-py's file.
    @Test func ggufOutputWithoutVerificationIsGGUFPysFileByteForByte() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/out.gguf"
        let r = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out, "--no-verify"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let ours = try Data(contentsOf: URL(fileURLWithPath: out))
        let theirs = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("apply/expected.gguf")))
        #expect(ours == theirs, "apply --no-verify's GGUF differs from the file gguf-py wrote with gguf.quants.quantize")
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    @Test func safetensorsFakeQuantHoldsNumpysValues() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/out.safetensors"
        let r = try CommandRunner.run(["apply", stInput, "--plan", stPlan, "-o", out, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.isEmpty)
        let model = try ModelFile.open(out)
        let ref = try #require(try Fixtures.json("apply/expected_safetensors.json") as? [String: [String: Any]])
        #expect(model.tensors.map(\.name) == (try ModelFile.open(stInput)).tensors.map(\.name))
        #expect(Set(model.tensors.map(\.name)) == Set(ref.keys))
        for t in model.tensors {
            let want = try #require(ref[t.name])
            #expect(t.dtype.description == want["dtype"] as? String, "\(t.name) dtype")
            #expect(t.shape == want["shape"] as? [Int], "\(t.name) shape")
            let values = try #require(want["values"] as? [String]).map { Double($0)! }
            var got = [Float](repeating: 0, count: t.parameters)
            try got.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            #expect(got.map(Double.init) == values, "\(t.name) values differ from numpy's fake-quantization")
        }
        let recorded = model.metadata.first { $0.key == "weightlab.plan" }?.value
        #expect(recorded == .string(try Plan.load(path: stPlan).jsonText()))
        #expect(model.metadata.contains { $0.key == "format" && $0.value == .string("pt") })
    }

    /// The reference `safetensors` package (the Rust parser) reads the written file, when Python has it.
    @Test(.enabled(if: ApplyCommandTests.pythonHasReferenceLibraries, "needs python3 with numpy, safetensors, gguf"))
    func referenceLibrariesReadTheOutputs() throws {
        let dir = try TemporaryDirectory()
        #expect(try CommandRunner.run(["apply", stInput, "--plan", stPlan, "-o", dir.path + "/out.safetensors"]).status == 0)
        #expect(try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", dir.path + "/out.gguf"]).status == 0)
        let script = """
            import json, sys, numpy as np, ml_dtypes, safetensors, gguf
            raw = dict(safetensors.deserialize(open(sys.argv[1] + '/out.safetensors', 'rb').read()))
            ref = json.load(open(sys.argv[2]))
            dt = {'F32': np.float32, 'F16': np.float16, 'BF16': ml_dtypes.bfloat16, 'I64': np.int64}
            for n, v in ref.items():
                a = np.frombuffer(bytes(raw[n]['data']), dtype=dt[raw[n]['dtype']]).astype(np.float64)
                assert raw[n]['dtype'] == v['dtype'] and list(raw[n]['shape']) == v['shape'], n
                assert np.array_equal(a, np.array([float(x) for x in v['values']])), n
            r = gguf.GGUFReader(sys.argv[1] + '/out.gguf')
            assert int(r.fields['general.file_type'].parts[-1][0]) == 7
            assert int(r.fields['general.quantization_version'].parts[-1][0]) == 2
            print('ok')
            """
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", script, dir.path, Fixtures.path("apply/expected_safetensors.json")]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let text = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        #expect(p.terminationStatus == 0 && text.contains("ok"), "\(text)")
    }

    static let pythonHasReferenceLibraries: Bool = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import numpy, safetensors, gguf, ml_dtypes"]
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return false }
        p.waitUntilExit()
        return p.terminationStatus == 0
    }()

    /// `--json` carries `report`'s JSON for the same plan, equal in every number, and totals equal to its totals.
    @Test func jsonNumbersEqualReport() throws {
        let dir = try TemporaryDirectory()
        let plan = Fixtures.repositoryRoot + "/Examples/plans/int4-group128.json"
        let a = try CommandRunner.run(["apply", example, "--plan", plan, "-o", dir.path + "/m.safetensors", "--json"])
        #expect(a.status == 0, "stderr: \(a.stderr)")
        let r = try CommandRunner.run(["report", example, "--plan", plan, "--format", "json"])
        let applied = try #require(try JSONSerialization.jsonObject(with: Data(a.stdout.utf8)) as? [String: Any])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? NSDictionary)
        #expect((applied["report"] as? NSDictionary) == report)
        #expect((applied["total"] as? NSDictionary) == (report["total"] as? NSDictionary))
        let verification = try #require(applied["verification"] as? [String: Any])
        #expect(verification["result"] as? String == "passed")
        let layers = try #require(applied["layers"] as? [[String: Any]])
        #expect(layers.count == (report["layers"] as? [Any])?.count)
        #expect(layers.allSatisfy { $0["bytes"] is Int && $0["stored_as"] is String })
    }

    @Test func refusesExistingOutputUnlessForced() throws {
        let dir = try TemporaryDirectory()
        let out = try dir.write("out.gguf", text: "precious")
        let r = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out])
        #expect(r.status == 2)
        #expect(r.stderr.contains("already exists") && r.stderr.contains("--force"))
        #expect(r.stderr.split(separator: "\n").count == 1)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "precious")
        let forced = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out, "--force"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == Data(contentsOf: URL(fileURLWithPath: Fixtures.path("apply/expected.gguf"))))
    }

    @Test func refusesToWriteOverOrBesideItsInput() throws {
        let dir = try TemporaryDirectory()
        let input = dir.path + "/in.gguf"
        try FileManager.default.copyItem(atPath: ggufInput, toPath: input)
        let before = try Data(contentsOf: URL(fileURLWithPath: input))
        for target in [input, dir.path + "/./in.gguf"] {
            let r = try CommandRunner.run(["apply", input, "--plan", ggufPlan, "-o", target, "--force"])
            #expect(r.status == 2)
            #expect(r.stderr.contains("is an input"), "\(r.stderr)")
        }
        // A directory model: an output inside it would become one of its files.
        let r = try CommandRunner.run(["apply", dir.path, "--plan", ggufPlan, "-o", dir.path + "/new.safetensors", "--to", "safetensors"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("inside the input directory"), "\(r.stderr)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: input)) == before)
    }

    @Test func unfitSettingsAndBadPlansAreOneLineExitTwo() throws {
        let dir = try TemporaryDirectory()
        let int4 = try dir.write("int4.json", text: #"{"version": 1, "rules": [{"match": "^blk\\.0\\.attn_q\\.weight$", "quantize": {"format": "int", "bits": 4, "granularity": {"group": 32}}}, {"match": "^output\\.weight$", "quantize": {"format": "nf4", "group": 64}}]}"#)
        let r = try CommandRunner.run(["apply", ggufInput, "--plan", int4, "-o", dir.path + "/o.gguf"])
        #expect(r.status == 2)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1, "\(r.stderr)")
        #expect(r.stderr.contains("gguf cannot hold") && r.stderr.contains("'blk.0.attn_q.weight'")
                && r.stderr.contains("'output.weight'") && r.stderr.contains("--to safetensors"), "\(r.stderr)")
        let typo = try dir.write("typo.json", text: #"{"version": 1, "rules": [{"match": "^attn_qq", "quantize": {"format": "gguf", "type": "q8_0"}}]}"#)
        let t = try CommandRunner.run(["apply", ggufInput, "--plan", typo, "-o", dir.path + "/o.gguf", "--strict"])
        #expect(t.status == 2)
        #expect(t.stderr.contains("matches no tensor") && t.stderr.split(separator: "\n").count == 1, "\(t.stderr)")
        // Without --strict the rule that matches nothing is a warning, as in `report`, and the model is written.
        let other = try TemporaryDirectory()
        let w = try CommandRunner.run(["apply", ggufInput, "--plan", typo, "-o", other.path + "/o.gguf", "--quiet"])
        #expect(w.status == 0 && w.stderr.contains("warning:") && w.stderr.contains("matches no tensor"), "\(w.stderr)")
        #expect(FileManager.default.fileExists(atPath: other.path + "/o.gguf"))
        let toGGUF = try CommandRunner.run(["apply", stInput, "--plan", stPlan, "-o", dir.path + "/o.gguf", "--to", "gguf"])
        #expect(toGGUF.status == 2 && toGGUF.stderr.contains("needs a GGUF input"), "\(toGGUF.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted() == ["int4.json", "typo.json"])
    }

    /// A file-size limit (as a full disk) fails the write with one clear line, exit 1, and leaves nothing.
    @Test func fullDiskLeavesNothing() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/out.safetensors"
        let plan = Fixtures.repositoryRoot + "/Examples/plans/int4-group128.json"
        let r = try CommandRunner.run(["-c", "ulimit -f 64; exec \"$0\" \"$@\"", CommandRunner.executable,
                                       "apply", example, "--plan", plan, "-o", out],
                                      executable: "/bin/bash")
        #expect(r.status == 1, "stderr: \(r.stderr)")
        #expect(r.stderr.split(separator: "\n").count == 1 && r.stderr.contains("File too large"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    /// The input is opened read-only, and only read (strace lists every open).
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/strace"), "needs strace"))
    func inputIsNeverOpenedForWriting() throws {
        let dir = try TemporaryDirectory()
        let log = dir.path + "/trace"
        let r = try CommandRunner.run(["-f", "-e", "trace=open,openat,creat,truncate", "-o", log, CommandRunner.executable,
                                       "apply", ggufInput, "--plan", ggufPlan, "-o", dir.path + "/o.gguf"],
                                      executable: "/usr/bin/strace")
        guard r.status == 0, let trace = try? String(contentsOfFile: log, encoding: .utf8) else {
            Issue.record("strace run failed: \(r.stderr)")
            return
        }
        let opens = trace.split(separator: "\n").filter { $0.contains("input.gguf") || $0.contains("plan_gguf.json") }
        #expect(!opens.isEmpty)
        for line in opens {
            #expect(line.contains("O_RDONLY") && !line.contains("O_WRONLY") && !line.contains("O_RDWR")
                    && !line.contains("O_CREAT") && !line.contains("O_TRUNC"), "\(line)")
        }
    }

    @Test func evalRecordsTheTaskMetric() throws {
        let dir = try TemporaryDirectory()
        let script = try dir.write("score.sh", text: "#!/bin/sh\ntest -s \"$1\" || exit 9\necho \"ppl = 12.5\"\necho \"final accuracy 0.8125\"\n")
        chmod(script, 0o755)
        let out = dir.path + "/o it's.gguf"
        let r = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out, "--json", "--eval", script + " {}"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
        let metric = try #require(json["task_metric"] as? [String: Any])
        #expect(metric["value"] as? Double == 0.8125)
        let byRegex = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out, "--force", "--json",
                                             "--eval", script + " {}", "--eval-metric", "ppl = ([0-9.]+)"])
        let j2 = try #require(try JSONSerialization.jsonObject(with: Data(byRegex.stdout.utf8)) as? [String: Any])
        #expect((j2["task_metric"] as? [String: Any])?["value"] as? Double == 12.5)
        let failing = try CommandRunner.run(["apply", ggufInput, "--plan", ggufPlan, "-o", out, "--force",
                                             "--eval", "echo first {} >&2; echo 'the model would not load' >&2; exit 3"])
        #expect(failing.status == 1)
        #expect(failing.stderr.contains("exit code 3") && failing.stderr.contains("the model would not load"), "\(failing.stderr)")
    }
}

/// A sharded safetensors model is written as shards and a new index, the index last.
struct ApplyShardedTests {
    /// Two shards of two F32 tensors each, and their index.
    static func shardedModel(in dir: TemporaryDirectory) throws -> String {
        var map: [String] = []
        for shard in 1...2 {
            let name = "model-0000\(shard)-of-00002.safetensors"
            let tensors = (0..<2).map { SafetensorsWriter.TensorEntry(name: "layers.\(2 * (shard - 1) + $0).weight", dtype: .float32, shape: [4, 64]) }
            try SafetensorsWriter.write(to: dir.path + "/in/" + name, tensors: tensors) { i, sink in
                let values = (0..<256).map { Float(($0 * 37 + i * 11 + shard) % 101) / 50 - 1 }
                try values.withUnsafeBytes { try sink.write($0) }
            }
            map += tensors.map { "\"\($0.name)\": \"\(name)\"" }
        }
        return try dir.write("in/model.safetensors.index.json", text: "{\"metadata\": {}, \"weight_map\": {" + map.joined(separator: ", ") + "}}")
    }

    @Test func shardedInputGivesShardsAndAnIndex() throws {
        let dir = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: dir.path + "/in", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir.path + "/out", withIntermediateDirectories: true)
        let index = try Self.shardedModel(in: dir)
        let plan = try dir.write("plan.json", text: #"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "granularity": {"group": 32}}}}"#)
        let refused = try CommandRunner.run(["apply", index, "--plan", plan, "-o", dir.path + "/out/m.safetensors"])
        #expect(refused.status == 2 && refused.stderr.contains(".safetensors.index.json"), "\(refused.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/out").isEmpty)

        let out = dir.path + "/out/m.safetensors.index.json"
        let r = try CommandRunner.run(["apply", index, "--plan", plan, "-o", out])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path + "/out").sorted()
                == ["m-00001-of-00002.safetensors", "m-00002-of-00002.safetensors", "m.safetensors.index.json"])
        let written = try ModelFile.open(out)
        let input = try ModelFile.open(index)
        #expect(written.tensors.map(\.name) == input.tensors.map(\.name))
        #expect(Set(written.tensors.map { ($0.data.path as NSString).lastPathComponent }) == ["m-00001-of-00002.safetensors", "m-00002-of-00002.safetensors"])
        // Each shard holds what the single-file output holds for the same tensors.
        let single = dir.path + "/single.safetensors"
        let whole = try CommandRunner.run(["apply", dir.path + "/in/model-00001-of-00002.safetensors", "--plan", plan, "-o", single])
        #expect(whole.status == 0)
        let singleModel = try ModelFile.open(single)
        for t in singleModel.tensors {
            let w = try #require(written.tensors.first { $0.name == t.name })
            #expect(try w.data.bytes(at: 0, count: w.byteCount) == t.data.bytes(at: 0, count: t.byteCount), "\(t.name)")
        }
    }
}

/// The progress bar's line: phase, bar, percent, bytes per second, time left.
struct ApplyProgressLineTests {
    @Test func showsRateAndTimeLeft() {
        let p = ApplyProgress(phase: .writing, bytesDone: 50 << 20, bytesTotal: 200 << 20)
        #expect(ApplyOutput.progressLine(p, elapsed: 0.5)
                == "weightlab: writing   [######..................]  25%  100 MiB/s  0:02 left")
        let v = ApplyProgress(phase: .verifying, bytesDone: 200 << 20, bytesTotal: 200 << 20)
        #expect(ApplyOutput.progressLine(v, elapsed: 2) == "weightlab: verifying [########################] 100%  100 MiB/s  0:00 left")
    }
}
