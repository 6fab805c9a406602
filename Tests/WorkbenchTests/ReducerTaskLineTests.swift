import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The task line (`open --eval-data`): every change of the settings on screen cancels the running task job and
/// asks for one of the new settings (effects as data); answers for cancelled jobs change nothing; the newest
/// score shows beside the totals with the previous plan's value kept for comparison.
@Suite struct ReducerTaskLineTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }

    func state() -> (AppState, JobRequest) {
        var s = FakeModel.loadedState()
        let effects = s.startTaskLine(dataName: "sentences.txt")
        let job = JobRequest.taskEval(settings: s.records.map(\.settings), revision: 1)
        #expect(effects == [.job(job)])
        return (s, job)
    }

    static func score(_ accuracy: Double) -> TaskScore {
        TaskScore(name: "acc", value: accuracy, text: Format.percent(accuracy), original: "91.0%", details: "flip 1.0%")
    }

    static func taskJobs(_ effects: [Effect]) -> (cancelled: [JobRequest], started: [JobRequest]) {
        var cancelled: [JobRequest] = [], started: [JobRequest] = []
        for e in effects {
            if case .cancelJob(let j) = e, case .taskEval = j { cancelled.append(j) }
            if case .job(let j) = e, case .taskEval = j { started.append(j) }
        }
        return (cancelled, started)
    }

    @Test func navigationStartsNoTaskJobAndAnEditReplacesTheRunningOne() {
        var (s, first) = state()
        #expect(Self.taskJobs(key(&s, .down)).started.isEmpty)
        #expect(Self.taskJobs(key(&s, .character("j"))).started.isEmpty)
        let before = s.records.map(\.settings)
        let jobs = Self.taskJobs(key(&s, .character("p")))   // the focused layer's pruning changes
        let after = s.records.map(\.settings)
        #expect(before != after)
        #expect(jobs.cancelled == [first])
        #expect(jobs.started == [.taskEval(settings: after, revision: 2)])
        #expect(s.taskLine?.job == jobs.started.first && s.taskLine?.requested == after)
        // The cancelled job's answer changes nothing.
        _ = reduce(&s, .jobFinished(first, .success(.taskScored(Self.score(0.9)))))
        #expect(s.taskLine?.latest == nil && s.taskLine?.job == jobs.started.first)
    }

    @Test func theScoreLandsAndThePreviousPlansValueIsKept() {
        var (s, first) = state()
        let opened = s.records.map(\.settings)
        _ = reduce(&s, .jobFinished(first, .success(.taskScored(Self.score(0.9)))))
        #expect(s.taskLine?.latest == TaskLine.Measured(settings: opened, score: Self.score(0.9)))
        #expect(s.taskLine?.job == nil && s.taskLine?.prior == nil)
        var status = view(s, width: 160, height: 40).lines[38]
        #expect(status.contains("acc 90.0% (original 91.0%)"), "\(status)")

        // An edit: while its job runs the line shows "…" and the value it replaces.
        let jobs = Self.taskJobs(key(&s, .character("p")))
        let second = try! #require(jobs.started.first)
        status = view(s, width: 160, height: 40).lines[38]
        #expect(status.contains("acc … (was 90.0%)"), "\(status)")
        _ = reduce(&s, .jobFinished(second, .success(.taskScored(Self.score(0.8)))))
        #expect(s.taskLine?.prior?.score.value == 0.9 && s.taskLine?.latest?.score.value == 0.8)
        status = view(s, width: 160, height: 40).lines[38]
        #expect(status.contains("acc 80.0% (was 90.0%, original 91.0%)"), "\(status)")

        // Undo back to the opened settings: not the newest result, so a new job (revision 3) is asked for.
        let undo = Self.taskJobs(key(&s, .character("u")))
        #expect(s.records.map(\.settings) == opened)
        #expect(undo.started == [.taskEval(settings: opened, revision: 3)] && undo.cancelled.isEmpty)
        // Redo to the newest result's settings: shown at once, the waiting job cancelled, none started.
        let redo = Self.taskJobs(key(&s, .control("r")))
        #expect(redo.cancelled == undo.started && redo.started.isEmpty)
        #expect(s.taskLine?.job == nil)
        #expect(view(s, width: 160, height: 40).lines[38].contains("acc 80.0%"))
    }

    @Test func aFailureIsOneErrorLineAndTheLineSaysSo() {
        var (s, first) = state()
        _ = reduce(&s, .jobFinished(first, .failure(EvaluationFailure(message: "the data has no array 'x'"))))
        #expect(s.message?.isError == true)
        #expect(s.message?.text == "task line (sentences.txt): the data has no array 'x'")
        #expect(s.taskLine?.failure != nil && s.taskLine?.job == nil)
        #expect(view(s, width: 160, height: 40).lines[38].contains("task failed"))
        // Progress reports of a task job never take over the status line's progress.
        let next = Self.taskJobs(key(&s, .character("p"))).started[0]
        _ = reduce(&s, .jobProgress(JobProgress(job: next, done: 1, total: 3)))
        #expect(s.progress == nil)
    }

    @Test func withoutEvalDataThereIsNoTaskJobAndNoTaskPart() {
        var s = FakeModel.loadedState()
        #expect(Self.taskJobs(key(&s, .character("p"))).started.isEmpty)
        #expect(!view(s, width: 160, height: 40).lines[38].contains("acc"))
    }

    /// The whole screen with a measured task line and a previous plan's value (width enough for the long form).
    @Test func taskLineScreenAt160x40() {
        var (s, first) = state()
        _ = reduce(&s, .jobFinished(first, .success(.taskScored(Self.score(0.9)))))
        let second = Self.taskJobs(key(&s, .character("p"))).started[0]
        _ = reduce(&s, .jobFinished(second, .success(.taskScored(Self.score(0.825)))))
        assertScreen(view(s, width: 160, height: 40), named: "taskline-160x40")
    }
}
