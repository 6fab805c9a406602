import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// Recovery (`F`) through the runtime (fake terminal, synchronous scheduler) on Examples/fashion-mlp with the
/// committed Fashion-MNIST subset: 90 % global pruning, one epoch on the first 256 training samples. The
/// original accuracy is numpy's on the same file and data (fashion_mlp/reference.json); the size is the
/// numbers model's total for the settings on screen.
struct RecoveryScreenTests {
    static let model = Fixtures.repositoryRoot + "/Examples/fashion-mlp/fashion_mlp.safetensors"
    static let arch = Fixtures.repositoryRoot + "/Examples/fashion-mlp/fashion_mlp.json"

    func session(recovery: RecoverySetup?) throws -> (WorkbenchSession, FakeTerminal) {
        let model = try ModelFile.open(Self.model)
        let plan = try PlanEvaluation.load(Fixtures.path("fashion_mlp/plan_global90.json"))
        let settings = try PlanEvaluation.resolution(plan, for: model, strict: false).settings
        let terminal = FakeTerminal(width: 160, height: 30)
        let session = WorkbenchSession(model: model, settings: settings, planPath: nil, theme: Theme.dark, terminal: terminal,
                                       plan: plan, scheduler: ImmediateScheduler(), recoverySetup: recovery, trace: nil)
        session.settle()
        return (session, terminal)
    }

    @Test func theKeyRecoversThePlanOnScreenAndShowsTheAccuracies() throws {
        let (session, terminal) = try session(recovery: RecoverySetup(dataPath: Fixtures.path("fashion_mnist"),
                                                                      architecturePath: Self.arch, limit: 256))
        terminal.send(.key(.character("F")))
        session.step()
        session.settle()
        let score = try #require(session.state.recovered?.score, "\(session.state.message?.text ?? "")")
        defer { try? FileManager.default.removeItem(atPath: (score.output as NSString).deletingLastPathComponent) }
        let root = try #require(try Fixtures.json("fashion_mlp/reference.json") as? [String: Any])
        let reference = try #require(root["accuracy_t10k_first500"] as? Double)
        #expect(abs(score.original - reference) <= 0.002 + 1e-9, "original \(score.original) vs numpy \(reference)")
        #expect(score.original - score.compressed > 0.30, "pruning: \(score.original) → \(score.compressed)")
        #expect(score.recovered > score.compressed + 0.10, "recovered \(score.recovered) vs compressed \(score.compressed)")
        #expect(score.bytesCompressed == session.state.totals.totals.bytesCompressed)
        #expect(session.state.recoveryRun == nil && session.state.progress == nil)
        // The recovered model is a readable file of the same tensors.
        #expect(try ModelFile.open(score.output).tensors.map(\.name).sorted() == session.model.tensors.map(\.name).sorted())
        let status = terminal.lastLines[terminal.lastLines.count - 2]
        #expect(status.contains(score.summary), "\(status)")
        #expect(score.summary.hasPrefix("recovered: acc ") && score.summary.contains("(original 87.8%, compressed "))
    }

    @Test func withoutDataTheKeyIsOneClearErrorLine() throws {
        let (session, terminal) = try session(recovery: nil)
        terminal.send(.key(.character("F")))
        session.step()
        session.settle()
        #expect(session.state.message?.isError == true)
        #expect(session.state.message?.text.hasPrefix("recovery: no training data: open the workbench with --data") == true,
                "\(session.state.message?.text ?? "")")
        #expect(session.state.recovered == nil && session.state.recoveryRun == nil)
    }

    @Test func withoutAnArchitectureTheKeyIsOneClearErrorLine() throws {
        let (session, terminal) = try session(recovery: RecoverySetup(dataPath: Fixtures.path("fashion_mnist"), architecturePath: nil))
        terminal.send(.key(.character("F")))
        session.step()
        session.settle()
        #expect(session.state.message?.isError == true)
        #expect(session.state.message?.text.contains("--arch") == true, "\(session.state.message?.text ?? "")")
    }
}
