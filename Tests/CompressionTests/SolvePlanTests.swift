import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Plans that ask for a solution: the `solve` section's parsing and errors, and the solved plan's numbers
/// against what `report` computes for the plan written from it.
@Suite struct SolvePlanTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    func parseError(_ solve: String) -> PlanError? {
        do {
            _ = try Plan.parse("{\"version\": 1, \"solve\": \(solve)}", path: "p.json")
            return nil
        } catch {
            return error
        }
    }

    @Test func solveSectionRoundTrips() throws {
        let text = """
        {"version": 1, "solve": {"target": {"size": "15 MiB"}, "error": "relative",
          "menu": [{}, {"quantize": {"format": "int", "bits": 4, "granularity": {"group": 64}}}, {"prune": {"method": "nm", "n": 2, "m": 4}, "quantize": {"format": "int", "bits": 8}}],
          "pin": ["embed", {"match": "head", "quantize": {"format": "int", "bits": 8}}]}}
        """
        let plan = try Plan.parse(text, path: "p.json")
        let solve = try #require(plan.solve)
        #expect(solve.target == .bytes(15 << 20))
        #expect(solve.error == .relative)
        #expect(solve.menu?.options.count == 3)
        #expect(solve.menu?.options[0] == .identity)
        #expect(solve.menu?.options[2].prune == .nm(n: 2, m: 4))
        #expect(solve.pin.map(\.match) == ["embed", "head"])
        #expect(solve.pin[1].quantize == .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))
        #expect(try Plan.parse(plan.jsonText(), path: "again.json") == plan)
        let bpw = try Plan.parse("{\"version\": 1, \"solve\": {\"target\": {\"bpw\": 4.5}}}", path: "p.json")
        #expect(bpw.solve == PlanSolve(target: .bitsPerWeight(4.5)))
        #expect(try Plan.parse(bpw.jsonText(), path: "again.json") == bpw)
    }

    @Test func badSolveSectionsNameTheirField() {
        let cases: [(String, String, String)] = [
            ("{}", "solve.target", "missing"),
            ("{\"target\": {}}", "solve.target", "exactly one of bpw or size"),
            ("{\"target\": {\"bpw\": 4, \"size\": 10}}", "solve.target", "exactly one"),
            ("{\"target\": {\"bpw\": -1}}", "solve.target.bpw", "out of range"),
            ("{\"target\": {\"bpw\": \"4\"}}", "solve.target.bpw", "expected a number"),
            ("{\"target\": {\"size\": \"3 parsecs\"}}", "solve.target.size", "is not a size"),
            ("{\"target\": {\"size\": 0}}", "solve.target.size", "out of range"),
            ("{\"target\": {\"bits\": 4}}", "solve.target.bits", "unknown key"),
            ("{\"target\": {\"bpw\": 4}, \"error\": \"kld\"}", "solve.error", "unknown value"),
            ("{\"target\": {\"bpw\": 4}, \"menu\": []}", "solve.menu", "empty"),
            ("{\"target\": {\"bpw\": 4}, \"menu\": {}}", "solve.menu", "expected an array"),
            ("{\"target\": {\"bpw\": 4}, \"menu\": [{\"quantize\": {\"format\": \"int\", \"bits\": 12}}]}", "solve.menu[0].quantize.bits", "out of range"),
            ("{\"target\": {\"bpw\": 4}, \"menu\": [{\"match\": \"x\"}]}", "solve.menu[0].match", "unknown key"),
            ("{\"target\": {\"bpw\": 4}, \"menu\": [{\"prune\": {\"method\": \"global_magnitude\", \"sparsity\": 0.5}}]}", "solve.menu[0].prune", "spans layers"),
            ("{\"target\": {\"bpw\": 4}, \"pin\": \"embed\"}", "solve.pin", "expected an array"),
            ("{\"target\": {\"bpw\": 4}, \"pin\": [\"(a+)+$\"]}", "solve.pin[0]", "invalid regular expression"),
            ("{\"target\": {\"bpw\": 4}, \"pin\": [{\"quantize\": {\"format\": \"none\"}}]}", "solve.pin[0].match", "missing"),
            ("{\"target\": {\"bpw\": 4}, \"budget\": 3}", "solve.budget", "unknown key"),
        ]
        for (solve, field, reason) in cases {
            let e = parseError(solve)
            #expect(e?.field == field, "\(solve): \(e?.description ?? "accepted")")
            #expect(e?.reason.contains(reason) == true, "\(solve): \(e?.description ?? "accepted")")
        }
    }

    @Test func menuFilesParseWithClearErrors() throws {
        let dir = try TemporaryDirectory()
        let good = try dir.write("menu.json", text: "{\"menu\": [{}, {\"quantize\": {\"format\": \"nf4\"}}]}")
        #expect(try SolverMenu.load(path: good).options == [.identity, LayerSettings(quantize: .nf4(group: 64))])
        let bare = try dir.write("bare.json", text: "[{\"quantize\": {\"format\": \"gguf\", \"type\": \"q4_0\"}}]")
        #expect(try SolverMenu.load(path: bare).options == [LayerSettings(quantize: .gguf(.q4_0))])
        let bad = try dir.write("bad.json", text: "[{\"quantize\": {\"format\": \"int4\"}}]")
        #expect(throws: PlanError.self) { try SolverMenu.load(path: bad) }
        do { _ = try SolverMenu.load(path: bad) } catch { #expect(error.field == "[0].quantize.format") }
        #expect(throws: PlanError.self) { try SolverMenu.load(path: dir.path + "/missing.json") }
        // The default menus' options all round-trip through a menu file.
        for menu in [SolverMenu.integer, .ggml] {
            let path = try dir.write("default.json", text: menu.jsonText)
            #expect(try SolverMenu.load(path: path) == menu)
        }
    }

    /// The solver's predicted totals are what `report` (`PlanEvaluation` from the files) gives for the plan
    /// written from the answer, and for the plan that asks for the answer.
    @Test func solvedPlanReportsThePredictedTotals() throws {
        let model = try ModelFile.open(example)
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        let dir = try TemporaryDirectory()
        for target in [PlanSolve.Target.bitsPerWeight(10), .bitsPerWeight(12.5), .bytes(500_000)] {
            var plan = Plan()
            plan.solve = PlanSolve(target: target, pin: [PlanRule(match: "^stft")])
            let (problem, _) = try PlanSolving.problem(plan, model: model, engine: engine)
            let solution = try problem.solve(target)
            #expect(solution.totals.bytesCompressed <= problem.budget(target))
            // Pinned: the plan gives stft_conv nothing, so it stays as it is.
            #expect(solution.settings[0] == .identity)
            let written = try dir.write("solved.json", text: solution.plan().jsonText())
            let report = try PlanEvaluation(modelPath: example, planPath: written)
            #expect(report.totals == solution.totals)
            #expect(report.settings == solution.settings)
            let asked = try dir.write("asked.json", text: plan.jsonText())
            let solvedByReport = try PlanEvaluation(modelPath: example, planPath: asked)
            #expect(solvedByReport.totals == solution.totals)
            // The answer is no worse than the frontier's greedy fill and within its bound.
            #expect(solution.error >= solution.lowerBound)
        }
    }

    @Test func targetsBelowTheMenuAndImatrixWithoutOneAreClearErrors() throws {
        let model = try ModelFile.open(example)
        let engine = Engine(model: model, scheduler: ImmediateScheduler())
        var plan = Plan()
        plan.solve = PlanSolve(target: .bitsPerWeight(0.5))
        let (problem, _) = try PlanSolving.problem(plan, model: model, engine: engine)
        #expect(throws: CompressionError.self) { try problem.solve(.bitsPerWeight(0.5)) }
        plan.solve?.error = .imatrix
        do {
            _ = try PlanSolving.problem(plan, model: model, engine: engine)
            Issue.record("imatrix without an importance matrix was accepted")
        } catch let e as CompressionError {
            #expect(e.message.contains("needs an importance matrix"))
        }
    }

    /// Each layer decoded once for the whole menu gives the same numbers as evaluating each option alone.
    @Test func menuEvaluationEqualsSingleEvaluations() throws {
        let model = try ModelFile.open(example)
        let menu = SolverMenu.integer
        let layers = model.tensors.indices.filter { model.tensors[$0].shape.count >= 2 }
        let evaluated = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateMenu(menu, layers: layers)
        let fresh = Engine(model: model, scheduler: ImmediateScheduler())
        for (k, layer) in layers.enumerated() {
            let t = model.tensors[layer]
            let values = try [Float](unsafeUninitializedCapacity: t.parameters) { b, n in try t.decode(0..<t.parameters, into: b); n = t.parameters }
            #expect(evaluated.diagnostics[k] == values.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: t.shape) })
            for (j, option) in menu.options.enumerated() {
                let fits = SolverMenu.fits(option, shape: model.tensors[layer].shape)
                #expect((evaluated.results[k][j] != nil) == fits)
                guard fits else { continue }
                var settings = [LayerSettings](repeating: .identity, count: model.tensors.count)
                settings[layer] = option
                let alone = try fresh.evaluateAll(settings)[layer]
                #expect(evaluated.results[k][j] == alone)
            }
        }
    }
}
