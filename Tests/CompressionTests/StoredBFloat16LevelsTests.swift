import Foundation
import Testing
import WeightFormats
@testable import Compression

/// The grid the workbench draws, found from stored BF16 bytes (`LevelFinder.findStoredBFloat16`, used when the
/// engine evaluates a BF16 layer on the stored-bytes path with levels) against `LevelFinder.find` on the
/// decoded values: the same levels, unit, clip range and width, bit for bit, for every bit width and both grid
/// kinds, on `FusedIntegerKernelTests`' shapes with ±0, NaN and ±∞ among the values; ties between units go to
/// the first, across the engine's row pieces too.
struct StoredBFloat16LevelsTests {
    /// Everything a `Found` holds, as bit patterns (NaN levels compare equal to themselves).
    static func bits(_ f: LevelFinder.Found?) -> [String]? {
        guard let f else { return nil }
        let clip = f.levels.clip.map { "\($0.lowerBound.bitPattern)…\($0.upperBound.bitPattern)" } ?? "none"
        return [f.levels.unit, clip, "\(f.width.bitPattern)"] + f.levels.values.map { "\($0.bitPattern)" }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2), arguments: 0..<FusedIntegerKernelTests.shapes.count)
    func levelsFromStoredBytesEqualDecodedValues(_ c: Int) {
        let (shape, granularity) = FusedIntegerKernelTests.shapes[c]
        let n = shape.reduce(1, *)
        for nonFinite in [false, true] {
            let (raw, values) = StoredBFloat16KernelTests.stored(n, seed: UInt64(300 + c), nonFinite: nonFinite)
            for bits in 2...8 {
                for symmetric in [true, false] {
                    let s = LayerSettings(quantize: .int(bits: bits, symmetric: symmetric, granularity: granularity, clip: .minmax))
                    let expected = values.withUnsafeBufferPointer { LevelFinder.find(s.quantize, values: $0, shape: shape, firstRow: 5) }
                    let got = raw.withUnsafeBytes { LevelFinder.findStoredBFloat16(s, shape: shape, raw: $0, firstRow: 5) }
                    #expect(expected != nil && Self.bits(got) == Self.bits(expected), "\(shape) \(granularity) int\(bits) sym \(symmetric) nonFinite \(nonFinite)")
                }
            }
        }
    }

    /// The widest group is found by comparing each group's range with the largest so far and working out a grid
    /// only for a new largest one: groups whose ranges rise, fall, repeat and tie (symmetric ±c, and asymmetric
    /// ranges of equal width at other offsets), −0-only and all-zero groups, an infinite group after the widest
    /// finite one and one before it — the first of the widest must win, as `LevelFinder.find` picks it.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func widestGroupAmongCraftedRanges() {
        // One row per case, eight groups of 32; each group is filled with its (lo, hi) then small values.
        let cases: [[(lo: Float, hi: Float)]] = [
            [(-1, 1), (-2, 0.5), (-0.5, 2), (-2, 2), (0, 0), (-1, 3), (-3, 1), (-3, 3)],
            [(-0.0, -0.0), (0, 0), (-0.0, 0), (-0.25, 0.125), (-0.125, 0.25), (-0.25, 0.25), (0, 0.375), (-0.375, 0)],
            [(0, 4), (-1, 3), (-2, 2), (-4, 0), (-3, 1), (0, 4), (-4, 0), (-1, 3)],
            [(-1, 1), (-Float.infinity, 1), (-2, 2), (-1, .infinity), (0, 0), (-3, 3), (-4, 4), (-1, 1)],
            [(-8, 8), (-4, 4), (-2, 2), (-1, 1), (-0.5, 0.5), (-0.25, 0.25), (-0.125, 0.125), (0, 0)],
            [(-1, 1.0078125), (-1.0078125, 1), (-1, 1.015625), (-1.015625, 1), (-0.0078125, 1), (0, 1.0078125), (-1, 0), (-1.0078125, 0)],
        ]
        let columns = 8 * 32
        var values: [Float] = []
        for row in cases {
            for (lo, hi) in row {
                values += [lo, hi] + (0..<30).map { k in lo == 0 && hi == 0 ? 0 : Float(k % 5 - 2) / 1024 * min(1, hi - lo) }
            }
        }
        let raw = values.flatMap { x -> [UInt8] in
            let h = UInt16(x.bitPattern >> 16)
            return [UInt8(h & 0xFF), UInt8(h >> 8)]
        }
        for rows in [1, cases.count] {
            let shape = [rows, columns]
            let part = Array(values[0..<(rows * columns)]), bytes = Array(raw[0..<(2 * rows * columns)])
            for bits in 2...8 {
                for symmetric in [true, false] {
                    let s = LayerSettings(quantize: .int(bits: bits, symmetric: symmetric, granularity: .group(32), clip: .minmax))
                    let expected = part.withUnsafeBufferPointer { LevelFinder.find(s.quantize, values: $0, shape: shape, firstRow: 0) }
                    let got = bytes.withUnsafeBytes { LevelFinder.findStoredBFloat16(s, shape: shape, raw: $0) }
                    #expect(expected != nil && Self.bits(got) == Self.bits(expected), "\(rows) rows int\(bits) sym \(symmetric)")
                }
            }
        }
    }

    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func notAnsweredOffTheStoredPath() {
        let (raw, _) = StoredBFloat16KernelTests.stored(48 * 384, seed: 9, nonFinite: false)
        let pruned = LayerSettings(prune: .threshold(0.1), quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax))
        let mse = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .mse))
        let perTensor = LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .tensor, clip: .minmax))
        let nf4 = LayerSettings(quantize: .nf4(group: 64))
        for s in [pruned, mse, perTensor, nf4, .identity] {
            #expect(raw.withUnsafeBytes { LevelFinder.findStoredBFloat16(s, shape: [48, 384], raw: $0) } == nil, "\(s)")
        }
    }

    /// The workbench's request (numbers and levels) on a BF16 layer split into row pieces: the stored-bytes
    /// path gives the Float path's evaluation and levels. Rows repeat, so every piece has units as wide as
    /// the first piece's widest: the first one must win, named by its row in the whole tensor.
    @Test(.enabled(if: KernelDispatch.cpuHasAVX2 && KernelDispatch.avx2))
    func engineLevelsFromStoredBytesEqualDecodedValues() throws {
        let rows = 700, columns = 2048
        let (block, _) = StoredBFloat16KernelTests.stored(100 * columns, seed: 12, nonFinite: false)
        var raw: [UInt8] = []
        raw.reserveCapacity(2 * rows * columns)
        for r in 0..<rows {
            let start = (r % 100) * 2 * columns
            raw += block[start..<(start + 2 * columns)]
        }
        let values = stride(from: 0, to: raw.count, by: 2).map { Float(bitPattern: UInt32(raw[$0]) << 16 | UInt32(raw[$0 + 1]) << 24) }
        let tensor = try Tensor(name: "w", dtype: .bfloat16, shape: [rows, columns], data: MemorySource(raw))
        let model = Model(path: "<memory>", format: .safetensors, metadata: [], tensors: [tensor])
        for q in [QuantFormat.int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax),
                  .int(bits: 3, symmetric: false, granularity: .group(32), clip: .minmax),
                  .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)] {
            let settings = LayerSettings(quantize: q)
            for pieceElements in [Engine.pieceElements, 64 * columns] {
                let engine = Engine(model: model, scheduler: ImmediateScheduler())
                let fromBytes = try engine.evaluate(tensor, settings: settings, cut: nil, token: CancellationToken(), pieceElements: pieceElements)
                let decoded = try values.withUnsafeBufferPointer {
                    try engine.evaluate(tensor, settings: settings, cut: nil, token: CancellationToken(), pieceElements: pieceElements, decoded: $0)
                }
                #expect(fromBytes.evaluation == decoded.evaluation, "\(q)")
                #expect(decoded.levels != nil && fromBytes.levels == decoded.levels, "\(q) \(pieceElements)")
            }
            // Through the workbench's request (the engine's worker), as the screen receives it.
            let engine = Engine(model: model, scheduler: ImmediateScheduler())
            let got = Box()
            engine.evaluate(layer: 0, settings: settings, revision: 1) { got.result = $0 }
            let decoded = try values.withUnsafeBufferPointer {
                try engine.evaluate(tensor, settings: settings, cut: nil, token: CancellationToken(), decoded: $0)
            }
            #expect(got.result?.levels == decoded.levels && got.result?.levels != nil, "\(q)")
            #expect((try? got.result?.outcome.get()) == decoded.evaluation, "\(q)")
        }
    }

    final class Box: @unchecked Sendable { var result: EvaluationResult? }
}
