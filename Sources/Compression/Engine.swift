import Dispatch
import Foundation
import WeightFormats

/// A layer's evaluation as the engine reports it: which request it answers (layer, settings, revision),
/// and the outcome.
public struct EvaluationResult: Sendable {
    public let layer: Int
    public let settings: LayerSettings
    public let revision: Int
    public let outcome: Result<LayerEvaluation, EvaluationFailure>
    /// The grid of the unit with the widest range, for drawing (nil when nothing is quantized).
    public let levels: QuantizationLevels?
    /// The cut of the layer's global magnitude group (one threshold over every member), for drawing the
    /// pruned band; nil for other pruning.
    public let groupCut: MagnitudeCut?

    public init(layer: Int, settings: LayerSettings, revision: Int,
                outcome: Result<LayerEvaluation, EvaluationFailure>, levels: QuantizationLevels? = nil,
                groupCut: MagnitudeCut? = nil) {
        self.layer = layer
        self.settings = settings
        self.revision = revision
        self.outcome = outcome
        self.levels = levels
        self.groupCut = groupCut
    }
}

/// One layer's new settings for the engine, with the revision its answer will carry.
public struct EvaluationRequest: Hashable, Sendable {
    public var layer: Int
    public var settings: LayerSettings
    public var revision: Int

    public init(layer: Int, settings: LayerSettings, revision: Int) {
        self.layer = layer
        self.settings = settings
        self.revision = revision
    }
}

/// Why an evaluation produced no numbers (the settings do not fit the tensor, or the file could not be read).
public struct EvaluationFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(message: String) { self.message = message }
    public var description: String { message }

    /// What a failed evaluation job reports: "cancelled", a reader's reason, or the error as text.
    init(_ error: any Error) {
        switch error {
        case is CancellationError: message = Engine.cancelled.message
        case let e as ModelError: message = e.reason
        default: message = String(describing: error)
        }
    }
}

/// Evaluates compression settings over a model's layers in the background.
///
/// - One job per layer at a time: a new request for a layer cancels the running one (its token is polled
///   between chunks) and replaces any request still waiting, so a held key queues at most one job per layer.
/// - Results carry the request's revision; the owner of the UI state drops those that are not current.
/// - Large layers whose settings act row by row are split across cores; others run whole.
/// - Results are cached per (layer, settings): returning to earlier settings is instant.
/// - The engine keeps the plan its requests add up to, and owns what spans layers: global magnitude groups
///   are resolved over that plan (see `Engine+GlobalMagnitude.swift`), and a request that changes a group
///   reports the other members whose answers it made stale.
public final class Engine: @unchecked Sendable {
    public let model: Model
    let scheduler: any Scheduler
    let lock = NSLock()
    var cache: [CacheKey: Evaluated] = [:]
    private var running: [Int: CancellationToken] = [:]
    private var pending: [Int: Request] = [:]
    /// Layers with a pending request, in the order they will be served.
    private var waiting: [Int] = []
    private var workers = 0
    let maxWorkers = ProcessInfo.activeCores
    /// Every layer's settings as the requests so far set them (identity until asked).
    var plan: [LayerSettings]
    /// Resolved global magnitude groups: each member's cut, by group (sparsity and members).
    var groupCuts: [GlobalGroup: [Int: MagnitudeCut]] = [:]
    /// Held while a group is resolved, so concurrent members wait for one selection instead of each doing it.
    let resolving = NSLock()
    /// Analyses waiting and running (see `Engine+Analysis.swift`).
    var analysisQueue = AnalysisQueue()
    let buffers = BufferPool()

    struct CacheKey: Hashable {
        let layer: Int
        let settings: LayerSettings
        let cut: MagnitudeCut?
    }

    /// An evaluation and the grid to draw for it.
    struct Evaluated {
        var evaluation: LayerEvaluation
        let levels: QuantizationLevels?
        var groupCut: MagnitudeCut? = nil
        /// The layer's diagnostics, when the evaluation was asked to gather them from its decoded values.
        var diagnostics: LayerDiagnostics? = nil
    }

