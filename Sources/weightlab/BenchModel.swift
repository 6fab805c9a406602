import Compression
import Dispatch
import Foundation
import WeightFormats

extension Bench {
    /// The work of issue 11's scale goals on a real file (Benchmarks/make_7b_model.py writes a
    /// Llama-2-7B-shaped one): every floating layer analysed as the workbench opens it (one layer after the
    /// other, each split across the cores), int4 g128 over the whole model as `report` runs it, and with
    /// `--menu` the 12-option integer menu on every weight matrix and the solver's frontier from it.
    /// `--steps` picks what to run (comma-separated: analysis, serial, int4, menu, two-pass); `serial` times
    /// `LayerAnalysis.analyse` called layer after layer (each split across the cores), without the queue. `two-pass` times the
    /// general two-pass analysis, which BF16 layers took before the one-pass path, and checks that both agree.
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
