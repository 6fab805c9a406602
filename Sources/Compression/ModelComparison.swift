import Foundation
import WeightFormats

/// Two models compared tensor by tensor (`weightlab compare A B`): A is the reference, B the approximation, so
/// the metrics read as those of B reconstructing A (MSE, SQNR, max error, cosine, B's zeros) — the same
/// `ErrorMetrics` the engine gives for a plan, so `compare IN OUT` after `apply` shows `report`'s numbers.
///
/// Tensors are matched by name (with `mapping`, HF names are first renamed to GGUF names and the query/key
/// rows the converter permuted are read back in HF order). Both tensors are streamed in pieces of rows, the
/// pieces measured across the cores and merged in order, so neither model is ever held in memory.
public struct ModelComparison: Sendable {
    /// How names are matched.
    public enum Mapping: Sendable, Equatable {
        /// Names as they are.
        case identity
        /// HF llama-family names on either side renamed to GGUF names; `heads`/`kvHeads` for the q/k rows
        /// (nil: read from the GGUF side's metadata).
        case llama(heads: Int?, kvHeads: Int?)
    }

    /// One tensor present on both sides with the same shape.
    public struct Pair: Sendable, Equatable {
        /// The name in A (its GGUF name under `--map llama` is `matchedName`).
        public var nameA: String
        public var nameB: String
        public var matchedName: String
        public var shape: [Int]
        public var parameters: Int
        public var dtypeA: DType
        public var dtypeB: DType
        public var bytesA: Int
        public var bytesB: Int
        /// B's rows were read through the q/k permutation.
        public var unpermuted: Bool
        public var metrics: ErrorMetrics
        /// With an importance matrix that has an entry for the tensor: the importance-weighted error.
        public var importanceError: ImportanceWeightedError? = nil
    }

    public struct ShapeMismatch: Sendable, Equatable {
        public var nameA: String
        public var nameB: String
        public var shapeA: [Int]
        public var shapeB: [Int]
    }

    public let pathA: String
    public let pathB: String
    /// Matched floating tensors in A's order.
    public private(set) var pairs: [Pair] = []
    public private(set) var onlyInA: [String] = []
    public private(set) var onlyInB: [String] = []
    public private(set) var shapeMismatches: [ShapeMismatch] = []
    /// Matched tensors that are not floating on one side (integer, bool): listed, not measured.
    public private(set) var notCompared: [String] = []
    /// Every pair's metrics together (SQNR over all compared weights, not an average of dB).
    public private(set) var total = ErrorMetrics()

    public var comparedParameters: Int { pairs.reduce(0) { $0 + $1.parameters } }

    /// The importance matrix the error was weighted with, if any.
    public let importance: ImportanceMatrix?
    /// Every weighted pair's importance-weighted error together (nil without a matrix or without entries).
    public var importanceTotal: ImportanceWeightedError? {
        let present = pairs.compactMap(\.importanceError)
        guard !present.isEmpty else { return nil }
        return present.reduce(into: ImportanceWeightedError()) { $0.merge($1) }
    }

    /// Compares every tensor of `a` with its match in `b`. `progress` gets (tensors done, tensors to compare).
    /// `importance` (checked against `a`, see `ImportanceMatrix.check`) adds the importance-weighted error of
    /// every matrix it has an entry for, as `report --imatrix` measures it.
    public init(a: Model, b: Model, mapping: Mapping = .identity, importance: ImportanceMatrix? = nil,
                pieceElements: Int = 1 << 18, cancel: CancellationToken = CancellationToken(),
                progress: @Sendable (Int, Int) -> Void = { _, _ in }) throws {
        pathA = a.path
        pathB = b.path
        self.importance = importance
        func key(_ name: String) -> (key: String, fromHF: Bool) {
            guard case .llama = mapping, let g = LlamaTensorNames.gguf(forHF: name) else { return (name, false) }
            return (g, true)
        }
        var indexB: [String: Int] = [:]
        for (i, t) in b.tensors.enumerated() where indexB[key(t.name).key] == nil { indexB[key(t.name).key] = i }
        var matchedB = Set<Int>()
        var work: [(a: Tensor, b: Tensor, key: String, permuted: LlamaTensorNames.Permuted?, fromHFA: Bool)] = []
        var seenA = Set<String>()
        for t in a.tensors {
            let (k, fromHF) = key(t.name)
            guard seenA.insert(k).inserted, let j = indexB[k] else { onlyInA.append(t.name); continue }
            matchedB.insert(j)
            let u = b.tensors[j]
            guard t.shape == u.shape else {
                shapeMismatches.append(ShapeMismatch(nameA: t.name, nameB: u.name, shapeA: t.shape, shapeB: u.shape))
                continue
            }
            guard t.isFloating, u.isFloating else { notCompared.append(t.name); continue }
            // The converter permuted the GGUF side; an HF name on exactly one side means the sides differ.
            let permuted = fromHF != key(u.name).fromHF ? LlamaTensorNames.permuted(k) : nil
            work.append((t, u, k, permuted, fromHF))
        }
        onlyInB = b.tensors.indices.filter { !matchedB.contains($0) }.map { b.tensors[$0].name }

        var heads: (heads: Int, kvHeads: Int)? = nil
        if case .llama(let h, let kv) = mapping, work.contains(where: { $0.permuted != nil }) {
            let ggufSide = work.first(where: { $0.permuted != nil })!.fromHFA ? b : a
            let fromFile = LlamaTensorNames.headCounts(ggufMetadata: ggufSide.metadata)
            guard let nh = h ?? fromFile?.heads else {
                throw ModelError(ggufSide.path, "--map llama needs the attention head counts to undo the q/k permutation: the file has no <arch>.attention.head_count; give --heads and --kv-heads")
            }
            heads = (nh, kv ?? fromFile?.kvHeads ?? nh)
        }

        for (done, w) in work.enumerated() {
            if cancel.isCancelled { throw CancellationError() }
            var headCount: Int? = nil
            if let p = w.permuted, let heads {
                headCount = p == .query ? heads.heads : heads.kvHeads
            }
            let weights = w.a.shape.count == 2 || w.a.shape.count == 3 ? try importance?.weights(for: w.a) : nil
            let (metrics, weighted) = try Self.measure(reference: w.a, approximation: w.b, permutedHeads: headCount,
                                                       permutedSideIsA: !w.fromHFA, importance: weights,
                                                       pieceElements: pieceElements, cancel: cancel)
            pairs.append(Pair(nameA: w.a.name, nameB: w.b.name, matchedName: w.key, shape: w.a.shape, parameters: w.a.parameters,
                              dtypeA: w.a.dtype, dtypeB: w.b.dtype, bytesA: w.a.originalBytes, bytesB: w.b.originalBytes,
                              unpermuted: headCount != nil, metrics: metrics, importanceError: weighted))
            total.merge(metrics)
            progress(done + 1, work.count)
        }
    }

