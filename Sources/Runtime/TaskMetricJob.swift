import Compression
import Foundation
import WeightFormats
import Workbench

/// The workbench's task-metric job (`E`): the settings on screen written to a temporary file (as `apply`
/// writes them, verified), the user's `--eval` command run on it, the file deleted whatever happens.
enum TaskMetricJob {
    /// Where the job is: writing (MiB of the input, verification included), then evaluating.
    enum Stage {
        case writing(ApplyProgress)
        case evaluating

        func progress(of job: JobRequest) -> JobProgress {
            switch self {
            case .writing(let p):
                // Writing, then verifying: each counts half, in MiB of the input.
                let total = max(1, p.bytesTotal >> 20) * 2
                let half = Int(Double(p.bytesDone) / Double(max(1, p.bytesTotal)) * Double(total / 2))
                let done = (p.phase == .writing ? 0 : total / 2) + half
                return JobProgress(job: job, done: min(done, total - 1), total: total, phase: .writingTemporary)
            case .evaluating:
                return JobProgress(job: job, done: 0, total: 1, phase: .evaluatingTask)
            }
        }
    }

    static func run(command: String, metricPattern: String?, container: String, settings: [LayerSettings],
                    planText: String, model: Model, engine: Engine, token: CancellationToken,
                    progress: @escaping @Sendable (Stage) -> Void) -> Result<JobResult, EvaluationFailure> {
        let directory: String
        do {
            directory = try temporaryDirectory()
        } catch {
            return .failure(EvaluationFailure(message: "cannot make a temporary directory: \(ErrorText.plain(error))"))
        }
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = ModelApply.defaultOutput(model: model.path, beside: directory + "/model", container: container)
        do {
            let metric = try TaskMetric(command: command, metricPattern: metricPattern)
            _ = try ModelApply.run(model: model, settings: settings, planText: planText, output: path, container: container,
                                   overwrite: false, verify: true, numbers: false, engine: engine, cancel: token) {
                progress(.writing($0))
            }
            if token.isCancelled { throw CancellationError() }
            progress(.evaluating)
            let r = try metric.run(on: path, isCancelled: { token.isCancelled })
            return .success(.taskMeasured(value: r.value, text: r.text, seconds: r.seconds))
        } catch let e as TaskMetricError {
            return .failure(EvaluationFailure(message: oneLine(e)))
        } catch let e as ModelError {
            return .failure(EvaluationFailure(message: e.description))
        } catch {
            return .failure(EvaluationFailure(message: ErrorText.plain(error)))
        }
    }

    /// The message line has one row: the stderr tail's last lines first (what went wrong, in the command's
    /// words), then our sentence.
    static func oneLine(_ e: TaskMetricError) -> String {
        let tail = e.stderrTail.split(separator: "\n").suffix(3).map { $0.trimmingCharacters(in: .whitespaces) }
        return tail.isEmpty ? e.message : "stderr: " + tail.joined(separator: " | ") + " · " + e.message
    }

    /// A fresh private directory under the system's temporary directory.
    static func temporaryDirectory() throws -> String {
        var template = Array((NSTemporaryDirectory() as NSString).appendingPathComponent("weightlab-task-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw TaskMetricError(String(cString: strerror(errno)))
        }
        return String(cString: made)
    }
}
