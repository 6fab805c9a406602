import Compression
import Foundation
@testable import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The recovery job's own directory: a failure anywhere before the model is written (unreadable data, a
/// cancelled run) leaves nothing behind; a run that ends keeps the recovered model and nothing else.
struct RecoveryJobTests {
    static let arch = Fixtures.repositoryRoot + "/Examples/fashion-mlp/fashion_mlp.json"

    func run(_ setup: RecoverySetup, token: CancellationToken = CancellationToken(), in dir: TemporaryDirectory)
        throws -> (Result<JobResult, EvaluationFailure>, job: String) {
        let model = try ModelFile.open(RecoveryScreenTests.model)
        let planText = try String(contentsOfFile: Fixtures.path("fashion_mlp/plan_global90.json"), encoding: .utf8)
        let job = dir.path + "/job"
        let result = RecoveryJob.run(planText: planText, setup: setup, model: model, token: token, directory: {
            try FileManager.default.createDirectory(atPath: job, withIntermediateDirectories: false)
            return job
        }) { _ in }
        return (result, job)
    }

    @Test func unreadableDataLeavesNoDirectory() throws {
        let dir = try TemporaryDirectory()
        let (result, job) = try run(RecoverySetup(dataPath: dir.path + "/no-such-data", architecturePath: Self.arch), in: dir)
        guard case .failure(let f) = result else { Issue.record("recovered from missing data"); return }
        #expect(f.message.contains("no-such-data"), "\(f.message)")
        #expect(!FileManager.default.fileExists(atPath: job), "left behind: \((try? FileManager.default.contentsOfDirectory(atPath: job)) ?? [])")
    }

    @Test func aCancelledRunLeavesNoDirectory() throws {
        let dir = try TemporaryDirectory()
        let token = CancellationToken()
        token.cancel()
        let (result, job) = try run(RecoverySetup(dataPath: Fixtures.path("fashion_mnist"), architecturePath: Self.arch, limit: 64),
                                    token: token, in: dir)
        guard case .failure = result else { Issue.record("a cancelled run recovered"); return }
        #expect(!FileManager.default.fileExists(atPath: job), "left behind: \((try? FileManager.default.contentsOfDirectory(atPath: job)) ?? [])")
    }

    @Test func aFinishedRunKeepsOnlyTheRecoveredModel() throws {
        let dir = try TemporaryDirectory()
        let (result, job) = try run(RecoverySetup(dataPath: Fixtures.path("fashion_mnist"), architecturePath: Self.arch, limit: 64), in: dir)
        guard case .success(.recovered(let score)) = result else { Issue.record("\(result)"); return }
        #expect(score.output == job + "/recovered.safetensors")
        #expect(try FileManager.default.contentsOfDirectory(atPath: job) == ["recovered.safetensors"])
    }
}
