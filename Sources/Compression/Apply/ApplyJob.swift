import Dispatch
import Foundation
import WeightFormats

/// How far `apply` has come: input bytes of the tensors done out of all, in the writing phase and then in
/// the verification phase.
public struct ApplyProgress: Equatable, Sendable {
    public enum Phase: String, Equatable, Sendable { case writing, verifying }
    public var phase: Phase
    public var bytesDone: Int
    public var bytesTotal: Int

    public init(phase: Phase, bytesDone: Int, bytesTotal: Int) {
        self.phase = phase
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
    }
}

/// One run of `apply` as the writers see it: the model, its resolved settings and the engine that owns their
/// semantics (global magnitude groups), plus the shared work every container needs — tensors produced in row
/// pieces across cores and handed to the sink in order, raw copies, and the verification of what was written.
///
/// Memory stays bounded by a few pieces (`Engine.pieceElements` values each, one batch per core) or, for
/// settings that need a whole tensor at once (one scale per tensor, sparsity targets), one tensor.
public final class ApplyJob: @unchecked Sendable {
    public let model: Model
    public let settings: [LayerSettings]
    public let output: String
    public let overwrite: Bool
    /// Verify the output before it is put in place.
    public let verifies: Bool
    /// The plan as JSON text, recorded in outputs that have room for it.
    public let planText: String
    let engine: Engine
    let cancel: CancellationToken
    let report: @Sendable (ApplyProgress) -> Void
    private let lock = NSLock()
    private var done = 0
    /// The engine's evaluation of each tensor, filled by `verify` (the numbers `report` prints).
    private(set) var evaluations: [LayerEvaluation?]
    /// Gather each floating tensor's diagnostics from the values the write (or verify) pass decodes anyway,
    /// so `apply --json`'s report does not read the model a second time.
    let diagnoses: Bool
    /// The diagnostics gathered (`diagnoses`), nil for tensors no pass decoded (copied unchanged).
    private(set) var diagnostics: [LayerDiagnostics?]
    private(set) var verifiedValues = 0
    /// For tensors written by `writePieces(…checkedAs:)` while verifying: the stored dtype and each piece's
    /// digest of the engine's reconstruction and evaluation, so `verify` decodes only the output.
    private var checks: [Int: (storedAs: DType, pieces: [PieceCheck])] = [:]
    /// The raw bytes of pieces being decoded, kept for the next tensor's workers.
    private let scratches = ScratchPool()
    /// The tensors whose write pass kept their checks (in index order).
    var checkedTensors: [Int] { lock.withLock { checks.keys.sorted() } }

    init(model: Model, settings: [LayerSettings], output: String, overwrite: Bool, verifies: Bool, planText: String,
         engine: Engine, cancel: CancellationToken, diagnoses: Bool = false,
         progress: @escaping @Sendable (ApplyProgress) -> Void) {
        self.model = model
        self.diagnoses = diagnoses
        self.settings = settings
        self.output = output
        self.overwrite = overwrite
        self.verifies = verifies
        self.planText = planText
        self.engine = engine
        self.cancel = cancel
        self.report = progress
        evaluations = Array(repeating: nil, count: model.tensors.count)
        diagnostics = Array(repeating: nil, count: model.tensors.count)
    }

    var bytesTotal: Int { model.tensors.reduce(0) { $0 + $1.byteCount } }

    private func advance(_ bytes: Int, _ phase: ApplyProgress.Phase) {
        let d = lock.withLock { done += bytes; return done }
        report(ApplyProgress(phase: phase, bytesDone: d, bytesTotal: bytesTotal))
    }

    private func startPhase(_ phase: ApplyProgress.Phase) {
        lock.withLock { done = 0 }
        report(ApplyProgress(phase: phase, bytesDone: 0, bytesTotal: bytesTotal))
    }

    func checkCancelled() throws {
        if cancel.isCancelled { throw CancellationError() }
    }

    /// The cut of tensor `i`'s global magnitude group over the whole plan, if its settings join one.
    func globalCut(_ i: Int) throws -> MagnitudeCut? {
        guard let s = settings[i].globalSparsity else { return nil }
        return try engine.globalCut(layer: i, sparsity: s, plan: settings, token: cancel)
    }

    /// Tensor `i`'s importance weights (one per column) when the engine has an importance matrix with an
    /// entry for it: ggml types are then encoded by ggml's imatrix path, as the engine evaluates them.
    func importance(_ i: Int) throws -> [Float]? {
        try engine.importanceWeights(model.tensors[i])
    }

