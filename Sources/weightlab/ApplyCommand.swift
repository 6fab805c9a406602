import ArgumentParser
import Compression
import Foundation
import Runtime
import WeightFormats
import Workbench

struct Apply: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the compressed model a plan describes, verified against the engine's numbers and atomic.",
        discussion: """
            Containers: gguf (GGUF in, GGUF out: ggml types re-quantized, untouched tensors copied byte for byte), \
            safetensors (fake-quant: same names, shapes and dtypes, values replaced by the reconstruction). \
            Exit status: 0 written, 1 writing or verification failed (nothing written), 2 bad input or plan.
            """)

    @Argument(help: "A GGUF/safetensors/.npy/.npz file, a sharded index or a directory.")
    var model: String

    @Option(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(name: [.short, .customLong("output")], help: "The file to write.")
    var output: String

    @Option(name: .customLong("to"), help: "The container: \(ModelWriters.names.joined(separator: ", ")) (default: the input's format when it can be written, else safetensors).")
    var container: String?

    @Flag(help: "Replace OUT if it exists (never an input).")
    var force = false

    @Flag(help: "Print a JSON summary (per-layer bytes, verification, the plan's numbers as `report` gives them).")
    var json = false

    @Flag(help: "No progress and no summary line.")
    var quiet = false

    @Flag(help: "Refuse a plan with a rule that matches no tensor (by default that is a warning).")
    var strict = false

    @Option(help: "An importance matrix (llama.cpp's GGUF imatrix or legacy .dat; else the plan's \"imatrix\"): ggml types are quantized with it as llama-quantize does.")
    var imatrix: String?

    @Flag(name: .customLong("no-verify"), help: "Skip reading the output back and comparing every value with the engine's reconstruction.")
    var noVerify = false

    @Option(name: .customLong("eval"), help: "Run this command on the written model ({} is replaced by its path) and record the last number it prints.")
    var evalCommand: String?

    @Option(name: .customLong("eval-metric"), help: "A regular expression whose (first group of the) last match in the --eval output is the metric.")
    var evalMetric: String?

    func run() throws {
        InterruptCleanup.install()
        // The evaluation command and pattern are checked before anything is written.
        var task: TaskMetric? = nil
        if let evalCommand {
            do { task = try TaskMetric(command: evalCommand, metricPattern: evalMetric) } catch { Failure.exit(error) }
        }
        signal(SIGXFSZ, SIG_IGN)   // a file-size limit then fails the write with EFBIG: one clear line, not a core dump
        let bar = ProgressBar(enabled: !quiet && isatty(2) == 1)
        let outcome: ModelApply.Outcome
        do {
            outcome = try ModelApply.run(modelPath: model, planPath: plan, output: output, container: container,
                                         overwrite: force, verify: !noVerify, numbers: json, diagnose: json, strict: strict,
                                         imatrixPath: imatrix,
                                         progress: { bar.show($0) })
            bar.clear()
            for w in outcome.warnings {
                FileHandle.standardError.write(Data("weightlab: warning: \(w.description)\n".utf8))
            }
        } catch let e as ApplyError {
            bar.clear()
            FileHandle.standardError.write(Data(("weightlab: " + e.message + "\n").utf8))
            Foundation.exit(e.kind == .plan ? 2 : 1)
        } catch {
            bar.clear()
            Failure.exit(error)
        }
        var metric: Result<TaskMetricResult, TaskMetricError>? = nil
        if let task {
            do {
                metric = .success(try task.run(on: outcome.output))
            } catch let e as TaskMetricError {
                metric = .failure(e)
            } catch {
                metric = .failure(TaskMetricError(String(describing: error)))
            }
        }
        if json {
            print(ApplyOutput.json(outcome, metric: metric).text())
        } else if !quiet {
            print(ApplyOutput.summary(outcome))
            if case .success(let m)? = metric { print("task metric: \(m.value) (from \"\(DisplayText.escaped(m.text))\")") }
        }
        if case .failure(let f)? = metric {
            // The message, then the tail of the command's stderr as it printed it (each line made safe to show).
            let lines = f.description.split(separator: "\n", omittingEmptySubsequences: false).map { DisplayText.escaped(String($0)) }
            FileHandle.standardError.write(Data(("weightlab: --eval: " + lines.joined(separator: "\n") + "\n").utf8))
            Foundation.exit(1)
        }
    }
}

