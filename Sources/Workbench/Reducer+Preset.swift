import Compression
import WeightFormats

/// `P`: the whole model under the next llama.cpp preset (`LlamaPreset.cycleOrder`, then none), every
/// floating layer getting the type llama-quantize would give it; the settings pane shows why.
extension Reducer {
    static func applyNextPreset(_ state: inout AppState) -> [Effect] {
        let order = LlamaPreset.cycleOrder
        let next: LlamaPreset? = state.preset.map { p in order.firstIndex(of: p).flatMap { $0 + 1 < order.count ? order[$0 + 1] : nil } } ?? order.first
        let floating = state.records.indices.filter { state.records[$0].tensor.isFloating }
        state.preset = next
        state.presetChoices = [:]
        guard let next else {
            state.message = .init("no preset: quantization off for every layer")
            return edit(&state, layers: floating) { s, _, _ in LayerSettings(prune: s.prune, quantize: .none) }
        }
        let tensors = floating.map { (name: state.records[$0].tensor.name, shape: state.records[$0].tensor.shape) }
        let facts = state.presetFacts ?? LlamaModelFacts(metadata: [], tensors: tensors)
        let choices = LlamaTypeSelection.choose(next, facts: facts, tensors: tensors, hasImportance: state.importancePath != nil)
        for i in floating { state.presetChoices[i] = choices[state.records[i].tensor.name] }
        let quantized = state.presetChoices.values.filter { $0.type != nil }.count
        state.message = .init("preset \(next.rawValue): \(quantized) tensors quantized as llama-quantize chooses (P for the next)")
        return edit(&state, layers: floating) { s, layer, _ in
            guard let c = choices[layer.name] else { return s }
            return LayerSettings(prune: s.prune, quantize: c.quantize)
        }
    }
}
