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
        let whole = try Self.expectStreamedMenuEqualsWholeTensors(model)
        #expect(whole.allSatisfy { $0.outliers > 0 && $0.outliers < 100 })
    }

    /// `evaluateMenu` of `model`'s two layers against each option evaluated alone on a fresh engine and the
    /// diagnostics measured on the whole decoded tensor; returns those whole-tensor diagnostics.
    static func expectStreamedMenuEqualsWholeTensors(_ model: Model) throws -> [LayerDiagnostics] {
        let evaluated = try Engine(model: model, scheduler: ImmediateScheduler()).evaluateMenu(menu, layers: [0, 1])
        let fresh = Engine(model: model, scheduler: ImmediateScheduler())
        return try (0..<2).map { layer in
            let t = model.tensors[layer]
            let values = try [Float](unsafeUninitializedCapacity: t.parameters) { b, n in try t.decode(0..<t.parameters, into: b); n = t.parameters }
            let whole = values.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: t.shape) }
            #expect(evaluated.diagnostics[layer] == whole, "\(t.name)")
            for (j, option) in menu.options.enumerated() {
                var settings = [LayerSettings](repeating: .identity, count: model.tensors.count)
                settings[layer] = option
                let alone = try fresh.evaluateAll(settings)[layer]
                #expect(alone != nil)
                #expect(evaluated.results[layer][j] == alone, "\(t.name), option \(j)")
            }
            return whole
        }
    }

    /// `LayerDiagnostics.measure(tensor)` (report's and apply's diagnostics) streamed in row pieces equals the
    /// whole-tensor measure: BF16 and F32 of 300 × 4096 (pieces of 256 rows), and 2100 × 1000 F32, whose rows
    /// need pieces of 2048 to keep the statistics blocks whole.
    @Test func streamedDiagnosticsEqualWholeTensor() throws {
        var tensors = Self.model().tensors
        let odd = (0..<(2100 * 1000)).map { (i: Int) -> Float in
            let scale: Float = i % 7_777 == 0 ? 50 : 0.03
            return Float(sin(Double(i) * 0.37)) * scale
        }
        tensors.append(try Tensor(name: "odd", dtype: .float32, shape: [2100, 1000], data: MemorySource(floats: odd)))
        #expect(LayerDiagnostics.streamingRows([300, 4096]) == 256)
        #expect(LayerDiagnostics.streamingRows([2100, 1000]) == 2048)
        #expect(LayerDiagnostics.streamingRows([301, 1000]) == nil)
        for t in tensors {
            let values = try [Float](unsafeUninitializedCapacity: t.parameters) { b, n in try t.decode(0..<t.parameters, into: b); n = t.parameters }
            let whole = values.withUnsafeBufferPointer { LayerDiagnostics.measure($0, shape: t.shape) }
            #expect(whole.outliers > 0)
            #expect(try LayerDiagnostics.measure(t) == whole, "\(t.name)")
        }
    }

    /// Rows of 11 008 (a Llama down_proj's): row pieces of 95 rows (1 045 760 values) do not hold whole 16 Ki
    /// statistics blocks, so blocks straddle piece boundaries. The menu still streams, and every option and
    /// the diagnostics equal the whole-tensor evaluations, for BF16 (outliers from the pattern counts) and F32
    /// (outliers recounted where a bin straddles the bound).
    @Test func rowsThatSplitStatisticsBlocksStream() throws {
        let shape = [200, 11_008]
        #expect(Engine.sharedRowsPerPiece(Self.menu.options, shape: shape) == 95)
        var state: UInt64 = 0xD0_0AB
        let values = (0..<(200 * 11_008)).map { i -> Float in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let x = Float(Int64(bitPattern: state) >> 40) / Float(1 << 23) * 0.02
            return i % 40_009 == 0 ? x * 300 : (i % 997 == 0 ? 0 : x)
        }
        let bf16 = values.flatMap { v -> [UInt8] in
            let b = v.bitPattern >> 16
            return [UInt8(b & 0xFF), UInt8(b >> 8)]
        }
        let model = Model(path: "<memory>", format: .safetensors, metadata: [], tensors: [
            try Tensor(name: "down_bf16", dtype: .bfloat16, shape: shape, data: MemorySource(bf16)),
            try Tensor(name: "down_f32", dtype: .float32, shape: shape, data: MemorySource(floats: values)),
        ])
        let whole = try Self.expectStreamedMenuEqualsWholeTensors(model)
        #expect(whole.allSatisfy { $0.outliers > 0 })
    }
}
