import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
@testable import Compression
@testable import Workbench

/// Budget mode through the runtime: `T` runs the menu job on the real model, `>` and `<` walk the frontier,
/// and the screen's totals at every point are the solver's prediction for that point (what `report` prints for
/// the plan it writes).
struct BudgetModeScreenTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    @Test func screenFollowsTheSolver() throws {
        let model = try ModelFile.open(example)
        let terminal = FakeTerminal(width: 120, height: 40)
        let session = WorkbenchSession(model: model, settings: Array(repeating: .identity, count: model.tensors.count), planPath: nil, theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        session.settle()
        terminal.type("T")
        session.step()
        session.settle()
        guard let budget = session.state.budget else {
            Issue.record("no budget mode: \(session.state.message?.text ?? "no message")")
            return
        }
        let frontier = try #require(budget.frontier)

        var plan = Plan()
        plan.solve = PlanSolve(target: .bitsPerWeight(16))
        let (problem, _) = try PlanSolving.problem(plan, model: model, engine: Engine(model: model, scheduler: ImmediateScheduler()))
        #expect(problem.evaluated.layers == budget.frontierLayers)
        #expect(problem.frontier.bytes == frontier.bytes)

        terminal.type("<<<<<<<<<<<<<<<<<<<<")
        session.step()
        session.settle()
        for _ in 0..<6 {
            let state = session.state
            let t = try #require(state.budget?.vertex)
            let predicted = problem.vertex(t).totals
            #expect(state.totals.totals.bytesCompressed == predicted.bytesCompressed)
            // As for plans on screen: layers left as they are count their signal from the analysis (1e-6 dB).
            #expect(abs(state.totals.totals.metrics.sqnrDB - predicted.metrics.sqnrDB) < 1e-6)
            #expect(state.totals.unsettled == 0)
            let screen = terminal.lastLines.joined(separator: "\n")
            #expect(screen.contains(String(format: "%.2f bits/w", predicted.bitsPerWeight)), "\(screen)")
            #expect(screen.contains("@"))
            terminal.type(">")
            session.step()
            session.settle()
        }
    }
}
