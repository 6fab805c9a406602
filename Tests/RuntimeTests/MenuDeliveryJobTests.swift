import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
@testable import Compression
@testable import Workbench

/// The `evaluateMenu` job through the runtime: the row-sampled estimate first, then each layer's exact
/// answers as soon as that layer is done (`Action.menuLayerEvaluated`, one per layer, equal to the finished
/// job's row for it), then the job's answer.
struct MenuDeliveryJobTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    @Test func eachLayerIsDeliveredBeforeTheJobFinishes() throws {
        let model = try ModelFile.open(example)
        let inbox = Inbox()
        let runner = EffectRunner(model: model, scheduler: ImmediateScheduler(), inbox: inbox)
        _ = runner.run([.job(.evaluateMenu(.integer))], focus: 0)
        let actions = inbox.drain()
        var layers: [Int] = [], answers: [MenuLayerAnswer] = [], estimated = false
        var finished: MenuEvaluation? = nil
        for action in actions {
            switch action {
            case .menuEstimated: estimated = true; #expect(answers.isEmpty, "the estimate comes first")
            case .menuLayerEvaluated(let a): answers.append(a); layers.append(a.index); #expect(finished == nil)
            case .jobFinished(.evaluateMenu, .success(.menuEvaluated(let e))): finished = e
            default: break
            }
        }
        let exact = try #require(finished)
        #expect(estimated)
        #expect(exact.layers.count > 1 && layers.sorted() == Array(exact.layers.indices))
        for a in answers {
            #expect(a.menu == exact.menu && a.layers == exact.layers)
            #expect(a.results == exact.results[a.index] && a.diagnostics == exact.diagnostics[a.index])
        }
    }
}