    // MARK: Writing

    /// Copies tensor `i`'s stored bytes unchanged.
    func copyRaw<S: ByteSink>(_ i: Int, to sink: inout S) throws {
        let t = model.tensors[i]
        let chunk = 8 << 20
        var buffer = [UInt8](repeating: 0, count: min(chunk, max(1, t.byteCount)))
        var offset = 0
        while offset < t.byteCount {
            try checkCancelled()
            let n = min(chunk, t.byteCount - offset)
            try buffer.withUnsafeMutableBytes { try t.data.read(at: UInt64(offset), into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<n])) }
            try buffer.withUnsafeBytes { try sink.write(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
            offset += n
            advance(n, .writing)
        }
        if t.byteCount == 0 { advance(0, .writing) }
    }

    /// `writePieces` for a `produce` that does not need the piece's range of dimension 0.
    func writePieces<S: ByteSink>(_ i: Int, to sink: inout S, checkedAs storedAs: DType? = nil,
                                  _ produce: @escaping @Sendable ([Int], UnsafeBufferPointer<Float>, MagnitudeCut?) throws -> [UInt8]) throws {
        try writePieces(i, to: &sink, checkedAs: storedAs) { shape, values, cut, _ in try produce(shape, values, cut) }
    }

    /// Writes tensor `i` as `produce` stores it, piece by piece: `produce` gets a piece's shape (whole rows),
    /// its input values, the group cut and the piece's range of dimension 0 (to cut per-expert importance
    /// weights, `ExpertImportance.slice`), and returns the piece's stored bytes. Pieces are computed on every
    /// core (`PieceFlow`: each worker takes the next piece, a bounded window ahead of the writer) and reach the
    /// sink in order as soon as they are done, so computing and writing overlap.
    ///
    /// `checkedAs` (the dtype the container stores the tensor as, when its reader decodes it as such): when the
    /// job verifies, each piece also gets the engine's evaluation (the call `Engine.evaluate` makes for that
    /// piece, so the same reconstruction and numbers `report` gives) from the values already decoded, and
    /// keeps its digest for `verify`, which then decodes only the output instead of the input a second time.
    /// When the tensor is stored as the ggml block type its `.gguf` settings quantize to, the engine's call
    /// hands back the blocks its reconstruction decodes, and those are written (`produce` is not called): each
    /// block is quantized once, and the file holds exactly the engine's blocks.
    func writePieces<S: ByteSink>(_ i: Int, to sink: inout S, checkedAs storedAs: DType? = nil,
                                  _ produce: @escaping @Sendable ([Int], UnsafeBufferPointer<Float>, MagnitudeCut?, Range<Int>) throws -> [UInt8]) throws {
        let t = model.tensors[i]
        let cut = try globalCut(i)
        let checking = verifies && t.isFloating ? storedAs : nil
        let weights = checking == nil ? nil : try importance(i)
        let engineBlocks = checking.flatMap { Self.engineBlockType(settings[i], storedAs: $0) }
        let rowElements = t.shape.count > 1 ? t.parameters / max(1, t.shape[0]) : t.parameters
        let rows = t.shape.count > 1 ? t.shape[0] : 1
        var perPiece = rows
        if t.shape.count > 1, let r = Engine.rowsPerPiece(settings[i], shape: t.shape, pieceElements: Engine.pieceElements) {
            perPiece = max(1, min(rows, r))
        }
        let rowsPerPiece = max(1, perPiece)
        let pieces = max(1, (rows + rowsPerPiece - 1) / rowsPerPiece)
        let cores = max(1, ProcessInfo.processInfo.activeProcessorCount)
        let checked = ResultSlots<PieceCheck>(count: checking == nil ? 0 : pieces)
        let flow = PieceFlow(count: pieces, window: 2 * cores)
        // Diagnostics from the decoded pieces: a whole tensor measured as it is, row pieces joined by the pass.
        let diagnosing = diagnoses && t.isFloating && pieces > 1 ? LayerDiagnosticsPass(tensor: t, rowsPerPiece: rowsPerPiece) : nil
        let measuresWhole = diagnoses && t.isFloating && pieces == 1
        let wholeDiagnostics = ResultSlots<LayerDiagnostics>(count: 1)

        /// Computes the pieces `flow` hands out until none is left.
        @Sendable func work() {
            // Reused between pieces and tensors: fresh multi-megabyte allocations cost page faults every time.
            var scratch = self.scratches.take()
            let buffer = self.engine.buffers.take(max(1, min(t.parameters, rowsPerPiece * rowElements)))
            defer {
                self.engine.buffers.give(buffer)
                self.scratches.give(scratch)
            }
            while let p = flow.claim() {
                let r0 = p * rowsPerPiece, r1 = min(rows, r0 + rowsPerPiece)
                let shape = pieces == 1 ? t.shape : [r1 - r0] + t.shape.dropFirst()
                let n = pieces == 1 ? t.parameters : (r1 - r0) * rowElements
                let start = pieces == 1 ? 0 : r0 * rowElements
                let rowRange = pieces == 1 ? 0..<rows : r0..<r1
                do {
                    try self.checkCancelled()
                    let input = UnsafeMutableBufferPointer(rebasing: buffer[0..<n])
                    try t.decode(start..<(start + n), into: input, scratch: &scratch)
                    let values = UnsafeBufferPointer(input)
                    if let diagnosing { diagnosing.add(piece: p, values) }
                    else if measuresWhole { wholeDiagnostics.set(0, LayerDiagnostics.measure(values, shape: t.shape)) }
                    var bytes: [UInt8]? = nil
                    if let storedAs = checking {
                        let (check, blocks) = try self.pieceCheck(i, shape: shape, values: values, start: start, rows: rowRange,
                                                                  whole: pieces == 1, cut: cut, weights: weights, storedAs: storedAs,
                                                                  blocks: engineBlocks)
                        checked.set(p, check)
                        bytes = blocks
                    }
                    flow.finish(p, try bytes ?? produce(shape, values, cut, rowRange))
                } catch {
                    flow.fail(error)
                }
            }
        }

        let group = DispatchGroup()
        for _ in 0..<min(cores, pieces) {
            DispatchQueue.global(qos: .userInitiated).async(group: group, execute: work)
        }
        defer {
            flow.stop()
            group.wait()
        }
        for p in 0..<pieces {
            let bytes = try flow.take(p)
            try checkCancelled()
            try sink.write(bytes)
            advance(t.byteCount * (p + 1) / pieces - t.byteCount * p / pieces, .writing)
        }
        let found = try diagnosing?.finish() ?? wholeDiagnostics.values[0]
        if let found { lock.withLock { diagnostics[i] = found } }
        if let storedAs = checking {
            let kept = checked.values.compactMap { $0 }
            precondition(kept.count == pieces, "every piece was checked")
            lock.withLock { checks[i] = (storedAs, kept) }
        }
    }

