import Dispatch
import WeightFormats

/// A menu evaluated on one tensor streamed in row pieces: each piece is decoded once, every option runs on
/// it while it is in cache, and the pieces run across the cores. Memory is a few pieces (about 8 MB each)
/// instead of the whole decoded tensor (180 MB for an 11008 × 4096 matrix), and every option's numbers are
/// those of `Engine.evaluate` (the same row pieces, merged in the same order, `Engine.merged`).
///
/// The layer's diagnostics come from the same pass (`LayerDiagnosticsPass`, equal to `LayerDiagnostics.measure`
/// of the whole tensor): its statistics from the pieces' 16 Ki blocks merged in order, a block cut by a piece
/// boundary joined from the two pieces' edges (so pieces need not hold whole blocks, and rows of 11 008 such as
/// a Llama down_proj stream like the others), the rows' maxima piece by piece, and the outliers from the
/// pieces' bit-pattern counts once the whole layer's mean and standard deviation are known.
extension Engine {
    struct StreamedMenu {
        /// One per option, in the order given.
        let evaluations: [LayerEvaluation]
        let diagnostics: LayerDiagnostics
    }

    /// Rows per piece when every option splits `shape` into the same row pieces, else nil: then each option
    /// needs its own pass or the whole tensor.
    static func sharedRowsPerPiece(_ options: [LayerSettings], shape: [Int]) -> Int? {
        guard shape.count > 1, !options.isEmpty else { return nil }
        let each = options.map { rowsPerPiece($0, shape: shape, pieceElements: pieceElements) }
        guard let rows = each[0], each.allSatisfy({ $0 == rows }), shape[0] > rows else { return nil }
        return rows
    }

    /// Every option of `options` on `tensor`, streamed in row pieces, or nil when the options do not share
    /// their pieces (`sharedRowsPerPiece`).
    func streamedMenu(tensor: Tensor, options: [LayerSettings], token: CancellationToken) throws -> StreamedMenu? {
        guard let rowsPerPiece = Self.sharedRowsPerPiece(options, shape: tensor.shape) else { return nil }
        let weights = try importanceWeights(tensor)
        let rows = tensor.shape[0], rowElements = tensor.parameters / rows
        let pieces = (rows + rowsPerPiece - 1) / rowsPerPiece
        let diagnosing = LayerDiagnosticsPass(tensor: tensor, rowsPerPiece: rowsPerPiece)
        // Options the fused BF16 kernel answers from the stored bytes (each reads the piece's 2-byte patterns
        // once, writing no reconstruction); the others run on the decoded values.
        let stored = options.map { weights == nil && LayerEvaluator.readsStoredBFloat16($0, tensor: tensor) }
        let keepRaw = stored.contains(true)
        @Sendable func piece<R>(_ p: Int, _ body: (_ shape: [Int], _ values: UnsafeBufferPointer<Float>, _ raw: UnsafeRawBufferPointer?,
                                                   _ output: UnsafeMutableBufferPointer<Float>) throws -> R) throws -> R {
            let r0 = p * rowsPerPiece, r1 = min(rows, r0 + rowsPerPiece)
            let count = (r1 - r0) * rowElements
            // Reused buffers: fresh multi-megabyte allocations cost page faults and zeroing on every piece.
            let input = buffers.take(count), output = buffers.take(count)
            defer { buffers.give(input); buffers.give(output) }
            let values = UnsafeMutableBufferPointer(rebasing: input[0..<count])
            let shape = [r1 - r0] + tensor.shape.dropFirst()
            guard keepRaw else {
                try tensor.decode((r0 * rowElements)..<(r1 * rowElements), into: values)
                return try body(shape, UnsafeBufferPointer(values), nil, output)
            }
            let rawBuffer = buffers.take((count + 1) / 2)
            defer { buffers.give(rawBuffer) }
            let raw = UnsafeMutableRawBufferPointer(rebasing: UnsafeMutableRawBufferPointer(rawBuffer)[0..<(2 * count)])
            try tensor.data.read(at: UInt64(2 * r0 * rowElements), into: raw)
            try ElementDecoder.decode(UnsafeRawBufferPointer(raw), dtype: tensor.dtype, byteOrder: tensor.byteOrder, count: count,
                                      into: values, path: tensor.data.path)
            return try body(shape, UnsafeBufferPointer(values), UnsafeRawBufferPointer(raw), output)
        }
        let slots = ResultSlots<[LayerEvaluation]>(count: pieces)
        DispatchQueue.concurrentPerform(iterations: pieces) { p in
            if token.isCancelled { slots.fail(CancellationError()); return }
            do {
                slots.set(p, try piece(p) { shape, v, raw, output in
                    // The stored-bytes options in one pass of the many-option kernel.
                    let fromBytes: [LayerEvaluation?] = try raw.map { raw in
                        let picked = options.indices.filter { stored[$0] }
                        var all = [LayerEvaluation?](repeating: nil, count: options.count)
                        for (i, e) in try LayerEvaluator.evaluateStoredBFloat16(picked.map { options[$0] }, shape: shape, raw: raw).enumerated() {
                            all[picked[i]] = e
                        }
                        return all
                    } ?? []
                    let evaluations = try options.indices.map { k in
                        let s = options[k]
                        if stored[k], let e = fromBytes[k] { return e }
                        // The identity is measured on the values in place (no copy into `output`).
                        return try Self.withOptional(weights) { w in
                            try LayerEvaluator.evaluate(s, shape: shape, values: v, originalDType: tensor.dtype,
                                                        reconstruction: s.isIdentity ? nil : output, importance: w,
                                                        cancelled: { token.isCancelled })
                        }
                    }
                    diagnosing.add(piece: p, v, stored: raw)
                    return evaluations
                })
            } catch {
                slots.fail(error)
            }
        }
        if let error = slots.error { throw error }
        let parts = slots.values.map { $0! }
        let evaluations = options.indices.map { k in
            Self.merged(parts.map { $0[k] }, settings: options[k], tensor: tensor)
        }
        guard let diagnostics = try diagnosing.finish() else { throw CancellationError() }
        return StreamedMenu(evaluations: evaluations, diagnostics: diagnostics)
    }
}
