import Compression

/// One layer's exact menu answers, delivered by the `evaluateMenu` job as soon as that layer is evaluated
/// (`Action.menuLayerEvaluated`), before the whole menu is done.
public struct MenuLayerAnswer: Equatable, Sendable {
    public var menu: SolverMenu
    /// Every layer the job evaluates (`MenuEvaluation.layers`: tensor indices in model order).
    public var layers: [Int]
    /// Which of them this is (an index into `layers`).
    public var index: Int
    /// The options' answers on it (`MenuEvaluation.results[index]`).
    public var results: [LayerEvaluation?]
    public var diagnostics: LayerDiagnostics?

    public init(menu: SolverMenu, layers: [Int], index: Int, results: [LayerEvaluation?], diagnostics: LayerDiagnostics?) {
        self.menu = menu
        self.layers = layers
        self.index = index
        self.results = results
        self.diagnostics = diagnostics
    }
}

/// The exact answers of budget mode's menu received so far, by layer: once every layer is in, they are the
/// menu evaluation the finished job reports (`complete`).
public struct MenuDelivery: Equatable, Sendable {
    public let menu: SolverMenu
    public let layers: [Int]
    var results: [[LayerEvaluation?]?]
    var diagnostics: [LayerDiagnostics?]
    /// Layers received.
    public private(set) var count = 0

    init(menu: SolverMenu, layers: [Int]) {
        self.menu = menu
        self.layers = layers
        results = Array(repeating: nil, count: layers.count)
        diagnostics = Array(repeating: nil, count: layers.count)
    }

    /// Records `answer` (a repeat of a layer changes nothing).
    mutating func add(_ answer: MenuLayerAnswer) {
        guard results.indices.contains(answer.index), results[answer.index] == nil else { return }
        results[answer.index] = answer.results
        diagnostics[answer.index] = answer.diagnostics
        count += 1
    }

    /// Every layer's answers, once all are in.
    var complete: MenuEvaluation? {
        guard count == layers.count else { return nil }
        return MenuEvaluation(menu: menu, layers: layers, results: results.map { $0! }, diagnostics: diagnostics)
    }

    /// `estimate` with the layers received so far in place of their estimates (their variance 0, as for
    /// exact answers), so the frontier drawn and its interval come from the mix.
    func replacing(in estimate: (MenuEvaluation, MenuSampling)) -> (MenuEvaluation, MenuSampling) {
        let (evaluation, sampling) = estimate
        var rows = evaluation.results, variance = sampling.errorVariance, squared = sampling.squaredErrorVariance
        var rowsSampled = sampling.rowsSampled
        let position = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($1, $0) })
        for (k, layer) in evaluation.layers.enumerated() {
            guard let i = position[layer], let exact = results[i], exact.count == rows[k].count else { continue }
            rows[k] = exact
            variance[k] = exact.map { $0 == nil ? nil : 0 }
            squared[k] = variance[k]
            if rowsSampled.indices.contains(k), sampling.rows.indices.contains(k) { rowsSampled[k] = sampling.rows[k] }
        }
        return (MenuEvaluation(menu: evaluation.menu, layers: evaluation.layers, results: rows, diagnostics: evaluation.diagnostics),
                MenuSampling(rowsSampled: rowsSampled, rows: sampling.rows, errorVariance: variance,
                             squaredErrorVariance: squared, z: sampling.z))
    }
}