    /// The ggml block type whose blocks the engine's evaluation of `settings` hands back for writing, when
    /// the tensor is stored as exactly that type.
    static func engineBlockType(_ settings: LayerSettings, storedAs: DType) -> GGMLType? {
        guard case .gguf(let type) = settings.quantize, storedAs == .ggml(type), GGUFBlockQuantizer.canQuantize(type) else { return nil }
        return type
    }

    /// The engine's evaluation of one piece as `Engine.evaluate` computes it (a whole tensor with its group
    /// cut and all its importance weights; a row piece with its slice of them), and the digest of its
    /// reconstruction rounded as `storedAs` rounds it. With `blocks` (a ggml type), also the blocks of that
    /// type the reconstruction was decoded from.
    private func pieceCheck(_ i: Int, shape: [Int], values: UnsafeBufferPointer<Float>, start: Int, rows: Range<Int>,
                            whole: Bool, cut: MagnitudeCut?, weights: [Float]?, storedAs: DType,
                            blocks type: GGMLType? = nil) throws -> (PieceCheck, [UInt8]?) {
        let t = model.tensors[i]
        let n = values.count
        let buffer = engine.buffers.take(max(1, n))
        defer { engine.buffers.give(buffer) }
        let out = UnsafeMutableBufferPointer(rebasing: buffer[0..<n])
        let token = cancel
        let blockBytes = type.map { GGUFBlockQuantizer.byteCount($0, count: n) } ?? 0
        // Every byte is written by the quantizer: no zero-filling first.
        var kept = type == nil ? nil : [UInt8](unsafeUninitializedCapacity: blockBytes) { _, c in c = blockBytes }
        let w = whole ? weights : ExpertImportance.slice(weights, shape: t.shape, rows: rows)
        func evaluate(_ blocks: UnsafeMutableRawBufferPointer?) throws -> LayerEvaluation {
            try Engine.withOptional(w) { w in
                try LayerEvaluator.evaluate(settings[i], shape: shape, values: values, originalDType: t.dtype,
                                            globalCut: whole ? cut : nil, reconstruction: out, importance: w, blocks: blocks,
                                            cancelled: { token.isCancelled })
            }
        }
        let e = kept == nil ? try evaluate(nil) : try kept!.withUnsafeMutableBytes { try evaluate($0) }
        if storedAs == .float16 || storedAs == .bfloat16 {
            for k in 0..<n { out[k] = ElementEncoder.rounded(out[k], to: storedAs) }
        }
        return (PieceCheck(start: start, count: n, digest: ValueDigest.of(UnsafeBufferPointer(out)), evaluation: e), kept)
    }