    /// The metrics of `approximation` against `reference`, in pieces of whole rows (whole heads when one side's
    /// rows are permuted with `permutedHeads` heads; that side is A when `permutedSideIsA`).
    /// With `importance` (one weight per column, per expert for a 3-D tensor) also the importance-weighted error.
    static func measure(reference a: Tensor, approximation b: Tensor, permutedHeads: Int?, permutedSideIsA: Bool,
                        importance: [Float]? = nil, pieceElements: Int,
                        cancel: CancellationToken) throws -> (ErrorMetrics, ImportanceWeightedError?) {
        let n = a.parameters
        guard n > 0 else { return (ErrorMetrics(), nil) }
        let rows = a.shape.count > 1 ? a.shape[0] : 1
        let rowLength = n / max(1, rows)
        var align = 1
        if let heads = permutedHeads {
            guard LlamaTensorNames.ggufRow(ofHFRow: 0, rows: rows, heads: heads) != nil else {
                throw ModelError(a.data.path, "tensor '\(DisplayText.escaped(a.name))': \(rows) rows do not split into \(heads) heads of an even size, so the q/k permutation cannot be undone")
            }
            align = rows / heads
        }
        let rowsPerPiece = max(align, max(1, pieceElements / max(1, rowLength)) / align * align)
        let pieces = (rows + rowsPerPiece - 1) / rowsPerPiece
        let slots = ResultSlots<(ErrorMetrics, ImportanceWeightedError?)>(count: pieces)
        DispatchQueue.concurrentPerform(iterations: pieces) { p in
            if cancel.isCancelled { slots.fail(CancellationError()); return }
            let r0 = p * rowsPerPiece, r1 = min(rows, r0 + rowsPerPiece)
            let range = (r0 * rowLength)..<(r1 * rowLength)
            var va = [Float](repeating: 0, count: range.count), vb = va
            do {
                try va.withUnsafeMutableBufferPointer { try a.decode(range, into: $0) }
                try vb.withUnsafeMutableBufferPointer { try b.decode(range, into: $0) }
                if let heads = permutedHeads {
                    // Put the permuted side's rows back in HF order: HF row i is GGUF row ggufRow(i).
                    let src = permutedSideIsA ? va : vb
                    var hf = src
                    for r in r0..<r1 {
                        let g = LlamaTensorNames.ggufRow(ofHFRow: r, rows: rows, heads: heads)!
                        let from = (g - r0) * rowLength, to = (r - r0) * rowLength
                        hf[to..<(to + rowLength)] = src[from..<(from + rowLength)]
                    }
                    if permutedSideIsA { va = hf } else { vb = hf }
                }
                let m = va.withUnsafeBufferPointer { pa in
                    vb.withUnsafeBufferPointer { pb in
                        (ErrorMetrics(original: pa, reconstructed: pb),
                         ExpertImportance.slice(importance, shape: a.shape, rows: r0..<r1).map { w in
                             w.withUnsafeBufferPointer {
                                 ExpertImportance.error(original: pa, reconstructed: pb, columns: a.shape.last ?? rowLength, weights: $0)
                             }
                         })
                    }
                }
                slots.set(p, m)
            } catch {
                slots.fail(error)
            }
        }
        if let error = slots.error { throw error }
        var metrics = ErrorMetrics()
        var weighted: ImportanceWeightedError? = importance == nil ? nil : ImportanceWeightedError()
        for case let (m, w)? in slots.values {
            metrics = metrics + m
            if let w { weighted?.merge(w) }
        }
        return (metrics, weighted)
    }
}
