import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The recovery key `F`: one background job for the settings on screen (effects as data); `F` again or Esc
/// cancels it; progress shows on the status row; its accuracies land in the state and beside the totals while
/// those settings are on screen; a failure is one error line.
@Suite struct ReducerRecoveryTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }

    static let score = RecoveryScore(original: 0.878, compressed: 0.444, recovered: 0.871, bytesCompressed: 104_858,
                                     output: "/tmp/weightlab-task-x/recovered.safetensors", seconds: 3.4)

    @Test func theKeyStartsTheJobAndTheResultLandsInStateAndStatusLine() {
        var s = FakeModel.loadedState()
        let settings = s.records.map(\.settings)
        let job = JobRequest.recover(settings: settings, planText: s.planText)
        #expect(key(&s, .character("F")) == [.job(job)])
        #expect(s.recoveryRun == RecoveryRun(job: job, settings: settings))
        #expect(s.message?.text.contains("F or Esc stops") == true)

        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 3, total: 7)))
        #expect(s.progress == AppState.Progress(done: 3, total: 7, label: "recovering, batches"))
        #expect(view(s, width: 120, height: 40).lines[38].contains("recovering, batches 3/7"))

        _ = reduce(&s, .jobFinished(job, .success(.recovered(Self.score))))
        #expect(s.recoveryRun == nil && s.progress == nil)
        #expect(s.recovered == RecoveredPlan(settings: settings, score: Self.score))
        #expect(s.currentRecovery == Self.score)
        let summary = "recovered: acc 87.1% (original 87.8%, compressed 44.4%) · 102 KiB"
        #expect(Self.score.summary == summary)
        #expect(s.message?.text == summary + " (3.4 s) · recovered model: /tmp/weightlab-task-x/recovered.safetensors",
                "\(s.message?.text ?? "")")
        #expect(view(s, width: 160, height: 40).lines[38].contains(summary))

        // Other settings on screen: the numbers are not theirs, so the status row drops them.
        s.records[0].settings = FakeModel.int4g32
        #expect(s.currentRecovery == nil)
    }

    @Test func theKeyAgainOrEscCancels() {
        var s = FakeModel.loadedState()
        let job = JobRequest.recover(settings: s.records.map(\.settings), planText: s.planText)
        _ = key(&s, .character("F"))
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 1, total: 7)))
        #expect(key(&s, .character("F")) == [.cancelJob(job)])
        #expect(s.recoveryRun == nil && s.progress == nil)
        #expect(s.message?.text == "recovery stopped")
        // A late answer of the stopped job changes nothing.
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 2, total: 7)))
        _ = reduce(&s, .jobFinished(job, .success(.recovered(Self.score))))
        #expect(s.progress == nil && s.recovered == nil)

        _ = key(&s, .character("F"))
        #expect(key(&s, .escape).contains(.cancelJob(job)))
        #expect(s.recoveryRun == nil)
    }

    @Test func aFailureIsOneErrorLine() {
        var s = FakeModel.loadedState()
        let job = JobRequest.recover(settings: s.records.map(\.settings), planText: s.planText)
        _ = key(&s, .character("F"))
        _ = reduce(&s, .jobFinished(job, .failure(EvaluationFailure(message: "no training data: open the workbench with --data D --arch A (an MLP/CNN) to recover"))))
        #expect(s.recoveryRun == nil && s.recovered == nil)
        #expect(s.message == AppState.Message("recovery: no training data: open the workbench with --data D --arch A (an MLP/CNN) to recover",
                                               isError: true))
    }

    /// The result line beside the totals, as the screen shows it.
    @Test func resultLineSnapshot() {
        var s = FakeModel.loadedState(width: 160, height: 30)
        let job = JobRequest.recover(settings: s.records.map(\.settings), planText: s.planText)
        _ = key(&s, .character("F"))
        _ = reduce(&s, .jobFinished(job, .success(.recovered(Self.score))))
        s.message = nil
        assertScreen(view(s, width: 160, height: 30), named: "recovered-160x30")
    }
}
