import Compression
import Dispatch
import Foundation
import WeightFormats

extension Bench {
    /// The work of issue 11's scale goals on a real file (Benchmarks/make_7b_model.py writes a
    /// Llama-2-7B-shaped one): every floating layer analysed as the workbench opens it (one layer after the
    /// other, each split across the cores), int4 g128 over the whole model as `report` runs it, and with
    /// `--menu` the 12-option integer menu on every weight matrix and the solver's frontier from it.
    /// `--steps` picks what to run (comma-separated: analysis, int4, menu, two-pass). `two-pass` times the
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
            let t = try seconds { analyses = try floating.map { try LayerAnalysis.analyse(model.tensors[$0]) } }
            print(String(format: "open: every layer analysed        %8.2f s", t))
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
