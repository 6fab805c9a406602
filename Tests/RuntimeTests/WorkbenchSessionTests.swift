import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The run loop against the fake terminal: input, frames, resizes, quitting, and a scheduler the test drives.
@Suite struct WorkbenchSessionTests {
    /// Two float layers and one integer tensor, in memory.
    func model() throws -> Model {
        var rng = SplitMix64(seed: 5)
        let a = try Tensor(name: "a.weight", dtype: .float32, shape: [16, 32],
                           data: MemorySource(floats: (0..<512).map { _ in Float(rng.unit() - 0.5) }))
        let b = try Tensor(name: "b.weight", dtype: .float32, shape: [8, 32],
                           data: MemorySource(floats: (0..<256).map { _ in Float(rng.unit() - 0.5) }))
        let ids = try Tensor(name: "ids", dtype: .int64, shape: [4], data: MemorySource([UInt8](repeating: 0, count: 32)))
        return Model(path: "mem/tiny.safetensors", format: .safetensors, metadata: [], tensors: [a, b, ids])
    }

    @Test func loopDrawsReadsKeysAndEndsOnQuit() throws {
        let terminal = FakeTerminal(width: 100, height: 30)
        terminal.send(.key(.down))
        terminal.type("q")
        let session = WorkbenchSession(model: try model(), settings: Array(repeating: .identity, count: 3), planPath: nil,
                                       theme: Theme.dark, terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        session.loop()
        #expect(session.state.isQuitting)
        #expect(session.state.focus == 1)
        #expect(!terminal.frames.isEmpty)
        #expect(terminal.lastLines.joined().contains("tiny.safetensors"))
    }

    @Test func resizeRepaintsEverything() throws {
        let terminal = FakeTerminal(width: 100, height: 30)
        let session = WorkbenchSession(model: try model(), settings: Array(repeating: .identity, count: 3), planPath: nil,
                                       theme: Theme.dark, terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        terminal.send(.resize(width: 120, height: 40))
        #expect(session.step())
        #expect(terminal.invalidations == 1)
        #expect(session.state.width == 120 && session.state.height == 40)
        #expect(terminal.frames.last?.width == 120)
    }

    /// With a manual scheduler nothing is computed until the test runs the queued work; the results then
    /// arrive at the next turn of the loop.
    @Test func resultsArriveWhenTheSchedulerRunsThem() throws {
        let terminal = FakeTerminal(width: 100, height: 30)
        let scheduler = ManualScheduler()
        let int8 = LayerSettings(quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))
        let session = WorkbenchSession(model: try model(), settings: [int8, .identity, .identity], planPath: nil,
                                       theme: Theme.dark, terminal: terminal, scheduler: scheduler, trace: nil)
        #expect(scheduler.queuedJobs > 0)
        #expect(session.isBusy)
        #expect(!session.step())
        #expect(session.state.totals.analysed == 0)
        scheduler.runAll()
        #expect(session.step())
        #expect(session.state.totals.analysed == 2)
        #expect(session.state.records[0].numbers.status == .exact)
        #expect(!session.isBusy)
    }

    @Test func aPlanThatCannotBeSavedIsAnErrorMessage() throws {
        let terminal = FakeTerminal(width: 100, height: 30)
        let session = WorkbenchSession(model: try model(), settings: Array(repeating: .identity, count: 3),
                                       planPath: "/nonexistent-dir-weightlab/plan.json", theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        terminal.type("w")
        session.step()
        session.settle()
        #expect(session.state.message?.isError == true)
        #expect(session.state.message?.text.hasPrefix("cannot save plan to /nonexistent-dir-weightlab/plan.json") == true)
        #expect(!FileManager.default.fileExists(atPath: "/nonexistent-dir-weightlab/plan.json"))
    }
}
