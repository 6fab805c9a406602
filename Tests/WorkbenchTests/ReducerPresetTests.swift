@testable import Compression
import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// `P`: the whole model under the next llama.cpp preset, each layer with llama-quantize's type and reason.
@Suite struct ReducerPresetTests {
    /// An 8-layer llama-shaped model, 4 query heads per kv head (attn_q 256 rows, attn_k/attn_v 64).
    static func llamaState() -> AppState {
        var layers = [TensorInfo(name: "token_embd.weight", dtype: .float16, shape: [512, 256]),
                      TensorInfo(name: "output.weight", dtype: .float16, shape: [512, 256]),
                      TensorInfo(name: "output_norm.weight", dtype: .float32, shape: [256])]
        for i in 0..<8 {
            let b = "blk.\(i)."
            layers += [TensorInfo(name: b + "attn_norm.weight", dtype: .float32, shape: [256]),
                       TensorInfo(name: b + "attn_q.weight", dtype: .float16, shape: [256, 256]),
                       TensorInfo(name: b + "attn_k.weight", dtype: .float16, shape: [64, 256]),
                       TensorInfo(name: b + "attn_v.weight", dtype: .float16, shape: [64, 256]),
                       TensorInfo(name: b + "attn_output.weight", dtype: .float16, shape: [256, 256]),
                       TensorInfo(name: b + "ffn_down.weight", dtype: .float16, shape: [256, 512])]
        }
        return AppState(modelName: "llama.gguf", layers: layers)
    }

    func press(_ s: inout AppState) -> [Effect] { reduce(&s, .input(.key(.character("P")))) }

    func settings(_ s: AppState, _ name: String) -> QuantFormat? {
        s.records.first { $0.tensor.name == name }?.settings.quantize
    }

    @Test func cyclesThroughThePresetsAndBackToNone() {
        var s = Self.llamaState()
        let effects = press(&s)
        #expect(s.preset == .q8_0)
        #expect(settings(s, "blk.3.attn_q.weight") == .gguf(.q8_0) && settings(s, "output.weight") == .gguf(.q8_0))
        #expect(settings(s, "blk.3.attn_norm.weight") == QuantFormat.none)
        let evaluated = effects.compactMap { if case .evaluate(let l, _, _) = $0 { l } else { nil } }
        #expect(evaluated.count == 2 + 8 * 5)
        _ = press(&s); _ = press(&s)
        #expect(s.preset == .q5_K_M)
        #expect(settings(s, "blk.0.attn_v.weight") == .gguf(.q6_K))
        #expect(settings(s, "blk.1.attn_v.weight") == .gguf(.q5_K))
        #expect(settings(s, "output.weight") == .gguf(.q6_K))
        let i = s.records.firstIndex { $0.tensor.name == "blk.0.ffn_down.weight" }!
        #expect(s.presetChoices[i]?.reason == "ffn_down: more bits in layer 0 of 8")
        for _ in 3..<LlamaPreset.cycleOrder.count { _ = press(&s) }
        #expect(s.preset == .q2_K)
        #expect(settings(s, "blk.2.attn_v.weight") == .gguf(.q4_K))   // grouped-query attention
        _ = press(&s)
        #expect(s.preset == nil)
        #expect(s.records.allSatisfy { $0.settings.quantize == .none })
    }

    @Test func settingsPaneShowsTheReason() {
        var s = Self.llamaState()
        for _ in 0..<7 { _ = press(&s) }
        #expect(s.preset == .q4_K_M)
        s.focus = s.records.firstIndex { $0.tensor.name == "blk.7.ffn_down.weight" }!
        s.pane = .settings
        let text = view(s, width: 120, height: 40).lines.joined(separator: "\n")
        #expect(text.contains("P   preset   Q4_K_M"), "\(text)")
        #expect(text.contains("ffn_down: more bits in layer") && text.contains("│     7 of 8 "), "\(text)")
    }
}
