import Compression
import Foundation
import Runtime
import TaskEval
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The task line through the runtime (fake terminal, synchronous scheduler): opened with evaluation data, the
/// workbench measures the plan it opens with; an edit measures the new settings and keeps the previous
/// plan's value beside it. The numbers are the generator's (taskeval/reference.json: Python onnxruntime +
/// numpy), run by the pure-Swift MLP so no onnxruntime is needed.
struct TaskLineScreenTests {
    func session(plan: String) throws -> (WorkbenchSession, FakeTerminal, TemporaryDirectory) {
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: #"{"kind": "mlp", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "linear", "name": "fc2"}]}"#)
        let model = try ModelFile.open(Fixtures.path("taskeval/classifier.onnx"))
        let settings = try Plan.load(path: Fixtures.path(plan)).resolve(for: model.tensors)
        let terminal = FakeTerminal(width: 160, height: 40)
        let session = WorkbenchSession(model: model, settings: settings, planPath: nil, theme: Theme.dark,
                                       terminal: terminal, scheduler: ImmediateScheduler(),
                                       taskSetup: TaskSetup(dataPath: Fixtures.path("taskeval/classifier_data.npz"),
                                                            architecturePath: arch, batch: 64),
                                       taskDebounce: 0, trace: nil)
        session.settle()
        return (session, terminal, dir)
    }

    static func reference() throws -> [String: Any] {
        let root = try #require(try Fixtures.json("taskeval/reference.json") as? [String: Any])
        let classifier = try #require(root["classifier"] as? [String: Any])
        return try #require(classifier["int4_g128"] as? [String: Any])
    }

    static func percent(_ v: Any?) -> String { Workbench.Format.percent(v as! Double) }

    @Test func theOpenedPlanIsMeasuredAndAnEditKeepsThePreviousValue() throws {
        let m = try Self.reference()
        let (session, terminal, _) = try session(plan: "taskeval/plan_int4_g128.json")
        let status = { terminal.lastLines[terminal.lastLines.count - 2] }
        let int4 = "acc " + Self.percent(m["accuracy"])
        #expect(status().contains(int4 + " (original " + Self.percent(m["accuracy_original"]) + ")"), "\(status())")
        #expect(session.state.taskLine?.latest?.score.details.contains("flip " + Self.percent(m["flip_rate"])) == true)

        // `p` prunes the focused layer too: measured again, the int4 value kept as "was".
        let before = session.state.records.map(\.settings)
        terminal.send(.key(.character("p")))
        session.step()
        session.settle()
        #expect(session.state.records.map(\.settings) != before)
        #expect(status().contains("(was " + Self.percent(m["accuracy"])), "\(status())")
        #expect(session.state.taskLine?.prior?.score.text == Self.percent(m["accuracy"]))
        #expect(session.state.taskLine?.job == nil)
    }

    @Test func badDataIsOneErrorLineOnScreen() throws {
        let dir = try TemporaryDirectory()
        let model = try ModelFile.open(Fixtures.path("taskeval/classifier.onnx"))
        let terminal = FakeTerminal(width: 160, height: 40)
        let bad = try dir.write("bad.npz", text: "not a zip")
        let session = WorkbenchSession(model: model, settings: Array(repeating: .identity, count: model.tensors.count), planPath: nil,
                                       theme: Theme.dark, terminal: terminal, scheduler: ImmediateScheduler(),
                                       taskSetup: TaskSetup(dataPath: bad, architecturePath: dir.path + "/none.json"),
                                       taskDebounce: 0, trace: nil)
        session.settle()
        #expect(session.state.message?.isError == true)
        #expect(session.state.message?.text.hasPrefix("task line (bad.npz): ") == true, "\(session.state.message?.text ?? "")")
        #expect(terminal.lastLines[terminal.lastLines.count - 2].contains("task failed"))
    }
}
