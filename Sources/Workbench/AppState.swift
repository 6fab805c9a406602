import Compression
import WeightFormats

/// The whole UI state, a plain value: the model's layers (described, not loaded), their settings and
/// revisions, what the background work has answered so far, and what the user is looking at. Tests build
/// states directly; the run loop owns one and changes it only through `reduce`.
public struct AppState: Equatable, Sendable {
    /// One tensor as the workbench needs it: plain values, so tests need no files.
    public struct Layer: Equatable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var parameters: Int
        public var bytes: Int

        public init(name: String, dtype: DType, shape: [Int], parameters: Int? = nil, bytes: Int? = nil) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            let n = parameters ?? shape.reduce(1, *)
            self.parameters = n
            self.bytes = bytes ?? dtype.byteCount(elements: n) ?? 0
        }

        public init(_ tensor: Tensor) {
            self.init(name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, parameters: tensor.parameters,
                      bytes: tensor.byteCount)
        }

        public var dtypeName: String { dtype.description }
        /// Only floating tensors are analysed and compressed; integer and bool tensors are listed.
        public var isFloating: Bool { dtype.isFloating && parameters > 0 }
        public var lastDimension: Int { shape.last ?? 1 }
    }

    /// The panes Tab moves between.
    public enum Pane: Int, CaseIterable, Sendable { case layers, histogram, settings }

    /// Layer-table sort orders (`s` cycles, `S` reverses). `.file` is the model's own order.
    public enum SortColumn: Int, CaseIterable, Sendable {
        case file, name, params, bits, sparsity, sqnr, size
        public var title: String {
            switch self {
            case .file: "file order"
            case .name: "name"
            case .params: "params"
            case .bits: "bits"
            case .sparsity: "sparsity"
            case .sqnr: "SQNR"
            case .size: "size"
            }
        }
    }

    /// Histogram zoom (`z`): the whole range, then ±10 % and ±1 % of the largest magnitude around zero.
    public enum Zoom: Int, CaseIterable, Sendable {
        case full, tenth, hundredth
        public var factor: Double { [1, 0.1, 0.01][rawValue] }
        public var label: String { ["full", "±10%", "±1%"][rawValue] }
    }

    /// An engine answer for the layer's current revision (kept as an Equatable value).
    public struct Evaluation: Equatable, Sendable {
        public var settings: LayerSettings
        public var revision: Int
        public var outcome: Result<LayerEvaluation, EvaluationFailure>
        public var levels: QuantizationLevels?

        public init(_ r: EvaluationResult) {
            settings = r.settings
            revision = r.revision
            outcome = r.outcome
            levels = r.levels
        }
    }

    /// A one-line note on the hint row until the next key press.
    public struct Message: Equatable, Sendable {
        public var text: String
        public var isError: Bool
        public init(_ text: String, isError: Bool = false) {
            self.text = text
            self.isError = isError
        }
    }

    public struct Progress: Equatable, Sendable {
        public var done: Int
        public var total: Int
        public var label: String
    }

    // MARK: Model and settings

    public var modelName: String
    public var layers: [Layer]
    public var settings: [LayerSettings]
    /// Bumped by every edit of a layer's settings; answers for older revisions are dropped.
    public var revisions: [Int]
    public var analyses: [LayerAnalysis?]
    public var analysisErrors: [String?]
    /// The engine's answer for each layer's current revision, if it has arrived.
    public var evaluations: [Evaluation?]

    // MARK: What the user looks at

    public var width: Int
    public var height: Int
    /// The focused layer (an index into `layers`).
    public var focus: Int = 0
    /// First visible row of the layer table.
    public var scroll: Int = 0
    public var pane: Pane = .layers
    public var marked: Set<Int> = []
    /// `*`: edits go to every floating layer.
    public var applyToAll = false
    public var filter = ""
    public var isEditingFilter = false
    public var sort: SortColumn = .file
    public var sortDescending = false
    public var showHelp = false
    public var helpScroll = 0

    // MARK: Histogram pane

    public var logCounts = false
    public var zoom: Zoom = .full
    public var clipToPercentile = false
    public var showError = false
    /// The last histogram asked of the run loop, and the answer once it came.
    public var histogramRequested: HistogramRequest?
    public var histogramReceived: ValueHistogram?

    // MARK: Chrome

    public var themeName: String
    public var planPath: String?
    /// Set by the run loop from the locale: block glyphs and box drawing, or ASCII.
    public var useUnicode = true
    public var message: Message?
    public var progress: Progress?
    public var isQuitting = false

    public init(modelName: String, layers: [Layer], settings: [LayerSettings]? = nil, themeName: String = "dark",
                planPath: String? = nil, width: Int = 80, height: Int = 24) {
        precondition(settings == nil || settings!.count == layers.count, "one settings value per layer")
        self.modelName = modelName
        self.layers = layers
        self.settings = settings ?? Array(repeating: .identity, count: layers.count)
        revisions = Array(repeating: 0, count: layers.count)
        analyses = Array(repeating: nil, count: layers.count)
        analysisErrors = Array(repeating: nil, count: layers.count)
        evaluations = Array(repeating: nil, count: layers.count)
        self.themeName = themeName
        self.planPath = planPath
        self.width = width
        self.height = height
    }

    public init(model: Model, settings: [LayerSettings]? = nil, themeName: String = "dark", planPath: String? = nil,
                width: Int = 80, height: Int = 24) {
        let file = model.path.split(separator: "/").last.map(String.init) ?? model.path
        self.init(modelName: file, layers: model.tensors.map(Layer.init), settings: settings, themeName: themeName,
                  planPath: planPath, width: width, height: height)
    }

    /// The state to open with and the work to start: analyse every floating layer (the focused one first) and
    /// evaluate every layer whose settings are not identity (focused first).
    public static func start(_ state: AppState) -> (AppState, [Effect]) {
        var s = state
        let floating = s.layers.indices.filter { s.layers[$0].isFloating }
        if !floating.isEmpty && !s.layers[s.focus].isFloating { s.focus = floating[0] }
        let order = [s.focus] + floating.filter { $0 != s.focus }
        var effects: [Effect] = order.filter { s.layers[$0].isFloating }.map { .analyse(layer: $0) }
        for i in order where s.layers[i].isFloating && !s.settings[i].isIdentity {
            effects.append(.evaluate(layer: i, settings: s.settings[i], revision: s.revisions[i]))
        }
        return (s, effects)
    }

    /// Convenience: `start` on a fresh state.
    public static func start(model: Model, settings: [LayerSettings]? = nil, themeName: String = "dark",
                             planPath: String? = nil, width: Int = 80, height: Int = 24) -> (AppState, [Effect]) {
        start(AppState(model: model, settings: settings, themeName: themeName, planPath: planPath,
                       width: width, height: height))
    }

    /// The evaluation of `layer` if it answers the current revision.
    public func currentEvaluation(_ layer: Int) -> Evaluation? {
        guard let e = evaluations[layer], e.revision == revisions[layer] else { return nil }
        return e
    }
}