/// A one-line progress bar on stderr: phase, percent, bytes per second and the time left.
final class ProgressBar: @unchecked Sendable {
    private let enabled: Bool
    private let lock = NSLock()
    private var phase: ApplyProgress.Phase? = nil
    private var started = Date()
    private var lastDrawn = Date.distantPast

    init(enabled: Bool) { self.enabled = enabled }

    func show(_ p: ApplyProgress) {
        guard enabled else { return }
        lock.withLock {
            let now = Date()
            if p.phase != phase { phase = p.phase; started = now; lastDrawn = .distantPast }
            guard now.timeIntervalSince(lastDrawn) >= 0.1 || p.bytesDone >= p.bytesTotal else { return }
            lastDrawn = now
            FileHandle.standardError.write(Data(("\r" + ApplyOutput.progressLine(p, elapsed: now.timeIntervalSince(started)) + "\u{1b}[K").utf8))
        }
    }

    func clear() {
        guard enabled else { return }
        FileHandle.standardError.write(Data("\r\u{1b}[K".utf8))
    }
}

enum ApplyOutput {
    /// "writing   [#########...........]  45%  120.3 MiB/s  0:12 left"
    static func progressLine(_ p: ApplyProgress, elapsed: TimeInterval) -> String {
        let fraction = p.bytesTotal > 0 ? min(1, Double(p.bytesDone) / Double(p.bytesTotal)) : 1
        let width = 24
        let filled = Int(fraction * Double(width))
        let rate = elapsed > 0 ? Double(p.bytesDone) / elapsed : 0
        let left = rate > 0 ? Double(p.bytesTotal - p.bytesDone) / rate : 0
        let seconds = Int(left.rounded())
        let name = p.phase == .writing ? "writing  " : "verifying"
        return "weightlab: \(name) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3d%%", Int(fraction * 100)) + "  " + Workbench.Format.bytes(Int(rate)) + "/s  "
            + String(format: "%d:%02d left", seconds / 60, seconds % 60)
    }

    static func verification(_ o: ModelApply.Outcome) -> String {
        o.verified ? "verified: \(o.verifiedValues) values equal the engine's reconstruction bit for bit" : "not verified (--no-verify)"
    }

    static func summary(_ o: ModelApply.Outcome) -> String {
        let changed = o.tensors.filter { !$0.copied }.count
        return "wrote \(DisplayText.escaped(o.output)) (\(o.container), \(Workbench.Format.bytes(o.bytesWritten)); "
            + "\(changed) of \(o.tensors.count) tensors rewritten, the rest copied); " + verification(o)
    }

    static func json(_ o: ModelApply.Outcome, metric: Result<TaskMetricResult, TaskMetricError>?) -> JSONValue {
        var fields: [(String, JSONValue)] = [
            ("output", .string(o.output)),
            ("container", .string(o.container)),
            ("bytes_written", .int(o.bytesWritten)),
            ("verification", .object([("result", .string(o.verified ? "passed" : "skipped")),
                                      ("values", .int(o.verifiedValues))])),
            ("layers", .array(o.tensors.map { t in
                .object([("name", .string(t.name)), ("stored_as", .string(t.storedAs)), ("bytes", .int(t.bytes)),
                         ("copied", .bool(t.copied))])
            })),
        ]
        if let e = o.evaluation {
            // `report --format json`'s object for the same plan, diagnostics included.
            let report = ReportOutput.json(e, diagnostics: (try? e.diagnostics()) ?? [])
            if case .object(let r) = report, let total = r.first(where: { $0.0 == "total" })?.1 {
                fields.append(("total", total))
            }
            fields.append(("report", report))
        }
        switch metric {
        case .success(let m)?:
            fields.append(("task_metric", .object([("command", .string(m.commandLine)), ("value", .number(m.value)),
                                                   ("matched", .string(m.text)), ("seconds", .number(m.seconds))])))
        case .failure(let f)?:
            fields.append(("task_metric", .object([("error", .string(f.message)), ("stderr_tail", .string(f.stderrTail))])))
        case nil: break
        }
        return .object(fields)
    }
}
