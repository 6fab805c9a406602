import ArgumentParser
import Compression
import Dispatch
import Foundation
import WeightFormats

extension Bench {
    /// The work of issue 11's scale goals on a real file (Benchmarks/make_7b_model.py writes a
    /// Llama-2-7B-shaped one): every floating layer analysed as the workbench opens it (the engine's
    /// analysis queue, several layers at once), int4 g128 over the whole model as `report` runs it, and with
    /// `--menu` the 12-option integer menu on every weight matrix and the solver's frontier from it.
    /// `--steps` picks what to run (comma-separated: analysis, serial, int4, workbench-int4, menu, two-pass); `serial`
    /// times `LayerAnalysis.analyse` called layer after layer (each split across the cores), without the queue.
    /// `two-pass` times the general two-pass analysis, which BF16 layers took before the one-pass path, and checks
    /// that both agree. `workbench-int4` is what the workbench asks when the user sets int4 g128 on every layer
    /// (`workbenchInt4`).
    func modelTimings(path: String) throws {
        let model = try ModelFile.open(path)
        let steps = Set(self.steps.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let floating = model.tensors.indices.filter { model.tensors[$0].isFloating }
        print("weightlab bench --model: \(path), \(floating.count) floating tensors, \(model.parameters) parameters")
        func seconds(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        }
        var analyses: [LayerAnalysis] = []
        if steps.contains("analysis") {
            // What the workbench does at open: every floating layer asked of the engine's analysis queue, timed
            // until the last one is delivered.
            let engine = Engine(model: model, scheduler: DispatchScheduler(deliveryQueue: DispatchQueue(label: "bench.delivery")))
            let delivered = DeliveredAnalyses(count: model.tensors.count)
            let t = try seconds {
                for i in floating { engine.analyse(layer: i) { layer, result in delivered.set(layer, result) } }
                delivered.wait(for: floating.count)
                analyses = try floating.map { try delivered.result($0).get() }
            }
            print(String(format: "open: every layer analysed        %8.2f s  (the workbench's analysis queue)", t))
        }
        if steps.contains("serial") {
            let t = try seconds { _ = try floating.map { try LayerAnalysis.analyse(model.tensors[$0]) } }
            print(String(format: "open, one layer after another     %8.2f s", t))
        }
        if steps.contains("two-pass") {
            var reference: [LayerAnalysis] = []
            let t = try seconds { reference = try floating.map { try LayerAnalysis.analyseInTwoPasses(model.tensors[$0]) } }
            let agree = analyses.isEmpty ? "not compared" : (analyses == reference ? "equal to the one-pass analysis" : "DIFFERENT from the one-pass analysis")
            print(String(format: "open, two-pass analysis (before)  %8.2f s  (%@)", t, agree))
        }
        if steps.contains("int4") {
            let s = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))
            let t = try seconds { _ = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateAll(Array(repeating: s, count: model.tensors.count)) }
            print(String(format: "int4 g128 over the model          %8.2f s", t))
        }
        if steps.contains("workbench-int4") {
            let t = try seconds { try workbenchInt4(model) }
            print(String(format: "workbench: int4 g128 on every layer %6.2f s", t))
        }
        if steps.contains("menu") {
            let menu = SolverMenu.integer
            let layers = floating.filter { i in model.tensors[i].shape.count >= 2 && menu.options.contains { SolverMenu.fits($0, shape: model.tensors[i].shape) } }
            let engine = Engine(model: model, scheduler: ImmediateScheduler())
            var evaluation: MenuEvaluation? = nil
            let t = try seconds { evaluation = try engine.evaluateMenu(menu, layers: layers) }
            print(String(format: "menu: %d options × %d layers     %8.2f s", menu.options.count, layers.count, t))
            let points = evaluation!.results.map { row in
                row.map { $0.map { SolverPoint(bytes: $0.size.bytes, error: ErrorMeasure.mse.error($0)) } }
            }
            var frontier: BudgetFrontier? = nil
            let f = seconds { frontier = BudgetFrontier(options: points) }
            print(String(format: "frontier from the evaluated menu  %8.2f ms (%d points)", f * 1000, frontier!.count))
        }
    }

    /// The engine calls the workbench's run loop makes when int4 g128 is set on every layer (`*` then the
    /// settings keys): one batch of `Engine.evaluate` requests with the focused layer urgent, each answer asking
    /// for the grid to draw (`EvaluationResult.levels`), and a row-sample estimate job for every layer of at
    /// least 1 Mi weights (`Reducer.estimates`), all on the app's `DispatchScheduler`; returns once every
    /// answer has been delivered. Fails if an answer failed or a quantized layer came without its levels.
    func workbenchInt4(_ model: Model) throws {
        let s = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))
        let delivery = DispatchQueue(label: "bench.delivery")
        let engine = Engine(model: model, scheduler: DispatchScheduler(deliveryQueue: delivery))
        let layers = model.tensors.indices.filter { model.tensors[$0].isFloating }
        let estimated = layers.filter { model.tensors[$0].parameters >= 1 << 20 && RowSampleEstimate.applies(s, shape: model.tensors[$0].shape) }
        let group = DispatchGroup()
        let problems = Problems()
        for _ in 0..<(layers.count + estimated.count) { group.enter() }
        _ = engine.evaluate(layers.map { EvaluationRequest(layer: $0, settings: s, revision: 1) }, urgent: layers.first) { r in
            switch r.outcome {
            case .success: if r.levels == nil && SolverMenu.fits(s, shape: model.tensors[r.layer].shape) { problems.add("layer \(r.layer): no levels") }
            case .failure(let f): if f.message != "cancelled" { problems.add("layer \(r.layer): \(f.message)") }
            }
            group.leave()
        }
        let background = DispatchScheduler(deliveryQueue: delivery)
        for layer in estimated {
            background.background {
                do { _ = try engine.estimate(layer: layer, settings: s) } catch { problems.add("estimate \(layer): \(error)") }
                group.leave()
            }
        }
        group.wait()
        if let first = problems.first { throw ValidationError("workbench-int4: \(first)") }
    }
}

/// Problems found by background work, kept for the caller.
private final class Problems: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func add(_ s: String) { lock.withLock { list.append(s) } }
    var first: String? { lock.withLock { list.first } }
}

/// Analyses delivered by the engine's queue, by layer, and a wait for a number of them.
private final class DeliveredAnalyses: @unchecked Sendable {
    private let condition = NSCondition()
    private var results: [Result<LayerAnalysis, EvaluationFailure>?]
    private var count = 0

    init(count: Int) { results = Array(repeating: nil, count: count) }

    func set(_ layer: Int, _ r: Result<LayerAnalysis, EvaluationFailure>) {
        condition.withLock {
            results[layer] = r
            count += 1
            condition.broadcast()
        }
    }

    func wait(for n: Int) { condition.withLock { while count < n { condition.wait() } } }

    func result(_ layer: Int) -> Result<LayerAnalysis, EvaluationFailure> {
        condition.withLock { results[layer] ?? .failure(EvaluationFailure(message: "layer \(layer) was not delivered")) }
    }
}
