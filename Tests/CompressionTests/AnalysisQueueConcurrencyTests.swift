import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// The engine's analysis queue on real queues, where several layers run at once (one lane per core): every
/// layer asked is delivered exactly once, in the order asked, equal to `LayerAnalysis.analyse`; an urgent layer
/// comes first; cancellation drops everything not yet delivered and the queue
/// works again afterwards.
struct AnalysisQueueConcurrencyTests {
    final class Deliveries: @unchecked Sendable {
        let lock = NSLock()
        var layers: [Int] = []
        var results: [Int: LayerAnalysis] = [:]
        var failures = 0
        func add(_ layer: Int, _ r: Result<LayerAnalysis, EvaluationFailure>) {
            lock.withLock {
                layers.append(layer)
                if case .success(let a) = r { results[layer] = a } else { failures += 1 }
            }
        }
        var count: Int { lock.withLock { layers.count } }
        var order: [Int] { lock.withLock { layers } }
    }

    /// Layers of mixed sizes and types: BF16 of one, a few and several scan chunks, F32, tiny norms.
    func model(sizes: [Int] = [7, 4096, 70_000, TensorScan.chunkElements + 999, 3 * TensorScan.chunkElements]) throws -> Model {
        var rng = SplitMix64(seed: 5)
        var tensors: [Tensor] = []
        for i in 0..<24 {
            let n = sizes[i % sizes.count]
            let values = (0..<n).map { _ in Float(rng.unit() * 2 - 1) * Float(i % 3 + 1) / 50 }
            if i % 4 == 3 {
                tensors.append(try Tensor(name: "f\(i)", dtype: .float32, shape: [n], data: MemorySource(floats: values)))
            } else {
                let bytes = values.flatMap { v -> [UInt8] in let h = UInt16(v.bitPattern >> 16); return [UInt8(h & 0xFF), UInt8(h >> 8)] }
                tensors.append(try Tensor(name: "b\(i)", dtype: .bfloat16, shape: [n], data: MemorySource(bytes)))
            }
        }
        return Model(path: "mem", format: .safetensors, metadata: [], tensors: tensors)
    }

    func waitUntil(_ done: () -> Bool) {
        let deadline = Date().addingTimeInterval(60)
        while !done() && Date() < deadline { usleep(1000) }
    }

    @Test func everyLayerIsDeliveredOnceInOrderAndEqualToASerialAnalysis() throws {
        let m = try model()
        let engine = Engine(model: m, scheduler: DispatchScheduler(deliveryQueue: DispatchQueue(label: "test.delivery")))
        let got = Deliveries()
        for layer in m.tensors.indices { engine.analyse(layer: layer) { got.add($0, $1) } }
        waitUntil { got.count == m.tensors.count && engine.analysesOutstanding == 0 }
        usleep(20_000)
        #expect(got.order == Array(m.tensors.indices))
        #expect(got.failures == 0)
        for layer in m.tensors.indices {
            #expect(got.results[layer] == (try LayerAnalysis.analyse(m.tensors[layer])), "layer \(layer)")
        }
        #expect(engine.analysesOutstanding == 0)
    }

    /// The queue's order is fixed before the job runs (`ManualScheduler`), while its lanes run layers of mixed
    /// sizes at once: the urgent layer comes first and the rest follow in the order asked.
    @Test func anUrgentLayerComesFirstWhileLanesRunAtOnce() throws {
        let m = try model()
        let scheduler = ManualScheduler()
        let engine = Engine(model: m, scheduler: scheduler)
        let got = Deliveries()
        let last = m.tensors.count - 1
        for layer in 0..<last { engine.analyse(layer: layer) { got.add($0, $1) } }
        engine.analyse(layer: last, urgent: true) { got.add($0, $1) }
        #expect(scheduler.queuedJobs == 1)
        scheduler.runAll()
        #expect(got.order == [last] + Array(0..<last))
        #expect(engine.analysesOutstanding == 0)
        for layer in [0, 3, 4, last] {
            #expect(got.results[layer] == (try LayerAnalysis.analyse(m.tensors[layer])), "layer \(layer)")
        }
    }

    @Test func cancellingDropsWhatIsNotDeliveredAndTheQueueWorksAgain() throws {
        let m = try model(sizes: [4 * TensorScan.chunkElements, 100])
        let engine = Engine(model: m, scheduler: DispatchScheduler(deliveryQueue: DispatchQueue(label: "test.delivery")))
        let got = Deliveries()
        for layer in m.tensors.indices { engine.analyse(layer: layer) { got.add($0, $1) } }
        waitUntil { got.count >= 1 }
        engine.cancelAnalyses()
        waitUntil { engine.analysesOutstanding == 0 }
        usleep(50_000)
        let afterCancel = got.order
        #expect(afterCancel.count < m.tensors.count)
        #expect(afterCancel == Array(0..<afterCancel.count))
        #expect(got.failures == 0)

        let again = Deliveries()
        engine.analyse(layer: 2) { again.add($0, $1) }
        engine.analyse(layer: 0) { again.add($0, $1) }
        waitUntil { again.count == 2 }
        #expect(again.order == [2, 0])
        #expect(again.results[2] == (try LayerAnalysis.analyse(m.tensors[2])))
        #expect(got.order == afterCancel)
    }
}
