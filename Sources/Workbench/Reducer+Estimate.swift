import Compression

/// While the engine evaluates a large layer with settings that act within rows (a K-quant search on a big
/// matrix takes seconds), a row-sample estimate runs beside it as a job: it answers within a frame or two
/// and is shown marked as an estimate ("~", dimmed, its interval in the settings pane) until the exact
/// numbers of the same revision replace it.
extension Reducer {
    /// One estimate job per evaluation of a layer of at least `state.estimateThreshold` weights.
    static func estimates(for effects: [Effect], in state: AppState) -> [Effect] {
        effects.compactMap { effect in
            guard case .evaluate(let layer, let settings, let revision) = effect, state.records.indices.contains(layer) else { return nil }
            let t = state.records[layer].tensor
            guard t.parameters >= state.estimateThreshold, RowSampleEstimate.applies(settings, shape: t.shape) else { return nil }
            return .job(.estimate(layer: layer, settings: settings, revision: revision))
        }
    }
}
