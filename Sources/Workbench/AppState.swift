import Compression
import WeightFormats

/// The whole UI state, a plain value: one record per layer (its tensor described, not loaded, its settings,
/// revision, analysis and evaluation), the totals, and what the user is looking at. Tests build
/// states directly; the run loop owns one and changes it only through `reduce`.
public struct AppState: Equatable, Sendable {
    /// One tensor as the workbench needs it (the same description the numbers model takes).
    public typealias Layer = TensorInfo
    /// An engine answer for a layer's current revision.
    public typealias Evaluation = LayerRecord.Evaluation

    /// The panes Tab moves between.
    public enum Pane: Int, CaseIterable, Sendable { case layers, histogram, settings }

    /// Layer-table sort orders (`s` cycles, `S` reverses). `.file` is the model's own order.
    public enum SortColumn: Int, CaseIterable, Sendable {
        case file, name, params, bits, sparsity, sqnr, size, kurtosis, errorShare, sensitivity
        /// What `s` steps through.
        public static let cycled: [SortColumn] = [.file, .name, .params, .bits, .sparsity, .sqnr, .size]
        public var title: String {
            switch self {
            case .file: "file order"
            case .name: "name"
            case .params: "params"
            case .bits: "bits"
            case .sparsity: "pruned"
            case .sqnr: "SQNR"
            case .size: "size"
            case .kurtosis: "kurtosis"
            case .errorShare: "error share"
            case .sensitivity: "error per bit"
            }
        }
    }

    /// Histogram zoom (`z`): the whole range, then ±10 % and ±1 % of the largest magnitude around zero.
    public enum Zoom: Int, CaseIterable, Sendable {
        case full, tenth, hundredth
        public var factor: Double { [1, 0.1, 0.01][rawValue] }
        public var label: String { ["full", "±10%", "±1%"][rawValue] }
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

    public struct PendingSave: Equatable, Sendable {
        public var path: String
        public var plan: Plan
        public var settings: [LayerSettings]
    }

    public struct Progress: Equatable, Sendable {
        public var done: Int
        public var total: Int
        public var label: String
        /// False for a stage with no count of its own (the status line then shows the label alone).
        public var isCounted = true
    }

    // MARK: Model and settings

    public var modelName: String
    /// The model's path as opened (nil when the state was built from layers alone), for default output names.
    public var modelPath: String?
    /// One record per tensor, in file order (a record's `id` is its index here and in the model).
    public var records: [LayerRecord] {
        didSet { totals = WorkbenchTotals.of(records) }
    }
    /// Whole-model numbers, recomputed whenever a record changes (the reducer changes records in one
    /// assignment per action), never per frame.
    public private(set) var totals: WorkbenchTotals

    // MARK: What the user looks at

    public var width: Int
    public var height: Int
    /// The focused layer (an index into `layers`).
    public var focus: Int = 0
    /// First visible row of the layer table.
    public var scroll: Int = 0
    public var pane: Pane = .layers
    /// The setting ↑/↓ select in the settings pane (an index into its setting lines); ←/→ change it.
    public var settingsRow = 0
    public var marked: Set<Int> = []
    /// `*`: edits go to every shown floating layer of rank ≥ 2 (what a plan's default applies to); a second
    /// `*` includes the shown vectors (biases, norms) too (`applyIncludesVectors`), a third turns it off.
    public var applyToAll = false
    public var applyIncludesVectors = false
    public var filter = ""
    public var isEditingFilter = false
    /// `:` opened the value prompt (`b 4`, `t 0.02`, `s 50%`, `g 128`); `valueText` is what was typed.
    public var isEditingValue = false
    public var valueText = ""
    /// The write-model prompt while it is open (`W`).
    public var writePrompt: WritePrompt?
    public var sort: SortColumn = .file
    public var sortDescending = false
    /// The row order taken when the sort last changed: edits and arriving numbers do not move rows under
    /// the cursor; choosing the sort again (`s`, `S`, `1`–`7`) re-sorts.
    public var sortOrder: [Int]?
    public var showHelp = false
    /// `m`: the layer table also shows MSE, max error and cosine (what `report` prints).
    public var showMetrics = false
    /// Budget mode (`T`): the solver's menu, frontier and target; nil when off.
    public var budget: BudgetState?
    /// `d`: the layer table also shows diagnostics: kurtosis, share of the model's error, error per bit saved.
    public var showDiagnostics = false
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
    /// What llama-quantize's type choice reads from the model (architecture, layers, heads, experts).
    public var presetFacts: LlamaModelFacts?
    /// The llama.cpp preset `P` last applied to the whole model, and each layer's choice under it (by index).
    public var preset: LlamaPreset?
    public var presetChoices: [Int: PresetChoice] = [:]
    /// The importance matrix the engine weighs with (`--imatrix` or the plan's), nil without one: the table,
    /// settings pane and totals then show the importance-weighted SQNR, and presets choose as with one.
    public var importancePath: String?
    /// Layers of at least this many weights get a row-sample estimate while the engine evaluates them.
    public var estimateThreshold = 1 << 20
    /// The plan the session opened (`--plan`), or the one last saved: `w` keeps its rules and notes and adds
    /// the edits made since (`Plan.saving`).
    public var basePlan: Plan?
    /// The settings as last opened or saved; `q` asks before dropping edits made since.
    public var savedSettings: [LayerSettings]
    /// A `w` on its way to disk: the plan and settings that become `basePlan`/`savedSettings` once written.
    public var pendingSave: PendingSave?
    /// `q` was pressed with unsaved edits; a second `q` quits, any other key goes on.
    public var isConfirmingQuit = false
    /// Settings of every layer before each edit (`u` undoes the last) and those undone (Ctrl-R redoes).
    public var undoStack: [[LayerSettings]] = []
    public var redoStack: [[LayerSettings]] = []
    /// `b`: the numbers of every layer and the totals when the snapshot was taken, to compare the current
    /// settings with (the table's Δ columns and the status line); `b` again replaces it, `B` drops it.
    public var baseline: Baseline?

