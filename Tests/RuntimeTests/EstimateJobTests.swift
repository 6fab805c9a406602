import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
@testable import Compression
@testable import Workbench

/// The estimate job through the runtime: the effect runner answers `.job(.estimate)` with the engine's
/// row-sample estimate, and a session opened on a large layer shows the estimate before the exact numbers.
struct EstimateJobTests {
    /// One 4096 × 256 layer (2^20 weights, the workbench's threshold) of deterministic heavy-ish values.
    static func model() throws -> Model {
        var rng = SplitMix64(seed: 11)
        let values = (0..<(4096 * 256)).map { _ -> Float in
            let u = Float(rng.unit() - 0.5)
            return u * u * u * 0.1
        }
        let t = try Tensor(name: "blk.0.ffn_up.weight", dtype: .float32, shape: [4096, 256], data: MemorySource(floats: values))
        return Model(path: "mem/big.gguf", format: .gguf, metadata: [], tensors: [t])
    }

    @Test func runnerAnswersWithTheEnginesEstimate() throws {
        let model = try Self.model()
        let inbox = Inbox()
        let runner = EffectRunner(model: model, scheduler: ImmediateScheduler(), inbox: inbox)
        let settings = LayerSettings(quantize: .gguf(.q4_K))
        _ = runner.run([.job(.estimate(layer: 0, settings: settings, revision: 3))], focus: 0)
        let answers = inbox.drain()
        guard case .jobFinished(.estimate(0, settings, 3), .success(.estimated(0, 3, let e)))? = answers.first else {
            Issue.record("no estimate: \(answers)")
            return
        }
        #expect(e == (try Engine(model: model, scheduler: ImmediateScheduler()).estimate(layer: 0, settings: settings)))
        #expect(e.rowsSampled < e.rows)
        let exact = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateAll([settings])[0]!.metrics
        #expect(e.sqnrInterval.contains(exact.sqnrDB), "\(exact.sqnrDB) not in \(e.sqnrInterval)")
    }

    @Test func sessionShowsTheEstimateThenTheExactNumbers() throws {
        let model = try Self.model()
        let terminal = FakeTerminal(width: 120, height: 30)
        let scheduler = ManualScheduler()
        let settings = LayerSettings(quantize: .gguf(.q4_K))
        let session = WorkbenchSession(model: model, settings: [settings], planPath: nil, theme: Theme.dark, terminal: terminal,
                                       scheduler: scheduler, trace: nil)
        // Only the estimate job (queued before the engine's evaluation) is run first.
        #expect(scheduler.queuedJobs >= 2)
        scheduler.runJobs { $0 == 0 || $0 == 1 }   // the analysis and the estimate
        session.step()
        let n = session.state.records[0].numbers
        if n.status == .estimate {
            #expect(n.sampleInterval != nil)
            #expect(terminal.lastLines.joined(separator: "\n").contains("~"))
        } else {
            Issue.record("expected the estimate first, got \(n.status)")
        }
        scheduler.runAll()
        session.settle()
        #expect(session.state.records[0].numbers.status == .exact && session.state.records[0].numbers.sampleInterval == nil)
    }
}
