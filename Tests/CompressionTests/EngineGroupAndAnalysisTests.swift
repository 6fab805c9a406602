import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// The engine's plan-level semantics (global magnitude groups formed and re-formed over its plan) and its
/// analysis queue (order, urgency, cancellation).
struct EngineGroupAndAnalysisTests {
    final class Box<T>: @unchecked Sendable {
        let lock = NSLock()
        var value: [T] = []
        func add(_ v: T) { lock.withLock { value.append(v) } }
    }

    /// Four [8, 16] tensors of reproducible values, one scale apart, so a global cut prunes them unevenly.
    func model() throws -> Model {
        var rng = SplitMix64(seed: 11)
        let tensors = try (0..<4).map { i in
            try Tensor(name: "w\(i)", dtype: .float32, shape: [8, 16],
                       data: MemorySource(floats: (0..<128).map { _ in Float(rng.unit() * 2 - 1) * Float(i + 1) }))
        }
        return Model(path: "mem", format: .safetensors, metadata: [], tensors: tensors)
    }

    let half = LayerSettings(prune: .globalMagnitude(sparsity: 0.5))
    let sixty = LayerSettings(prune: .globalMagnitude(sparsity: 0.6))

    @Test func aMemberLeavingMakesTheOthersStaleAndTheirNewAnswersMatchTheWholePlan() throws {
        let m = try model()
        let engine = Engine(model: m, scheduler: ImmediateScheduler())
        let start = (0..<4).map { EvaluationRequest(layer: $0, settings: half, revision: 0) }
        // All members in one batch: nothing else is stale, and each answer carries the group's cut.
        let box = Box<EvaluationResult>()
        #expect(engine.evaluate(start) { box.add($0) } == [])
        // (A fresh engine, so no group is shared through the cache.)
        let reference = try Engine(model: m, scheduler: ImmediateScheduler()).evaluateAll(Array(repeating: half, count: 4))
        for r in box.value {
            #expect(try r.outcome.get().metrics.zeros == reference[r.layer]!.metrics.zeros)
            #expect(r.groupCut != nil)
        }
        #expect(engine.globalGroup(of: 2) == [0, 1, 2, 3])

        // Layer 1 moves to a 60 % group: layers 0, 2 and 3 are stale (their group lost a member).
        let moved = EvaluationRequest(layer: 1, settings: sixty, revision: 1)
        #expect(engine.evaluate([moved]) { _ in } == [0, 2, 3])
        #expect(engine.globalGroup(of: 2) == [0, 2, 3])
        #expect(engine.globalGroup(of: 1) == [1])
        // Asked again with unchanged settings, they report nothing further stale (no cascade), and their
        // answers are those of the whole new plan.
        let again = [0, 2, 3].map { EvaluationRequest(layer: $0, settings: half, revision: 1) }
        let box2 = Box<EvaluationResult>()
        #expect(engine.evaluate(again) { box2.add($0) } == [])
        let plan = [half, sixty, half, half]
        let expected = try Engine(model: m, scheduler: ImmediateScheduler()).evaluateAll(plan)
        #expect(box2.value.count == 3)
        for r in box2.value {
            #expect(try r.outcome.get().metrics.zeros == expected[r.layer]!.metrics.zeros, "layer \(r.layer)")
            #expect(try r.outcome.get().metrics.sumSquaredError == expected[r.layer]!.metrics.sumSquaredError)
        }
        // Half of the 384 weights of layers 0, 2 and 3 together (ties are unlikely in random floats).
        #expect(box2.value.reduce(0) { $0 + (try! $1.outcome.get().pruning.pruned) } == 192)

        // A member leaving for identity is stale-making too.
        #expect(engine.evaluate([EvaluationRequest(layer: 3, settings: .identity, revision: 2)]) { _ in } == [0, 2])
    }

    /// On real queues (workers in parallel, a group resolved while its members wait), the latest answer for
    /// every layer equals the whole plan's evaluation.
    @Test func concurrentWorkersConvergeOnTheWholePlan() throws {
        let m = try model()
        let delivery = DispatchQueue(label: "test.delivery")
        let engine = Engine(model: m, scheduler: DispatchScheduler(deliveryQueue: delivery))
        let latest = Box<EvaluationResult>()
        let deliver: @Sendable (EvaluationResult) -> Void = { latest.add($0) }
        _ = engine.evaluate((0..<4).map { EvaluationRequest(layer: $0, settings: half, revision: 0) }, deliver: deliver)
        let stale = engine.evaluate([EvaluationRequest(layer: 1, settings: sixty, revision: 1)], deliver: deliver)
        #expect(stale == [0, 2, 3])
        _ = engine.evaluate(stale.map { EvaluationRequest(layer: $0, settings: half, revision: 1) }, deliver: deliver)
        // Wait for every layer's revision-1 answer.
        let deadline = Date().addingTimeInterval(20)
        func answered() -> [Int: EvaluationResult] {
            latest.lock.withLock {
                Dictionary(latest.value.filter { $0.revision == 1 }.map { ($0.layer, $0) }, uniquingKeysWith: { _, b in b })
            }
        }
        while answered().count < 4 && Date() < deadline { usleep(1000) }
        let got = answered()
        #expect(got.count == 4)
        let expected = try Engine(model: m, scheduler: ImmediateScheduler()).evaluateAll([half, sixty, half, half])
        for (layer, r) in got {
            #expect(try r.outcome.get().metrics.zeros == expected[layer]!.metrics.zeros, "layer \(layer)")
        }
    }

    @Test func otherChangesToAMemberDoNotTouchItsGroup() throws {
        let engine = Engine(model: try model(), scheduler: ImmediateScheduler())
        _ = engine.evaluate((0..<4).map { EvaluationRequest(layer: $0, settings: half, revision: 0) }) { _ in }
        var int8 = half
        int8.quantize = .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)
        #expect(engine.evaluate([EvaluationRequest(layer: 2, settings: int8, revision: 1)]) { _ in } == [])
    }

    @Test func analysesRunInOrderWithTheUrgentFirstAndCancelDropsThem() throws {
        let scheduler = ManualScheduler()
        let engine = Engine(model: try model(), scheduler: scheduler)
        let delivered = Box<Int>()
        for layer in 0..<3 { engine.analyse(layer: layer) { l, r in if case .success = r { delivered.add(l) } } }
        engine.analyse(layer: 3, urgent: true) { l, _ in delivered.add(l) }
        engine.analyse(layer: 1) { l, _ in delivered.add(l) }   // already waiting: not queued twice
        #expect(scheduler.queuedJobs == 1)
        #expect(engine.analysesOutstanding == 4)
        scheduler.runAll()
        #expect(delivered.value == [3, 0, 1, 2])
        #expect(engine.analysesOutstanding == 0)

        for layer in 0..<4 { engine.analyse(layer: layer) { l, _ in delivered.add(l) } }
        engine.cancelAnalyses()
        scheduler.runAll()
        #expect(delivered.value == [3, 0, 1, 2])
        #expect(engine.analysesOutstanding == 0)
    }
}