    public struct Baseline: Equatable, Sendable {
        public var settings: [LayerSettings]
        public var numbers: [LayerNumbers]
        public var totals: ModelTotals
    }
    /// Set by the run loop from the locale: block glyphs and box drawing, or ASCII.
    public var useUnicode = true
    public var message: Message?
    public var progress: Progress?

    // MARK: Task metric (`E`)

    /// The user's evaluation command (`--eval`), nil when none was given.
    public var taskMetricConfig: TaskMetricConfig?
    /// The task-metric job running, if any.
    public var taskRun: TaskRun?
    /// Every plan measured this session, oldest first, so plans can be compared by task metric.
    public var measuredPlans: [MeasuredPlan] = []
    /// The built-in task metric's line (`--eval-data`), nil when none was given.
    public var taskLine: TaskLine?
    /// The recovery job running (`F`), if any, and the last recovery's accuracies (Reducer+Recovery).
    public var recoveryRun: RecoveryRun?
    public var recovered: RecoveredPlan?
    public var isQuitting = false

    public init(modelName: String, layers: [Layer], settings: [LayerSettings]? = nil, themeName: String = "dark",
                planPath: String? = nil, width: Int = 80, height: Int = 24) {
        precondition(settings == nil || settings!.count == layers.count, "one settings value per layer")
        self.modelName = modelName
        let records = layers.indices.map { LayerRecord(id: $0, tensor: layers[$0], settings: settings?[$0] ?? .identity) }
        self.records = records
        totals = WorkbenchTotals.of(records)
        savedSettings = records.map(\.settings)
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
        presetFacts = LlamaModelFacts(metadata: model.metadata, tensors: model.tensors.map { (name: $0.name, shape: $0.shape) })
        modelPath = model.path
    }

    /// The state to open with and the work to start: analyse every floating layer (the focused one first) and
    /// evaluate every layer whose settings are not identity (focused first).
    public static func start(_ state: AppState) -> (AppState, [Effect]) {
        var s = state
        let floating = s.records.indices.filter { s.records[$0].tensor.isFloating }
        if !floating.isEmpty && !s.records[s.focus].tensor.isFloating { s.focus = floating[0] }
        let order = [s.focus] + floating.filter { $0 != s.focus }
        var effects: [Effect] = order.filter { s.records[$0].tensor.isFloating }.map { .analyse(layer: $0) }
        for i in order where s.records[i].tensor.isFloating && !s.records[i].settings.isIdentity {
            effects.append(.evaluate(layer: i, settings: s.records[i].settings, revision: s.records[i].revision))
        }
        effects += Reducer.estimates(for: effects, in: s)
        return (s, effects)
    }

    /// Convenience: `start` on a fresh state.
    public static func start(model: Model, settings: [LayerSettings]? = nil, themeName: String = "dark",
                             planPath: String? = nil, width: Int = 80, height: Int = 24) -> (AppState, [Effect]) {
        start(AppState(model: model, settings: settings, themeName: themeName, planPath: planPath,
                       width: width, height: height))
    }

    /// Edits not yet written by `w`.
    public var hasUnsavedEdits: Bool { records.map(\.settings) != savedSettings }

    /// The evaluation of `layer` (a record only keeps the answer to its current revision).
    public func currentEvaluation(_ layer: Int) -> LayerRecord.Evaluation? { records[layer].evaluation }
}
