import Foundation
import Runtime
import Testing
import TestSupport

/// The task-metric runner against `Fixtures/taskmetric/fake_eval.sh`, a stand-in for a user's evaluation.
@Suite struct TaskMetricTests {
    let script = TaskMetric.shellQuoted(Fixtures.path("taskmetric/fake_eval.sh"))

    @Test func lastNumberOfStdoutAndThePathQuoted() throws {
        let dir = try TemporaryDirectory()
        // Spaces, a quote and a `$` in the path: the quoting must hand it over as one word, unexpanded.
        let model = try dir.write("my model's $HOME.safetensors", [1, 2, 3])
        let metric = try TaskMetric(command: "sh \(script) number {}")
        let r = try metric.run(on: model)
        #expect(r.value == 0.8125)
        #expect(r.text == "0.8125")
        #expect(r.stdout.contains("model: \(model)\n"))
        #expect(r.commandLine.contains("'\\''"))
    }

    @Test func patternCaptureGroup() throws {
        let metric = try TaskMetric(command: "sh \(script) perplexity {}", metricPattern: #"PPL = ([0-9.]+)"#)
        #expect(try metric.run(on: "/nonexistent").value == 5.3301)
        // Without the pattern the last number is the estimate's error.
        #expect(try TaskMetric(command: "sh \(script) perplexity {}").run(on: "x").value == 0.0427)
    }

    @Test func stderrWhenStdoutHasNoNumber() throws {
        #expect(try TaskMetric(command: "sh \(script) stderr-only {}").run(on: "x").value == 4.25)
    }

    @Test func failureShowsTheTailOfStderr() throws {
        let metric = try TaskMetric(command: "sh \(script) fail {}")
        do {
            _ = try metric.run(on: "x")
            Issue.record("expected a failure")
        } catch let e as TaskMetricError {
            #expect(e.message.contains("exit code 3"))
            #expect(e.stderrTail.hasPrefix("stderr line 11\n"))
            #expect(e.stderrTail.hasSuffix("stderr line 30"))
            #expect(e.description.contains("  | stderr line 30"))
        }
    }

    @Test func noNumberIsAnError() throws {
        #expect(throws: TaskMetricError.self) { try TaskMetric(command: "sh \(script) silent {}").run(on: "x") }
        #expect(throws: TaskMetricError.self) {
            try TaskMetric(command: "sh \(script) number {}", metricPattern: "PPL = ([0-9.]+)").run(on: Fixtures.path("taskmetric/fake_eval.sh"))
        }
    }

    @Test func timeoutStopsTheWholeGroup() throws {
        let metric = try TaskMetric(command: "sh \(script) slow {}", timeout: 0.5)
        let start = Date()
        do {
            _ = try metric.run(on: "x")
            Issue.record("expected a timeout")
        } catch let e as TaskMetricError {
            #expect(e.message.contains("did not finish within 0.5 s"))
        }
        // The shell's `sleep` child holds the pipes: only stopping the group ends the run this soon.
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func cancel() throws {
        let metric = try TaskMetric(command: "sh \(script) slow {}")
        let start = Date()
        #expect(throws: CancellationError.self) {
            try metric.run(on: "x", isCancelled: { Date().timeIntervalSince(start) > 0.3 })
        }
        #expect(Date().timeIntervalSince(start) < 10)
    }

    @Test func badArgumentsAreRefusedUpFront() {
        #expect(throws: TaskMetricError.self) { try TaskMetric(command: "llama-perplexity -m model.gguf") }
        #expect(throws: TaskMetricError.self) { try TaskMetric(command: "x {}", metricPattern: "([") }
        #expect(throws: TaskMetricError.self) { try TaskMetric(command: "x {}", timeout: 0) }
    }

    @Test func quoting() {
        #expect(TaskMetric.shellQuoted("a b") == "'a b'")
        #expect(TaskMetric.shellQuoted("it's") == "'it'\\''s'")
    }
}

extension TaskMetricTests {
    @Test func theCommandSeesThisProcesssEnvironment() throws {
        setenv("WEIGHTLAB_TASK_METRIC_TEST", "17.25", 1)
        defer { unsetenv("WEIGHTLAB_TASK_METRIC_TEST") }
        #expect(try TaskMetric(command: "echo $WEIGHTLAB_TASK_METRIC_TEST {}").run(on: "").value == 17.25)
    }
}