    struct Request {
        let settings: LayerSettings
        let revision: Int
        let deliver: @Sendable (EvaluationResult) -> Void
    }

    /// An importance matrix: ggml block types quantize with ggml's imatrix path, and every evaluation of a
    /// tensor with an entry carries the importance-weighted error. Tensors without an entry are evaluated
    /// without one (as llama-quantize does); expert tensors (3-D) use each expert's weights (`ExpertImportance`).
    public let importance: ImportanceMatrix?

    public init(model: Model, scheduler: any Scheduler = DispatchScheduler(), importance: ImportanceMatrix? = nil) {
        self.model = model
        self.scheduler = scheduler
        self.importance = importance
        plan = Array(repeating: .identity, count: model.tensors.count)
    }

    /// This tensor's importance weights (one per column, per expert for a 3-D tensor), nil without an entry;
    /// a wrong length throws.
    public func importanceWeights(_ tensor: Tensor) throws -> [Float]? {
        guard let importance, tensor.shape.count == 2 || tensor.shape.count == 3 else { return nil }
        return try importance.weights(for: tensor)
    }

    /// Elements per piece when a large layer is split across cores.
    public static let pieceElements = 1 << 20

    // MARK: - One layer, in the background

    /// Evaluates `settings` for layer `layer`; `deliver` receives the result on the scheduler's delivery
    /// queue (unless a newer request for the same layer superseded this one first).
    ///
    /// Requests wait in one queue served by at most `maxWorkers` jobs (each layer's kernels already use every
    /// core), so "apply to every layer" on a large model holds a few layers in memory, not all of them.
    /// `urgent` requests (the layer the user is looking at) go to the front of the queue.
    public func evaluate(layer: Int, settings: LayerSettings, revision: Int, urgent: Bool = false,
                         deliver: @escaping @Sendable (EvaluationResult) -> Void) {
        _ = evaluate([EvaluationRequest(layer: layer, settings: settings, revision: revision)],
                     urgent: urgent ? layer : nil, deliver: deliver)
    }

    /// Records a batch of settings changes in the engine's plan and evaluates each changed layer (identity
    /// settings are recorded, not evaluated: nothing to compute). The batch is applied at once, so a global
    /// magnitude group whose members all change together is resolved once.
    ///
    /// Returns the layers, outside the batch, whose answers the batch made stale: the other members of every
    /// global magnitude group a request joined or left. Their owner asks for them again (with new revisions).
    public func evaluate(_ requests: [EvaluationRequest], urgent: Int? = nil,
                         deliver: @escaping @Sendable (EvaluationResult) -> Void) -> [Int] {
        let (stale, startWorkers): ([Int], Int) = lock.withLock {
            var touched: Set<Double> = []
            for r in requests {
                // A group's cut depends only on its members: other changes to a member concern that member.
                let (old, new) = (plan[r.layer].globalSparsity, r.settings.globalSparsity)
                if old != new { touched.formUnion([old, new].compactMap { $0 }) }
                plan[r.layer] = r.settings
            }
            let asked = Set(requests.map(\.layer))
            let stale = touched.flatMap { globalMembers(sparsity: $0, in: plan) }.filter { !asked.contains($0) }
            for r in requests {
                running[r.layer]?.cancel()
                guard !r.settings.isIdentity else {
                    pending[r.layer] = nil
                    waiting.removeAll { $0 == r.layer }
                    continue
                }
                let isUrgent = r.layer == urgent
                if pending[r.layer] == nil || isUrgent {
                    waiting.removeAll { $0 == r.layer }
                    if isUrgent { waiting.insert(r.layer, at: 0) } else { waiting.append(r.layer) }
                }
                pending[r.layer] = Request(settings: r.settings, revision: r.revision, deliver: deliver)
            }
            let start = max(0, min(maxWorkers, waiting.count) - workers)
            workers += start
            return (Array(Set(stale)).sorted(), start)
        }
        for _ in 0..<startWorkers { scheduler.background { [self] in work() } }
        return stale
    }

