import Dispatch
import WeightFormats

/// Every menu option evaluated on every layer the solver chooses for: the bytes and errors it trades.
public struct MenuEvaluation: Equatable, Sendable {
    public let menu: SolverMenu
    /// Tensor indices, in model order.
    public let layers: [Int]
    /// `results[k][j]`: option `j` on tensor `layers[k]`, nil when the option does not fit its shape.
    public let results: [[LayerEvaluation?]]
    /// Each layer's diagnostics, measured on the values decoded for the menu (nil when every answer came
    /// from the engine's cache and nothing was decoded).
    public let diagnostics: [LayerDiagnostics?]

    public init(menu: SolverMenu, layers: [Int], results: [[LayerEvaluation?]], diagnostics: [LayerDiagnostics?]? = nil) {
        self.menu = menu
        self.layers = layers
        self.results = results
        self.diagnostics = diagnostics ?? Array(repeating: nil, count: layers.count)
    }
}

extension Engine {
    /// Evaluates every option of `menu` on each of `layers`: each tensor is decoded once and every option
    /// runs on the decoded values while they are in memory: streamed row piece by row piece when the options
    /// share their pieces (`streamedMenu`), else the whole tensor with the row pieces of one option across
    /// the cores; either way the numbers are the ones `report` computes. Answers go into the
    /// engine's cache, so the workbench and `report` reuse them. Options that do not fit a tensor's shape give
    /// nil. `progress` gets (layers done, layers total); `layerDone` gets each layer's answers as soon as it
    /// is evaluated (its index in `layers`, the options' answers, its diagnostics), on the thread that did it.
    public func evaluateMenu(_ menu: SolverMenu, layers: [Int], cancel: CancellationToken = CancellationToken(),
                             progress: @Sendable (Int, Int) -> Void = { _, _ in },
                             layerDone: @Sendable (Int, [LayerEvaluation?], LayerDiagnostics?) -> Void = { _, _, _ in }) throws -> MenuEvaluation {
        let slots = ResultSlots<Result<([LayerEvaluation?], LayerDiagnostics?), EvaluationFailure>>(count: layers.count)
        let done = Counter()
        DispatchQueue.concurrentPerform(iterations: layers.count) { k in
            if cancel.isCancelled { return }
            let outcome = menuOutcome(layer: layers[k], menu: menu, token: cancel)
            slots.set(k, outcome)
            if case .success(let (results, diagnostics)) = outcome { layerDone(k, results, diagnostics) }
            progress(done.increment(), layers.count)
        }
        if cancel.isCancelled { throw CancellationError() }
        let answers = try layers.indices.map { k -> ([LayerEvaluation?], LayerDiagnostics?) in
            switch slots.values[k] {
            case .success(let r)?: return r
            case .failure(let f)?: throw ModelError(model.path, "tensor '\(DisplayText.escaped(model.tensors[layers[k]].name))': \(f.message)")
            case nil: throw CancellationError()
            }
        }
        return MenuEvaluation(menu: menu, layers: layers, results: answers.map(\.0), diagnostics: answers.map(\.1))
    }

    private func menuOutcome(layer: Int, menu: SolverMenu, token: CancellationToken) -> Result<([LayerEvaluation?], LayerDiagnostics?), EvaluationFailure> {
        let tensor = model.tensors[layer]
        var out = [LayerEvaluation?](repeating: nil, count: menu.options.count)
        var todo: [Int] = []
        for (j, s) in menu.options.enumerated() {
            guard SolverMenu.fits(s, shape: tensor.shape) else { continue }
            if let hit = lock.withLock({ cache[CacheKey(layer: layer, settings: s, cut: nil)] }) {
                out[j] = hit.evaluation
            } else {
                todo.append(j)
            }
        }
        guard !todo.isEmpty else { return .success((out, nil)) }
        do {
            if let streamed = try streamedMenu(tensor: tensor, options: todo.map { menu.options[$0] }, token: token) {
                for (k, j) in todo.enumerated() {
                    let e = Evaluated(evaluation: streamed.evaluations[k], levels: nil)
                    lock.withLock { cache[CacheKey(layer: layer, settings: menu.options[j], cut: nil)] = e }
                    out[j] = e.evaluation
                }
                return .success((out, streamed.diagnostics))
            }
            let values = try self.values(of: tensor)
            let diagnostics = try values.withUnsafeBufferPointer { v in
                // While the values are decoded: what makes the layer hard to quantize.
                let d = LayerDiagnostics.measure(v, shape: tensor.shape)
                for j in todo {
                    let e = try evaluate(tensor, settings: menu.options[j], cut: nil, token: token, withLevels: false, decoded: v)
                    lock.withLock { cache[CacheKey(layer: layer, settings: menu.options[j], cut: nil)] = e }
                    out[j] = e.evaluation
                }
                return d
            }
            return .success((out, diagnostics))
        } catch {
            return .failure(EvaluationFailure(error))
        }
    }
}
