import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The write-model key `W`: a prompt in the hint row for the path (default beside the plan or the model,
/// following the container's extension until edited) and the container (Tab), then one background job; the
/// message at the end names the path and the verification.
@Suite struct ReducerWriteModelTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }
    func type(_ s: inout AppState, _ text: String) { for ch in text { _ = key(&s, .character(ch)) } }

    func state(model: String = "/models/tiny.safetensors", plan: String? = nil) -> AppState {
        var s = FakeModel.loadedState()
        s.modelPath = model
        s.planPath = plan
        return s
    }

    @Test func promptDefaultsBesideTheModelAndFollowsTheContainer() {
        var s = state()
        #expect(key(&s, .character("W")).isEmpty)
        #expect(s.writePrompt == WritePrompt(path: "/models/tiny-weightlab.safetensors", container: "safetensors"))
        _ = key(&s, .tab)
        #expect(s.writePrompt?.container == "compressed-tensors")
        #expect(s.writePrompt?.path == "/models/tiny-weightlab.safetensors")
        _ = key(&s, .tab)
        #expect(s.writePrompt == WritePrompt(path: "/models/tiny-weightlab.gguf", container: "gguf"))
        // The prompt takes the keys: 'q' is typed, not quit.
        type(&s, "q")
        #expect(s.writePrompt?.path == "/models/tiny-weightlab.ggufq" && !s.isQuitting)
        _ = key(&s, .backspace)
        _ = key(&s, .tab)
        #expect(s.writePrompt?.path == "/models/tiny-weightlab.gguf", "an edited path no longer follows the container")
        _ = key(&s, .escape)
        #expect(s.writePrompt == nil)
    }

    @Test func ggufModelsDefaultToGGUFBesideThePlan() {
        var s = state(model: "/models/llama.gguf", plan: "/work/plans/p.json")
        _ = key(&s, .character("W"))
        #expect(s.writePrompt == WritePrompt(path: "/work/plans/llama-weightlab.gguf", container: "gguf"))
    }

    @Test func enterStartsOneBackgroundJobWithTheCurrentSettings() {
        var s = state()
        s.records[1].settings = FakeModel.int4g32
        _ = key(&s, .character("W"))
        for _ in 0..<"safetensors".count { _ = key(&s, .backspace) }
        type(&s, "st")
        let effects = key(&s, .enter)
        #expect(effects == [.job(.writeModel(path: "/models/tiny-weightlab.st", container: "safetensors",
                                             settings: s.records.map(\.settings), planText: s.planText))])
        #expect(s.writePrompt == nil)
        #expect(s.message?.text.contains("in the background") == true)
        // The UI goes on: progress in the status line, then the result as a message.
        let job = JobRequest.writeModel(path: "/models/tiny-weightlab.st", container: "safetensors",
                                        settings: s.records.map(\.settings), planText: s.planText)
        _ = reduce(&s, .jobProgress(JobProgress(job: job, done: 3, total: 10)))
        #expect(s.progress == AppState.Progress(done: 3, total: 10, label: "writing model, MiB"))
        _ = reduce(&s, .jobFinished(job, .success(.modelWritten(path: "/models/tiny-weightlab.st", container: "safetensors",
                                                                 bytes: 2048, verifiedValues: 1234))))
        #expect(s.progress == nil)
        #expect(s.message?.text == "wrote /models/tiny-weightlab.st (safetensors, 2.00 KiB) · verified: 1234 values equal the reconstruction bit for bit")
        _ = reduce(&s, .jobFinished(job, .failure(EvaluationFailure(message: "gguf cannot hold nf4"))))
        #expect(s.message == AppState.Message("writing model, MiB: gguf cannot hold nf4", isError: true))
    }

    @Test func anEmptyPathIsRefused() {
        var s = state()
        _ = key(&s, .character("W"))
        s.writePrompt?.path = ""
        #expect(key(&s, .enter).isEmpty)
        #expect(s.message?.isError == true)
    }
}
