import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The task-metric key `E`: without `--eval` it says how to configure it; with it, one background job (a
/// temporary model, then the user's command); its number lands in the state's measured plans and on the
/// status line next to the totals; Esc or a new `E` cancels the running one.
@Suite struct ReducerTaskMetricTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }

    func state() -> AppState {
        var s = FakeModel.loadedState()
        s.modelPath = "/models/tiny.safetensors"
        return s
    }

    @Test func withoutEvalTheKeySaysHowToConfigureIt() {
        var s = state()
        #expect(key(&s, .character("E")).isEmpty)
        #expect(s.message?.isError == true)
        #expect(s.message?.text.contains("--eval 'CMD {}'") == true)
        #expect(s.taskRun == nil)
    }

    @Test func theKeyStartsTheJobAndTheNumberLandsInStateAndStatusLine() {
        var s = state()
        s.taskMetricConfig = TaskMetricConfig(command: "eval.sh {}", metricPattern: "PPL = ([0-9.]+)")
        let settings = s.records.map(\.settings)
        let job = JobRequest.taskMetric(command: "eval.sh {}", metricPattern: "PPL = ([0-9.]+)", container: "safetensors",
                                        settings: settings, planText: s.planText)
        #expect(key(&s, .character("E")) == [.job(job)])
        #expect(s.taskRun?.label == "unsaved #1")
        // Typed progress: writing (counted in MiB), then evaluating (no count).
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 3, total: 10, phase: .writingTemporary)))
        #expect(s.progress == AppState.Progress(done: 3, total: 10, label: "task metric: writing, MiB"))
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 0, total: 1, phase: .evaluatingTask)))
        #expect(s.progress == AppState.Progress(done: 0, total: 1, label: "task metric: evaluating", isCounted: false))
        var text = view(s, width: 120, height: 40).lines[38]
        #expect(text.contains("task metric: evaluating") && !text.contains("evaluating 0/1"), "\(text)")

        _ = reduce(&s, .jobFinished(job, .success(.taskMeasured(value: 5.3301, text: "5.3301", seconds: 2.5))))
        #expect(s.progress == nil && s.taskRun == nil)
        let totals = s.totals.totals
        #expect(s.measuredPlans == [MeasuredPlan(label: "unsaved #1", settings: settings, bytes: totals.bytesCompressed,
                                                 sqnrDB: totals.metrics.sqnrDB, metric: 5.3301, metricText: "5.3301")])
        #expect(s.message?.text.hasPrefix("task 5.3301 (2.5 s) · unsaved #1 ") == true, "\(s.message?.text ?? "")")
        text = view(s, width: 120, height: 40).lines[38]
        #expect(text.contains("task 5.3301"), "\(text)")

        // A second plan: both are listed for comparison; the status line follows the settings on screen.
        s.records[0].settings = FakeModel.int4g32
        #expect(view(s, width: 120, height: 40).lines[38].contains("task ") == false)
        let effects = key(&s, .character("E"))
        guard case .job(let second) = effects.last else { Issue.record("no job: \(effects)"); return }
        _ = reduce(&s, .jobFinished(second, .success(.taskMeasured(value: 6.1, text: "6.1", seconds: 1))))
        #expect(s.measuredPlans.map(\.label) == ["unsaved #1", "unsaved #2"])
        #expect(s.measuredPlans.map(\.metric) == [5.3301, 6.1])
        #expect(s.message?.text.contains("unsaved #2") == true && s.message?.text.contains("vs unsaved #1") == true,
                "\(s.message?.text ?? "")")
        #expect(view(s, width: 120, height: 40).lines[38].contains("task 6.1"))
    }

    @Test func aSavedPlanIsLabelledByItsPathAndAFailureShowsTheMessage() {
        var s = state()
        s.planPath = "/plans/p.json"
        s.taskMetricConfig = TaskMetricConfig(command: "eval.sh {}")
        guard case .job(let job) = key(&s, .character("E")).last else { Issue.record("no job"); return }
        #expect(s.taskRun?.label == "/plans/p.json")
        _ = reduce(&s, .jobFinished(job, .failure(EvaluationFailure(message: "stderr: line 30 · the evaluation command failed"))))
        #expect(s.message == AppState.Message("task metric: stderr: line 30 · the evaluation command failed", isError: true))
        #expect(s.taskRun == nil && s.measuredPlans.isEmpty)
    }

    @Test func escOrANewRequestCancelsTheRunningJob() {
        var s = state()
        s.taskMetricConfig = TaskMetricConfig(command: "eval.sh {}")
        guard case .job(let first) = key(&s, .character("E")).last else { Issue.record("no job"); return }
        _ = reduce(&s, .jobProgress(JobProgress(job: first, done: 1, total: 4, phase: .writingTemporary)))
        #expect(key(&s, .escape) == [.cancelJob(first)])
        #expect(s.taskRun == nil && s.progress == nil)
        // A late answer of the cancelled job changes nothing.
        _ = reduce(&s, .jobFinished(first, .success(.taskMeasured(value: 1, text: "1", seconds: 1))))
        #expect(s.measuredPlans.isEmpty)

        guard case .job(let again) = key(&s, .character("E")).last else { Issue.record("no job"); return }
        s.records[0].settings = FakeModel.int4g32
        let effects = key(&s, .character("E"))
        #expect(effects.first == .cancelJob(again) && effects.count == 2)
    }
}
