import Foundation
import Testing
import TestSupport
import WeightFormats
import Compression

/// `weightlab export-recovery` end to end: the weights against numpy's fake-quantization and `apply`'s
/// output, the masks against numpy's, `recover.py` against its committed snapshot, the refusals, and the
/// re-import of one real `recover.py` run in torch (`Tests/Fixtures/make_recovery_run.py`).
struct ExportRecoveryCommandTests {
    let model = Fixtures.path("recovery/model.safetensors")
    let plan = Fixtures.path("recovery/plan.json")
    let planNone = Fixtures.path("recovery/plan_none.json")

    func export(_ dir: TemporaryDirectory, _ extra: [String] = [], model: String? = nil, plan: String? = nil) throws -> (String, CommandRunner.Result) {
        let out = dir.path + "/export"
        let r = try CommandRunner.run(["export-recovery", model ?? self.model, "--plan", plan ?? self.plan, "-o", out] + extra)
        return (out, r)
    }

    func floats(_ t: Tensor) throws -> [Float] {
        var v = [Float](repeating: 0, count: t.parameters)
        try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
        return v
    }

    func tensors(_ path: String) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: try ModelFile.open(path).tensors.map { ($0.name, $0) })
    }

    @Test func writesEveryFileWithWeightsEqualToApplyAndMasksEqualToNumpys() throws {
        let dir = try TemporaryDirectory()
        let (out, r) = try export(dir, ["--alpha", "0.7"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("2 masked, 3 fake-quantized"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).sorted()
                == ["masks.safetensors", "plan.json", "recover.py", "recovery.json", "weights.safetensors"])
        #expect(try dir.atomicLeftovers().isEmpty)

        // The weights are what `apply --to safetensors` writes (itself verified against the engine and numpy).
        let applied = dir.path + "/applied.safetensors"
        #expect(try CommandRunner.run(["apply", model, "--plan", plan, "-o", applied, "--to", "safetensors", "--quiet"]).status == 0)
        let weights = try ModelFile.open(out + "/weights.safetensors")
        let reference = try tensors(applied), input = try ModelFile.open(model)
        #expect(weights.tensors.map(\.name) == input.tensors.map(\.name))
        for t in weights.tensors {
            let want = try #require(reference[t.name])
            #expect(t.shape == want.shape && t.dtype == want.dtype, "\(t.name)")
            #expect(try floats(t).map(\.bitPattern) == floats(want).map(\.bitPattern), "\(t.name) differs from apply's reconstruction")
        }

        // Masks: uint8, only for the pruned tensors, byte for byte numpy's; every pruned weight is 0.
        let masks = try ModelFile.open(out + "/masks.safetensors")
        let expected = try tensors(Fixtures.path("recovery/expected_masks.safetensors"))
        #expect(masks.tensors.map(\.name) == ["fc1.weight", "fc2.weight"])
        for m in masks.tensors {
            let e = try #require(expected[m.name])
            #expect(m.dtype == .uint8 && m.shape == e.shape)
            let bytes = try m.data.bytes(at: 0, count: m.byteCount)
            #expect(bytes == (try e.data.bytes(at: 0, count: e.byteCount)), "\(m.name) mask differs from numpy's")
            let w = try floats(try #require(weights.tensors.first { $0.name == m.name }))
            #expect(zip(bytes, w).allSatisfy { $0.0 == 1 || $0.1 == 0 }, "\(m.name): a pruned weight is not 0")
        }

        // recovery.json names what recover.py does; plan.json is the plan.
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/recovery.json"))) as? [String: Any])
        #expect(manifest["format"] as? String == "weightlab-recovery")
        #expect((manifest["distillation"] as? [String: Double]) == ["alpha": 0.7, "temperature": 4])
        let entries = try #require(manifest["tensors"] as? [[String: Any]])
        #expect(entries.map { $0["name"] as? String } == ["fc1.weight", "fc2.weight", "fc3.weight"])
        #expect(entries.map { $0["masked"] as? Bool } == [true, true, false])
        #expect(entries.map { $0["fake_quant"] as? Bool } == [true, true, true])
        #expect(try Plan.load(path: out + "/plan.json") == (try Plan.load(path: plan)))
    }

    /// The numpy reference of `apply`'s fake-quant (`apply/expected_safetensors.json`): F32, F16 and BF16
    /// tensors, a threshold-pruned one, an integer one copied.
    @Test func weightsHoldNumpysFakeQuantization() throws {
        let dir = try TemporaryDirectory()
        let (out, r) = try export(dir, model: Fixtures.path("apply/input.safetensors"), plan: Fixtures.path("apply/plan_safetensors.json"))
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let ref = try #require(try Fixtures.json("apply/expected_safetensors.json") as? [String: [String: Any]])
        let weights = try ModelFile.open(out + "/weights.safetensors")
        #expect(Set(weights.tensors.map(\.name)) == Set(ref.keys))
        for t in weights.tensors {
            let want = try #require(ref[t.name])
            #expect(t.dtype.description == want["dtype"] as? String && t.shape == want["shape"] as? [Int], "\(t.name)")
            let values = try #require(want["values"] as? [String]).map { Double($0)! }
            #expect(try floats(t).map(Double.init) == values, "\(t.name) differs from numpy's fake-quantization")
        }
        // c.weight is pruned by |w| >= 0.05 (DESIGN §5): its mask is exactly that, from the input's values.
        let masks = try ModelFile.open(out + "/masks.safetensors")
        #expect(masks.tensors.map(\.name) == ["c.weight"])
        let original = try floats(try #require(try ModelFile.open(Fixtures.path("apply/input.safetensors")).tensors.first { $0.name == "c.weight" }))
        let mask = try masks.tensors[0].data.bytes(at: 0, count: masks.tensors[0].byteCount)
        #expect(mask == original.map { abs($0) >= 0.05 ? 1 : 0 })
    }

    /// Codecs recover.py does not reproduce (NF4, percentile clipping) are trained in float and said so.
    @Test func otherCodecsAreTrainedInFloat() throws {
        let dir = try TemporaryDirectory()
        let other = try dir.write("other.json", text: #"{"version": 1, "rules": [{"match": "^fc1\\.weight$", "quantize": {"format": "int", "bits": 4, "clip": {"percentile": 99}}}, {"match": "^fc2\\.weight$", "quantize": {"format": "nf4", "group": 32}}]}"#)
        let (out, r) = try export(dir, plan: other)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        #expect(r.stdout.contains("0 masked, 0 fake-quantized in recover.py, 2 trained in float"), "\(r.stdout)")
        let manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/recovery.json"))) as? [String: Any])
        let entries = try #require(manifest["tensors"] as? [[String: Any]])
        #expect(entries.map { $0["fake_quant"] as? Bool } == [false, false])
        #expect(try ModelFile.open(out + "/masks.safetensors").tensors.isEmpty)
        let script = try String(contentsOfFile: out + "/recover.py", encoding: .utf8)
        #expect(script.contains("  fc2.weight: dense, nf4 g32 (trained in float)"), "\(script.prefix(1500))")
    }

    @Test func recoverPyMatchesItsSnapshotAndIsDeterministic() throws {
        let dir = try TemporaryDirectory()
        let (out, r) = try export(dir, ["--alpha", "0.5", "--temperature", "2"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let text = try String(contentsOfFile: out + "/recover.py", encoding: .utf8)
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        assertSnapshot(lines: lines, named: "recover_py")
        let again = dir.path + "/again"
        #expect(try CommandRunner.run(["export-recovery", model, "--plan", plan, "-o", again, "--alpha", "0.5", "--temperature", "2"]).status == 0)
        for name in ["recover.py", "recovery.json", "weights.safetensors", "masks.safetensors", "plan.json"] {
            #expect(FileManager.default.contents(atPath: out + "/" + name) == FileManager.default.contents(atPath: again + "/" + name), "\(name) differs between two runs")
        }
    }

    @Test func badInputGivesOneLineAndWritesNothing() throws {
        let dir = try TemporaryDirectory()
        // A plan that compresses nothing.
        let (out, none) = try export(dir, plan: planNone)
        #expect(none.status == 2)
        #expect(none.stderr.hasPrefix("weightlab: the plan compresses no tensor") && none.stderr.split(separator: "\n").count == 1, "\(none.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))

        // A plan whose rule names no tensor of the model: the same, saying which rule.
        let naming = try dir.write("naming.json", text: #"{"version": 1, "rules": [{"match": "^nope\\.weight$", "quantize": {"format": "int", "bits": 8}}]}"#)
        let (_, nothing) = try export(dir, plan: naming)
        #expect(nothing.status == 2)
        #expect(nothing.stderr.hasPrefix("weightlab: the plan compresses no tensor") && nothing.stderr.contains("matches no tensor")
                && nothing.stderr.split(separator: "\n").count == 1, "\(nothing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))

        // An existing directory without --force: refused, left as it was.
        try dir.write("export/keep.txt", text: "mine")
        let (_, exists) = try export(dir)
        #expect(exists.status == 2)
        #expect(exists.stderr.contains("already exists; use --force to replace it") && exists.stderr.split(separator: "\n").count == 1, "\(exists.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: out) == ["keep.txt"])

        // With --force the directory is replaced whole.
        let (_, forced) = try export(dir, ["--force"])
        #expect(forced.status == 0, "stderr: \(forced.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/keep.txt"))
        #expect(FileManager.default.fileExists(atPath: out + "/recover.py"))

        // A directory holding the input (or the plan) is never replaced, even with --force.
        let inside = try dir.write("export/model.safetensors", Array(try Data(contentsOf: URL(fileURLWithPath: model))))
        let held = try CommandRunner.run(["export-recovery", inside, "--plan", plan, "-o", out, "--force"])
        #expect(held.status == 2)
        #expect(held.stderr.contains("an input of this command") && held.stderr.split(separator: "\n").count == 1, "\(held.stderr)")
        #expect(FileManager.default.fileExists(atPath: inside))
        let planInside = try dir.write("export/plan.json", Array(try Data(contentsOf: URL(fileURLWithPath: plan))))
        #expect(try CommandRunner.run(["export-recovery", model, "--plan", planInside, "-o", out, "--force"]).status == 2)

        // A file where the directory should go; a bad alpha.
        let file = try dir.write("file", text: "x")
        let onFile = try CommandRunner.run(["export-recovery", model, "--plan", plan, "-o", file, "--force"])
        #expect(onFile.status == 2 && onFile.stderr.contains("exists and is not a directory"), "\(onFile.stderr)")
        let alpha = try CommandRunner.run(["export-recovery", model, "--plan", plan, "-o", dir.path + "/x", "--alpha", "2"])
        #expect(alpha.status == 2 && alpha.stderr.split(separator: "\n").count == 1, "\(alpha.stderr)")
        #expect(try dir.atomicLeftovers().isEmpty)
    }

    // MARK: The committed torch run

    /// recover.py's output (torch 2.15, 300 steps, QAT, α = 0.5) reopens with the input's names, shapes and
    /// dtypes; the pruned weights stayed 0; training moved the weights.
    @Test func recoveredModelReopensWithMasksKept() throws {
        let input = try ModelFile.open(model)
        let recovered = try ModelFile.open(Fixtures.path("recovery/recovered.safetensors"))
        #expect(recovered.tensors.map(\.name).sorted() == input.tensors.map(\.name).sorted())
        let byName = try tensors(Fixtures.path("recovery/recovered.safetensors"))
        for t in input.tensors {
            let o = try #require(byName[t.name])
            #expect(o.shape == t.shape && o.dtype == t.dtype, "\(t.name)")
        }
        let dir = try TemporaryDirectory()
        let (out, r) = try export(dir)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let exported = try tensors(out + "/weights.safetensors")
        for (name, mask) in try tensors(Fixtures.path("recovery/expected_masks.safetensors")) {
            let keep = try mask.data.bytes(at: 0, count: mask.byteCount)
            let w = try floats(try #require(byName[name]))
            #expect(zip(keep, w).allSatisfy { $0.0 == 1 || $0.1.bitPattern == 0 }, "\(name): a pruned weight is not +0 after recovery")
        }
        for name in ["fc1.weight", "fc2.weight", "fc3.weight", "fc1.bias"] {
            #expect(try floats(try #require(byName[name])) != floats(try #require(exported[name])), "\(name) did not train")
        }
    }

    /// recover.py's fake quantizer is the engine's: the plan applied by weightlab to recover.py's float weights
    /// gives recover.py's quantized output bit for bit (int4 symmetric per channel, int8 asymmetric groups).
    @Test func recoverPysFakeQuantizationIsTheEngines() throws {
        let dir = try TemporaryDirectory()
        let out = dir.path + "/reapplied.safetensors"
        let r = try CommandRunner.run(["apply", Fixtures.path("recovery/recovered_float.safetensors"), "--plan", plan, "-o", out, "--quiet"])
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let torch = try tensors(Fixtures.path("recovery/recovered.safetensors"))
        for t in try ModelFile.open(out).tensors {
            let want = try #require(torch[t.name])
            #expect(try floats(t).map(\.bitPattern) == floats(want).map(\.bitPattern), "\(t.name): torch's fake-quant differs from the engine's")
        }
    }

    /// `compare` and `eval` open the recovered model; on the fixture's data it classifies better than the
    /// compressed model did before recovery.
    @Test func compareAndEvalOpenTheRecoveredModel() throws {
        let recovered = Fixtures.path("recovery/recovered.safetensors")
        let compare = try CommandRunner.run(["compare", model, recovered])
        #expect(compare.status == 0, "stderr: \(compare.stderr)")
        for name in ["fc1.weight", "fc2.weight", "fc3.weight"] { #expect(compare.stdout.contains(name)) }
        func accuracy(_ path: String, _ plan: String) throws -> Double {
            let r = try CommandRunner.run(["eval", path, "--plan", plan, "--data", Fixtures.path("recovery/data.npz"),
                                           "--arch", Fixtures.path("recovery/arch.json"), "--format", "json"])
            #expect(r.status == 0, "stderr: \(r.stderr)")
            let json = try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            return try #require(json["accuracy"] as? Double)
        }
        let compressed = try accuracy(model, plan)
        let afterRecovery = try accuracy(recovered, planNone)
        #expect(afterRecovery > compressed, "recovered \(afterRecovery), compressed \(compressed)")
    }

    /// The Hugging Face path: tiny_bert through transformers (`bert.`-prefixed module names), 20 steps. The
    /// output reopens with the checkpoint's names, shapes and dtypes, the export's masks held, and the plan
    /// applied to recover.py's float weights gives its int4 asymmetric g16 values bit for bit.
    @Test func huggingFaceRunReopensWithMasksKeptAndEngineEqualFakeQuant() throws {
        let bert = Fixtures.path("evalnet/tiny_bert")
        let bertPlan = Fixtures.path("recovery/bert_plan.json")
        let recoveredPath = Fixtures.path("recovery/bert_recovered.safetensors")
        let input = try tensors(bert)   // the directory as weightlab opens it (expected.safetensors included)
        let recovered = try tensors(recoveredPath)
        #expect(Set(recovered.keys) == Set(input.keys))
        for (name, t) in input {
            let o = try #require(recovered[name])
            #expect(o.shape == t.shape && o.dtype == t.dtype, "\(name)")
        }
        let dir = try TemporaryDirectory()
        let (out, r) = try export(dir, ["--alpha", "0.5"], model: bert, plan: bertPlan)
        #expect(r.status == 0, "stderr: \(r.stderr)")
        let masks = try ModelFile.open(out + "/masks.safetensors")
        #expect(masks.tensors.count == 12)
        for m in masks.tensors {
            let keep = try m.data.bytes(at: 0, count: m.byteCount)
            let w = try floats(try #require(recovered[m.name]))
            #expect(keep.filter { $0 == 0 }.count == m.parameters / 2, "\(m.name)")
            #expect(zip(keep, w).allSatisfy { $0.0 == 1 || $0.1.bitPattern == 0 }, "\(m.name): a pruned weight is not +0 after recovery")
        }
        let reapplied = dir.path + "/reapplied.safetensors"
        #expect(try CommandRunner.run(["apply", Fixtures.path("recovery/bert_recovered_float.safetensors"), "--plan", bertPlan,
                                       "-o", reapplied, "--quiet"]).status == 0)
        for t in try ModelFile.open(reapplied).tensors {
            let want = try #require(recovered[t.name])
            #expect(try floats(t).map(\.bitPattern) == floats(want).map(\.bitPattern), "\(t.name): torch's fake-quant differs from the engine's")
        }
        let compare = try CommandRunner.run(["compare", bert + "/model.safetensors", recoveredPath])
        #expect(compare.status == 0, "stderr: \(compare.stderr)")
    }
}