    /// Tensor `i`'s values as stored when the plan prunes it without quantizing: the pruned floats.
    static func pruned(_ settings: LayerSettings, shape: [Int], values: UnsafeBufferPointer<Float>, cut: MagnitudeCut?) -> [Float] {
        var w = Array(values)
        if settings.prune != .none {
            w.withUnsafeMutableBufferPointer { _ = LayerEvaluator.prune($0, settings.prune, shape: shape, globalCut: cut) }
        }
        return w
    }

    /// The stored values after `settings`, decoded from the codec's encoding (so the writer stores what the
    /// encoding holds; verification compares it with the fake-quantizer's reconstruction).
    static func decodedEncoding(_ settings: LayerSettings, shape: [Int], values: UnsafeBufferPointer<Float>,
                                cut: MagnitudeCut?, importance: [Float]? = nil) throws -> [Float] {
        guard let encoded = try encode(settings, shape: shape, values: values, cut: cut, importance: importance),
              let codec = settings.quantize.codec else {
            return pruned(settings, shape: shape, values: values, cut: cut)
        }
        var out = [Float](repeating: 0, count: values.count)
        try out.withUnsafeMutableBufferPointer { try codec.decode(encoded, into: $0) }
        return out
    }

    /// The codec's encoding of a piece, with importance weights when there are some.
    static func encode(_ settings: LayerSettings, shape: [Int], values: UnsafeBufferPointer<Float>,
                       cut: MagnitudeCut?, importance: [Float]?) throws -> EncodedTensor? {
        try Engine.withOptional(importance) {
            try LayerEvaluator.encode(settings, shape: shape, values: values, globalCut: cut, importance: $0)
        }
    }