    /// One worker: takes the next waiting layer's latest request until none is left.
    private func work() {
        while true {
            let next: (layer: Int, request: Request, token: CancellationToken, plan: [LayerSettings])? = lock.withLock {
                // A layer runs one job at a time, so its answers arrive in the order they were asked.
                guard let k = waiting.firstIndex(where: { running[$0] == nil }) else {
                    workers -= 1
                    return nil
                }
                let layer = waiting.remove(at: k)
                let token = CancellationToken()
                running[layer] = token
                return (layer, pending.removeValue(forKey: layer)!, token, plan)
            }
            guard let (layer, request, token, plan) = next else { return }
            let outcome = self.outcome(layer: layer, settings: request.settings, plan: plan, token: token, withLevels: true)
            lock.withLock { if running[layer] === token { running[layer] = nil } }
            if case .failure(let f) = outcome, f == Self.cancelled { continue }
            let result = EvaluationResult(layer: layer, settings: request.settings, revision: request.revision,
                                          outcome: outcome.map(\.evaluation),
                                          levels: (try? outcome.get())?.levels, groupCut: (try? outcome.get())?.groupCut)
            scheduler.deliver { request.deliver(result) }
        }
    }

    static let cancelled = EvaluationFailure(message: "cancelled")

    // MARK: - A whole plan

