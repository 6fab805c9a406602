import Foundation
import Testing
@testable import Compression
import WeightFormats

/// The menu streamed in row pieces (`Engine.streamedMenu`) against the whole-tensor paths it replaces: each
/// option equal to `evaluateAll` of that option alone, the diagnostics equal to `LayerDiagnostics.measure`
/// of the whole decoded tensor, for a BF16 tensor (outliers from the pattern counts) and an F32 one (outliers
/// in a second streamed pass), both taller than one row piece.
struct MenuStreamingTests {
    /// 300 × 4096: two row pieces of 256 and 44 rows. Seeded values with a few large ones (outliers) and zeros.
    static func model() -> Model {
        var state: UInt64 = 0x5EED
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state) >> 40) / Float(1 << 23)
        }
        let shape = [300, 4096]
        let values = (0..<(300 * 4096)).map { i -> Float in
            let x = next() * 0.02 + (i % 97 == 0 ? 0.01 : 0)
            return i % 50_021 == 0 ? x * 400 : (i % 1_001 == 0 ? 0 : x)
        }
        let bf16 = values.flatMap { v -> [UInt8] in
            let b = v.bitPattern >> 16
            return [UInt8(b & 0xFF), UInt8(b >> 8)]
        }
        let tensors = [
            try! Tensor(name: "bf16", dtype: .bfloat16, shape: shape, data: MemorySource(bf16)),
            try! Tensor(name: "f32", dtype: .float32, shape: shape, data: MemorySource(floats: values)),
        ]
        return Model(path: "<memory>", format: .safetensors, metadata: [], tensors: tensors)
    }

    static let menu = SolverMenu([
        .identity,
        LayerSettings(quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)),
        LayerSettings(quantize: .int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax)),
        LayerSettings(quantize: .int(bits: 3, symmetric: false, granularity: .group(32), clip: .minmax)),
    ])

    @Test func streamedMenuEqualsWholeTensorEvaluations() throws {
        let model = Self.model()
        #expect(Engine.sharedRowsPerPiece(Self.menu.options, shape: [300, 4096]) == 256)
        let evaluated = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateMenu(Self.menu, layers: [0, 1])
        let fresh = Engine(model: model, scheduler: ImmediateScheduler())
        for layer in 0..<2 {
            let t = model.tensors[layer]
            let values = try [Float](unsafeUninitializedCapacity: t.parameters) { b, n in try t.decode(0..<t.parameters, into: b); n = t.parameters }
            let whole = values.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: t.shape) }
            #expect(whole.outliers > 0 && whole.outliers < 100)
            #expect(evaluated.diagnostics[layer] == whole, "\(t.name)")
            for (j, option) in Self.menu.options.enumerated() {
                var settings = [LayerSettings](repeating: .identity, count: model.tensors.count)
                settings[layer] = option
                let alone = try fresh.evaluateAll(settings)[layer]
                #expect(evaluated.results[layer][j] == alone, "\(t.name), option \(j)")
            }
        }
    }
}
