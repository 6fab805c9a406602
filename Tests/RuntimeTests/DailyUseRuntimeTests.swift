import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// Issue 12 through the run loop and the fake terminal: saving a plan the session opened, and failures in
/// plain words.
@Suite struct DailyUseRuntimeTests {
    func model() throws -> Model {
        var rng = SplitMix64(seed: 9)
        let a = try Tensor(name: "layer.0.weight", dtype: .float32, shape: [16, 32],
                           data: MemorySource(floats: (0..<512).map { _ in Float(rng.unit() - 0.5) }))
        let b = try Tensor(name: "layer.1.weight", dtype: .float32, shape: [8, 32],
                           data: MemorySource(floats: (0..<256).map { _ in Float(rng.unit() - 0.5) }))
        let bias = try Tensor(name: "layer.0.bias", dtype: .float32, shape: [16],
                              data: MemorySource(floats: (0..<16).map { _ in Float(rng.unit() - 0.5) }))
        return Model(path: "mem/tiny.safetensors", format: .safetensors, metadata: [], tensors: [a, b, bias])
    }

    /// Item 1: `w` on an unedited session writes the opened plan byte for byte as `jsonText` gives it (its
    /// notes and regex rule kept); after an edit the file holds the user's rule and one more.
    @Test func savingThroughTheRunLoopKeepsTheUsersPlan() throws {
        let dir = try TemporaryDirectory()
        let text = #"{"version": 1, "note": "mine", "default": {"quantize": {"format": "int", "bits": 8}}, "rules": [{"match": "bias$", "note": "exact", "quantize": {"format": "none"}}]}"#
        let path = try dir.write("mine.json", text: text)
        let plan = try Plan.load(path: path)
        let m = try model()
        let terminal = FakeTerminal(width: 100, height: 30)
        let session = WorkbenchSession(model: m, settings: try plan.resolve(for: m.tensors), planPath: path, theme: Theme.dark,
                                       terminal: terminal, plan: plan, scheduler: ImmediateScheduler(), trace: nil)
        terminal.type("w")
        session.step()
        session.settle()
        #expect(try String(contentsOfFile: path, encoding: .utf8) == plan.jsonText())

        terminal.type("-w")
        session.step()
        session.settle()
        let saved = try Plan.load(path: path)
        #expect(saved.note == "mine" && saved.rules.first == plan.rules.first && saved.rules.count == 2)
        #expect(try saved.resolve(for: m.tensors) == session.state.records.map(\.settings))
        terminal.type("q")
        session.step()
        #expect(session.state.isQuitting)              // saved: no question
    }

    /// Item 6: a failed save reads as words, not as `Error Domain=…`, and `q` then asks.
    @Test func failedSaveIsPlainAndQuitAsks() throws {
        let terminal = FakeTerminal(width: 100, height: 30)
        let session = WorkbenchSession(model: try model(), settings: Array(repeating: .identity, count: 3),
                                       planPath: "/nonexistent-dir-weightlab/plan.json", theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        terminal.type("fw")
        session.step()
        session.settle()
        let message = try #require(session.state.message)
        #expect(message.isError && !message.text.contains("Error Domain") && message.text.contains("does not exist"), "\(message.text)")
        terminal.type("q")
        session.step()
        #expect(!session.state.isQuitting && session.state.message?.text.contains("unsaved edits") == true)
    }

    @Test func systemErrorsInWords() {
        #expect(ErrorText.plain(NSError(domain: NSPOSIXErrorDomain, code: 2)) == "No such file or directory")
        #expect(ErrorText.plain(ModelError("/x", "is a directory")) == "is a directory")
    }
}