    /// Evaluates every layer (in parallel, several at once) and returns one result per tensor; integer and
    /// bool tensors and empty tensors get nil. `progress` is called with (layers done, layers total).
    public func evaluateAll(_ settings: [LayerSettings], cancel: CancellationToken = CancellationToken(),
                            progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> [LayerEvaluation?] {
        try evaluateAll(settings, diagnose: false, cancel: cancel, progress: progress).evaluations
    }

    /// `evaluateAll`, and with `diagnose` each floating tensor's diagnostics gathered from the values the
    /// evaluation decodes (`LayerDiagnosticsPass`: equal to `LayerDiagnostics.measure`); nil for a tensor
    /// whose answer came from the cache (nothing decoded) and for tensors that are not evaluated.
    public func evaluateAll(_ settings: [LayerSettings], diagnose: Bool, cancel: CancellationToken = CancellationToken(),
                            progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws -> (evaluations: [LayerEvaluation?], diagnostics: [LayerDiagnostics?]) {
        precondition(settings.count == model.tensors.count)
        let todo = model.tensors.indices.filter { model.tensors[$0].isFloating }
        let slots = ResultSlots<Result<Evaluated, EvaluationFailure>>(count: model.tensors.count)
        let done = Counter()
        DispatchQueue.concurrentPerform(iterations: todo.count) { k in
            let i = todo[k]
            slots.set(i, outcome(layer: i, settings: settings[i], plan: settings, token: cancel, withLevels: false, diagnose: diagnose))
            progress(done.increment(), todo.count)
        }
        if cancel.isCancelled { throw CancellationError() }
        let answers = try model.tensors.indices.map { i -> Evaluated? in
            switch slots.values[i] {
            case nil: return nil
            case .success(let e)?: return e
            case .failure(let f)?: throw ModelError(model.path, "tensor '\(DisplayText.escaped(model.tensors[i].name))': \(f.message)")
            }
        }
        return (answers.map { $0?.evaluation }, answers.map { $0?.diagnostics })
    }

    // MARK: - The work itself

    /// One layer's evaluation under `settings`; a global magnitude layer is pruned with its group's cut over
    /// `plan` (the engine's plan for the workbench, the whole plan for `evaluateAll`).
    /// `diagnose` gathers the layer's diagnostics from the decoded values (not from a cached answer).
    func outcome(layer: Int, settings: LayerSettings, plan: [LayerSettings], token: CancellationToken,
                 withLevels: Bool, diagnose: Bool = false) -> Result<Evaluated, EvaluationFailure> {
        let tensor = model.tensors[layer]
        guard tensor.isFloating else {
            return .failure(EvaluationFailure(message: "\(tensor.dtype) tensors are not compressed"))
        }
        do {
            var cut: MagnitudeCut? = nil
            if let s = settings.globalSparsity { cut = try globalCut(layer: layer, sparsity: s, plan: plan, token: token) }
            let key = CacheKey(layer: layer, settings: settings, cut: cut)
            if let hit = lock.withLock({ cache[key] }), hit.levels != nil || !withLevels || settings.quantize == .none {
                return .success(hit)
            }
            var e = try evaluate(tensor, settings: settings, cut: cut, token: token, withLevels: withLevels, diagnose: diagnose)
            e.groupCut = cut
            if let stored = SizeModel.asStored(settings, count: tensor.parameters, storedBytes: tensor.storedBytes) {
                e.evaluation.size = stored
            }
            lock.withLock { cache[key] = e }
            return .success(e)
        } catch {
            return .failure(EvaluationFailure(error))
        }
    }

    /// Decodes the tensor and evaluates it, split into row pieces across cores when the settings allow.
    /// `decoded` (the whole tensor already as Float, for evaluating a menu of settings on one decode) is read
    /// instead of the file; the pieces and their numbers are the same either way.
    /// `reconstructed` (for `apply`'s verification) is handed each piece's reconstruction with the index of
    /// its first element, on whichever thread computed it.
    /// `diagnose` also gathers the layer's diagnostics from the decoded values (`LayerDiagnosticsPass`).
    func evaluate(_ tensor: Tensor, settings: LayerSettings, cut: MagnitudeCut?, token: CancellationToken,
                  withLevels: Bool = true, diagnose: Bool = false, pieceElements: Int = Engine.pieceElements,
                  decoded: UnsafeBufferPointer<Float>? = nil,
                  reconstructed: (@Sendable (Int, UnsafeBufferPointer<Float>) throws -> Void)? = nil) throws -> Evaluated {
        try LayerEvaluator.validate(settings, shape: tensor.shape)
        let weights = try importanceWeights(tensor)
        let rowsPerPiece = Self.rowsPerPiece(settings, shape: tensor.shape, pieceElements: pieceElements)
        let rowElements = tensor.shape.count > 1 ? tensor.parameters / max(1, tensor.shape[0]) : tensor.parameters
        guard let rowsPerPiece, tensor.shape.count > 1, tensor.shape[0] > rowsPerPiece else {
            func whole(_ vals: UnsafeBufferPointer<Float>) throws -> Evaluated {
                let diagnostics = diagnose ? LayerDiagnostics.measure(vals, shape: tensor.shape) : nil
                var output: [Float] = reconstructed == nil ? [] : [Float](repeating: 0, count: max(1, vals.count))
                let e = try output.withUnsafeMutableBufferPointer { out in
                    try Self.withOptional(weights) { w in
                        try LayerEvaluator.evaluate(settings, shape: tensor.shape, values: vals, originalDType: tensor.dtype,
                                                    globalCut: cut, reconstruction: reconstructed == nil ? nil : out,
                                                    importance: w, cancelled: { token.isCancelled })
                    }
                }
                if let reconstructed {
                    try output.withUnsafeBufferPointer { try reconstructed(0, UnsafeBufferPointer(rebasing: $0[0..<tensor.parameters])) }
                }
                let found = withLevels ? LevelFinder.find(settings.quantize, values: vals, shape: tensor.shape, clustering: e.clustering) : nil
                return Evaluated(evaluation: e, levels: found?.levels, diagnostics: diagnostics)
            }
            if let decoded { return try whole(decoded) }
            return try values(of: tensor).withUnsafeBufferPointer(whole)
        }
        let rows = tensor.shape[0]
        let pieces = (rows + rowsPerPiece - 1) / rowsPerPiece
        let slots = ResultSlots<(LayerEvaluation, LevelFinder.Found?)>(count: pieces)
        let diagnosing = diagnose ? LayerDiagnosticsPass(tensor: tensor, rowsPerPiece: rowsPerPiece) : nil
        // Read-only while the pieces run, and outlives them (the caller holds it across this call).
        nonisolated(unsafe) let decoded = decoded
        DispatchQueue.concurrentPerform(iterations: pieces) { p in
            if token.isCancelled { slots.fail(CancellationError()); return }
            let r0 = p * rowsPerPiece, r1 = min(rows, r0 + rowsPerPiece)
            let shape = [r1 - r0] + tensor.shape.dropFirst()
            let count = (r1 - r0) * rowElements
            // Reused buffers: fresh multi-megabyte allocations cost page faults and zeroing on every piece.
            let input = buffers.take(count), output = buffers.take(count)
            defer { buffers.give(input); buffers.give(output) }
            do {
                if decoded == nil, reconstructed == nil, weights == nil, diagnosing == nil,
                   LayerEvaluator.readsStoredBFloat16(settings, tensor: tensor) {
                    // The numbers (and the grid to draw) are wanted, no reconstruction: the fused kernel reads the
                    // stored BF16 bytes (no Float copy), and the levels come from the ranges it found its grids from.
                    // (The diagnostics pass needs the decoded values, so it takes the path below.)
                    let stored = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(input)[0..<(2 * count)])
                    try tensor.data.read(at: UInt64(2 * r0 * rowElements), into: stored)
                    let raw = UnsafeRawBufferPointer(stored)
                    if withLevels {
                        if let (e, found) = try LayerEvaluator.evaluateStoredBFloat16(settings, shape: shape, raw: raw, firstRow: r0) {
                            slots.set(p, (e, found))
                            return
                        }
                    } else if let e = try LayerEvaluator.evaluateStoredBFloat16(settings, shape: shape, raw: raw) {
                        slots.set(p, (e, nil))
                        return
                    }
                }
                let values = UnsafeMutableBufferPointer(rebasing: input[0..<count])
                if let decoded {
                    _ = values.initialize(from: UnsafeBufferPointer(rebasing: decoded[(r0 * rowElements)..<(r1 * rowElements)]))
                } else {
                    try tensor.decode((r0 * rowElements)..<(r1 * rowElements), into: values)
                }
                let v = UnsafeBufferPointer(values)
                diagnosing?.add(piece: p, v)
                let e = try Self.withOptional(ExpertImportance.slice(weights, shape: tensor.shape, rows: r0..<r1)) { w in
                    try LayerEvaluator.evaluate(settings, shape: shape, values: v, originalDType: tensor.dtype,
                                                reconstruction: output, importance: w, cancelled: { token.isCancelled })
                }
                try reconstructed?(r0 * rowElements, UnsafeBufferPointer(rebasing: output[0..<count]))
                slots.set(p, (e, withLevels ? LevelFinder.find(settings.quantize, values: v, shape: shape, firstRow: r0) : nil))
            } catch {
                slots.fail(error)
            }
        }
        if let error = slots.error { throw error }
        var widest: LevelFinder.Found? = nil
        for case let (_, found)? in slots.values {
            if let found, found.width > (widest?.width ?? -1) { widest = found }
        }
        let e = Self.merged(slots.values.compactMap { $0?.0 }, settings: settings, tensor: tensor)
        return Evaluated(evaluation: e, levels: widest?.levels, diagnostics: try diagnosing?.finish())
    }

    /// One layer's evaluation from its row pieces' evaluations (in row order): sums merged, size of the whole.
    static func merged(_ pieces: [LayerEvaluation], settings: LayerSettings, tensor: Tensor) -> LayerEvaluation {
        var metrics = ErrorMetrics()
        var pruned = 0, prunedRows = 0, zeros = 0
        var weighted: ImportanceWeightedError? = nil
        for e in pieces {
            metrics.merge(e.metrics)
            if let w = e.importanceError { weighted = (weighted ?? ImportanceWeightedError()); weighted!.merge(w) }
            pruned += e.pruning.pruned
            prunedRows += e.pruning.prunedRows
            zeros += e.zerosAfterPruning
        }
        let size = SizeModel.size(settings, shape: tensor.shape, originalDType: tensor.dtype,
                                  zerosAfterPruning: zeros, prunedRows: prunedRows)
        var e = LayerEvaluation(metrics: metrics, size: size, pruning: PruneOutcome(pruned: pruned, prunedRows: prunedRows),
                                zerosAfterPruning: zeros, clustering: nil)
        e.importanceError = weighted
        return e
    }

    /// Calls `body` with a buffer of `values`, or with nil.
    static func withOptional<R>(_ values: [Float]?, _ body: (UnsafeBufferPointer<Float>?) throws -> R) rethrows -> R {
        guard let values else { return try body(nil) }
        return try values.withUnsafeBufferPointer { try body($0) }
    }

    /// Rows of dimension 0 per piece when every step of `settings` acts within rows (so pieces can be
    /// evaluated independently and merged exactly), or nil when some step needs the whole tensor.
    static func rowsPerPiece(_ settings: LayerSettings, shape: [Int], pieceElements: Int) -> Int? {
        guard shape.count > 1, let n = Shape.elementCount(shape), n > 0, shape[0] > 0 else { return nil }
        switch settings.prune {
        case .none, .threshold, .nm: break
        case .sparsity, .globalMagnitude, .rows: return nil
        }
        let rowElements = n / shape[0]
        // Piece length must be a multiple of this many elements (nil: the codec needs the whole tensor).
        var align = 1
        if let codec = settings.quantize.codec {
            guard let a = codec.pieceAlignment else { return nil }
            align = a
        }
        var rows = max(1, pieceElements / rowElements)
        while (rows * rowElements) % align != 0 && rows < shape[0] { rows += 1 }
        return (rows * rowElements) % align == 0 ? rows : nil
    }

    /// The whole tensor as Float (one layer; the engine never holds a whole model).
    func values(of tensor: Tensor) throws -> [Float] {
        try [Float](unsafeUninitializedCapacity: tensor.parameters) { buffer, count in
            try tensor.decode(0..<tensor.parameters, into: buffer)
            count = tensor.parameters
        }
    }
}

/// Calls `body` with stable pointers to every array at once.
func withBuffers<R>(_ arrays: [[Float]], _ body: ([UnsafeBufferPointer<Float>]) -> R) -> R {
    func go(_ i: Int, _ acc: [UnsafeBufferPointer<Float>]) -> R {
        if i == arrays.count { return body(acc) }
        return arrays[i].withUnsafeBufferPointer { go(i + 1, acc + [$0]) }
    }
    return go(0, [])
}

/// Float buffers handed out to pieces and taken back, so steady work allocates nothing.
final class BufferPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [UnsafeMutableBufferPointer<Float>] = []

    func take(_ count: Int) -> UnsafeMutableBufferPointer<Float> {
        if let b = lock.withLock({ free.firstIndex { $0.count >= count }.map { free.remove(at: $0) } }) { return b }
        return .allocate(capacity: max(count, Engine.pieceElements))
    }

    func give(_ b: UnsafeMutableBufferPointer<Float>) {
        lock.withLock {
            if free.count < 8 { free.append(b) } else { b.deallocate() }
        }
    }

    deinit { for b in free { b.deallocate() } }
}

/// A thread-safe counter for progress.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() -> Int { lock.withLock { n += 1; return n } }
}
