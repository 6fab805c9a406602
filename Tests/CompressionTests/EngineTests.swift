import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// The engine's scheduling behaviour and its row-split evaluation.
struct EngineTests {
    /// A model of one [rows, cols] F32 tensor of reproducible values, held in memory.
    func model(rows: Int, cols: Int, seed: UInt64 = 1) throws -> Model {
        var rng = SplitMix64(seed: seed)
        let values = (0..<(rows * cols)).map { _ in Float(rng.unit() * 2 - 1) * Float(1 + rng.unit() * 3) }
        let t = try Tensor(name: "w", dtype: .float32, shape: [rows, cols], data: MemorySource(floats: values))
        return Model(path: "mem", format: .safetensors, metadata: [], tensors: [t])
    }

    final class Box<T>: @unchecked Sendable { var value: [T] = [] }

    @Test func heldKeyRunsOneJobAndDeliversTheLatest() throws {
        let scheduler = ManualScheduler()
        let engine = Engine(model: try model(rows: 8, cols: 64), scheduler: scheduler)
        let delivered = Box<EvaluationResult>()
        for bits in 2...8 {
            engine.evaluate(layer: 0, settings: LayerSettings(quantize: .int(bits: bits, symmetric: true, granularity: .channel, clip: .minmax)),
                            revision: bits) { delivered.value.append($0) }
        }
        #expect(scheduler.queuedJobs == 1)
        scheduler.runAll()
        #expect(delivered.value.count == 1)
        #expect(delivered.value.first?.revision == 8)
        if case .int(let bits, _, _, _)? = delivered.value.first?.settings.quantize { #expect(bits == 8) }
        #expect(delivered.value.first?.levels?.values.count == 256)
    }

    /// Edits to many layers run on a bounded number of workers, and the layer in view jumps the queue.
    @Test func boundedWorkersServeTheUrgentLayerFirst() throws {
        var rng = SplitMix64(seed: 7)
        let tensors = try (0..<5).map { i in
            try Tensor(name: "w\(i)", dtype: .float32, shape: [4, 32],
                       data: MemorySource(floats: (0..<128).map { _ in Float(rng.unit()) - 0.5 }))
        }
        let scheduler = ManualScheduler()
        let engine = Engine(model: Model(path: "mem", format: .safetensors, metadata: [], tensors: tensors), scheduler: scheduler)
        let delivered = Box<EvaluationResult>()
        let int4 = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .channel, clip: .minmax))
        for layer in 0..<4 { engine.evaluate(layer: layer, settings: int4, revision: 1) { delivered.value.append($0) } }
        engine.evaluate(layer: 4, settings: int4, revision: 1, urgent: true) { delivered.value.append($0) }
        #expect(scheduler.queuedJobs == min(engine.maxWorkers, 5))
        scheduler.runAll()
        #expect(delivered.value.map(\.layer) == [4, 0, 1, 2, 3])
    }

    @Test func failuresAreDeliveredNotThrown() throws {
        let engine = Engine(model: try model(rows: 4, cols: 6), scheduler: ImmediateScheduler())
        let delivered = Box<EvaluationResult>()
        engine.evaluate(layer: 0, settings: LayerSettings(prune: .nm(n: 2, m: 4)), revision: 1) { delivered.value.append($0) }
        guard case .failure(let f)? = delivered.value.first?.outcome else { Issue.record("expected a failure"); return }
        #expect(f.message.contains("2:4"))
    }

    /// Splitting a large layer into row pieces must give the same numbers as evaluating it whole.
    @Test(arguments: [
        LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(32), clip: .minmax)),
        LayerSettings(prune: .threshold(0.5), quantize: .int(bits: 8, symmetric: false, granularity: .channel, clip: .minmax)),
        LayerSettings(prune: .nm(n: 2, m: 4), quantize: .gguf(.q4_0)),
        LayerSettings(quantize: .nf4(group: 64)),
        LayerSettings(quantize: .fp8(.e4m3, granularity: .channel)),
    ])
    func rowPiecesMergeExactly(_ settings: LayerSettings) throws {
        let m = try model(rows: 300, cols: 64)
        let engine = Engine(model: m, scheduler: ImmediateScheduler())
        #expect(Engine.rowsPerPiece(settings, shape: [300, 64], pieceElements: 1000) != nil)
        let whole = try engine.values(of: m.tensors[0]).withUnsafeBufferPointer {
            try LayerEvaluator.evaluate(settings, shape: [300, 64], values: $0)
        }
        let saved = Engine.pieceElements
        #expect(saved > 300 * 64)   // so the engine's own evaluation above ran whole …
        let split = try engine.evaluate(m.tensors[0], settings: settings, cut: nil, token: CancellationToken(),
                                        pieceElements: 1000)   // … and this one in pieces
        #expect(split.evaluation.metrics.count == whole.metrics.count)
        #expect(split.evaluation.metrics.zeros == whole.metrics.zeros)
        #expect(split.evaluation.size == whole.size)
        #expect(abs(split.evaluation.metrics.sumSquaredError - whole.metrics.sumSquaredError) <= 1e-9 * whole.metrics.sumSquaredError)
        #expect(split.evaluation.metrics.maxAbsError == whole.metrics.maxAbsError)
    }

    @Test func settingsNeedingTheWholeTensorAreNotSplit() {
        #expect(Engine.rowsPerPiece(LayerSettings(prune: .sparsity(0.5)), shape: [300, 64], pieceElements: 1000) == nil)
        #expect(Engine.rowsPerPiece(LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .tensor, clip: .minmax)),
                                    shape: [300, 64], pieceElements: 1000) == nil)
        #expect(Engine.rowsPerPiece(LayerSettings(quantize: .kmeans(clusters: 16)), shape: [300, 64], pieceElements: 1000) == nil)
    }

    @Test func cancelledScanStops() throws {
        let m = try model(rows: 300, cols: 64)
        let engine = Engine(model: m, scheduler: ImmediateScheduler())
        let token = CancellationToken()
        token.cancel()
        #expect(throws: CancellationError.self) {
            _ = try engine.evaluateAll([LayerSettings(quantize: .nf4(group: 64))], cancel: token)
        }
    }

    /// The widest row's grid is the one drawn, and its label names the row.
    @Test func levelsComeFromTheWidestRow() throws {
        var values = [Float](repeating: 0.1, count: 4 * 8)
        values[2 * 8 + 3] = 5    // row 2 is the widest
        let found = values.withUnsafeBufferPointer {
            LevelFinder.find(.int(bits: 3, symmetric: true, granularity: .channel, clip: .minmax), values: $0, shape: [4, 8])
        }
        #expect(found?.levels.unit == "row 2")
        #expect(found?.levels.values.count == 8)
        #expect(found.map { abs($0.levels.values.last! - 5) < 1e-6 } == true)
    }
}