    /// `values` stored as `dtype` (a plain float dtype).
    static func bytes(_ values: [Float], as dtype: DType) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * dtype.blockBytes)
        values.withUnsafeBufferPointer { v in out.withUnsafeMutableBytes { ElementEncoder.encode(v, as: dtype, into: $0) } }
        return out
    }

    // MARK: Verification

    /// Checks the written model `out` against the input: every floating tensor decodes to the engine's
    /// reconstruction (rounded as the stored dtype rounds it) bit for bit; every other tensor has the input's
    /// bytes. Records the engine's evaluations on the way (the numbers `report` prints). A container that
    /// stores tensor `i` in a form of its own (packed codes) gives its decoded values through `decoded`.
    /// `only`: the tensors this file holds (one shard of a sharded output); nil: all.
    func verify(_ out: Model, only: [Int]? = nil, decoded: (Int) throws -> [Float]? = { _ in nil }) throws {
        if only == nil || only?.first == 0 { startPhase(.verifying) }
        var byName: [String: Tensor] = [:]
        for t in out.tensors { byName[t.name] = t }
        for i in only ?? Array(model.tensors.indices) {
            let t = model.tensors[i]
            try checkCancelled()
            let shown = DisplayText.escaped(t.name)
            let own = try decoded(i)
            let o = byName[t.name]
            if own == nil {
                guard let o else { throw mismatch("tensor '\(shown)' is missing from the output") }
                guard o.shape == t.shape else {
                    throw mismatch("tensor '\(shown)' has shape \(o.shape) in the output, \(t.shape) in the input")
                }
                guard t.isFloating else {
                    guard o.byteCount == t.byteCount,
                          try o.data.bytes(at: 0, count: o.byteCount) == t.data.bytes(at: 0, count: t.byteCount) else {
                        throw mismatch("tensor '\(shown)': stored bytes differ from the input's")
                    }
                    advance(t.byteCount, .verifying)
                    continue
                }
            } else if own?.count != t.parameters {
                throw mismatch("tensor '\(shown)' decodes to \(own?.count ?? 0) values, not \(t.parameters)")
            }
            if own == nil, let o, let kept = lock.withLock({ checks[i] }), o.dtype == kept.storedAs {
                if try digestsMatch(o, kept.pieces) {
                    let e = kept.pieces.count == 1 ? kept.pieces[0].evaluation
                        : Engine.merged(kept.pieces.map(\.evaluation), settings: settings[i], tensor: t)
                    lock.withLock {
                        evaluations[i] = e
                        verifiedValues += t.parameters
                    }
                    advance(t.byteCount, .verifying)
                    continue
                }
                // A piece differs: the element-by-element check below names the first differing value.
            }
            let outType = own == nil ? o!.dtype : .float32
            let failure = PieceSlots(count: 0)
            let counted = RunningTotal()
            let diagnose = diagnoses && lock.withLock { diagnostics[i] == nil }
            let evaluated = try engine.evaluate(t, settings: settings[i], cut: try globalCut(i), token: cancel,
                                                withLevels: false, diagnose: diagnose) { start, reconstruction in
                let n = reconstruction.count
                var written = [Float](repeating: 0, count: max(1, n))
                if let own {
                    for k in 0..<n { written[k] = own[start + k] }
                } else {
                    try written.withUnsafeMutableBufferPointer { try o!.decode(start..<(start + n), into: $0) }
                }
                for k in 0..<n {
                    let want = ElementEncoder.rounded(reconstruction[k], to: outType)
                    if written[k].bitPattern != want.bitPattern {
                        let e = self.mismatch("tensor '\(shown)' element \(start + k): the file holds \(written[k]), the engine's reconstruction is \(want)")
                        failure.fail(e)
                        throw e
                    }
                }
                counted.add(n)
            }
            if let e = failure.error { throw e }
            if own == nil, lock.withLock({ checks[i] }) != nil {
                // The digest of the file's values differed from the write pass's, yet every value matches now.
                throw mismatch("tensor '\(shown)': the values read back differ from the engine's reconstruction kept while writing")
            }
            lock.withLock {
                evaluations[i] = evaluated.evaluation
                if diagnose { diagnostics[i] = evaluated.diagnostics }
                verifiedValues += counted.value
            }
            advance(t.byteCount, .verifying)
        }
    }

    /// Decodes the output tensor `o` piece by piece (in parallel, with the reader's decoder) and compares
    /// each piece's digest with the one kept from the engine's reconstruction while writing.
    private func digestsMatch(_ o: Tensor, _ pieces: [PieceCheck]) throws -> Bool {
        let matched = ResultSlots<Bool>(count: pieces.count)
        DispatchQueue.concurrentPerform(iterations: pieces.count) { p in
            let c = pieces[p]
            let buffer = engine.buffers.take(max(1, c.count))
            defer { engine.buffers.give(buffer) }
            do {
                try checkCancelled()
                let values = UnsafeMutableBufferPointer(rebasing: buffer[0..<c.count])
                try o.decode(c.start..<(c.start + c.count), into: values)
                matched.set(p, ValueDigest.of(UnsafeBufferPointer(values)) == c.digest)
            } catch {
                matched.fail(error)
            }
        }
        if let e = matched.error { throw e }
        return matched.values.allSatisfy { $0 == true }
    }

    func mismatch(_ what: String) -> ApplyError {
        ApplyError(.write, "verification failed, nothing written: " + what)
    }
}

/// Results of a batch of pieces, set from the threads that compute them.
final class PieceSlots: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [[UInt8]]
    private(set) var error: (any Error)?

    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [UInt8]) { lock.withLock { values[i] = v } }
    func fail(_ e: any Error) { lock.withLock { if error == nil { error = e } } }
}

/// A total added to from several threads.
final class RunningTotal: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func add(_ k: Int) { lock.withLock { n += k } }
    var value: Int { lock.withLock { n } }
}

/// Byte buffers for reading stored pieces, handed from one tensor's workers to the next tensor's.
final class ScratchPool: @unchecked Sendable {
    private let lock = NSLock()
    private var free: [[UInt8]] = []

    func take() -> [UInt8] { lock.withLock { free.popLast() ?? [] } }
    func give(_ b: [UInt8]) { lock.withLock { if free.count < 8 { free.append(b) } } }
}
