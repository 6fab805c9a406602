import Foundation

/// An importance matrix as llama.cpp's `llama-imatrix` writes it, reduced to what the quantizers take: per
/// tensor (GGUF name), one weight per column and expert, the mean squared activation of that column.
///
/// Two file formats, told apart as llama-quantize does (GGUF if it opens as GGUF, else legacy):
/// - GGUF (`general.type = "imatrix"`, keys `imatrix.datasets`, `imatrix.chunk_count`, `imatrix.chunk_size`):
///   per entry `<name>.in_sum2` (F32, `{ne0, n_mat}`, Σx²) and `<name>.counts` (F32, `{1, n_mat}`); the weight
///   of column i of matrix j is `in_sum2[j·ne0 + i] / counts[j]` (a matrix whose count is 0 gets 1s).
/// - legacy `.dat`: `i32 n_entries`, then per entry `i32 len, name[len], i32 ncall, i32 nval, f32 data[nval]`
///   (weights `data / ncall`, raw when ncall ≤ 0), then optionally `i32 last_chunk, i32 len, dataset[len]`.
public struct ImportanceMatrix: Sendable {
    public let path: String
    /// Weights per tensor name: `columns · experts` values, expert-major.
    public let entries: [String: [Float]]
    public let datasets: [String]
    public let chunkCount: Int?
    /// Matrices per entry (GGUF `counts` length: 1 for a plain weight, the experts of a MoE tensor); the
    /// legacy format does not record it.
    public let matrices: [String: Int]

    public init(path: String, entries: [String: [Float]], datasets: [String] = [], chunkCount: Int? = nil,
                matrices: [String: Int] = [:]) {
        self.path = path
        self.entries = entries
        self.datasets = datasets
        self.chunkCount = chunkCount
        self.matrices = matrices
    }

    /// Reads `path` (GGUF or legacy), checking every entry's values are finite (llama-quantize aborts otherwise).
    public static func load(path: String) throws -> ImportanceMatrix {
        let source = try FileSource(path: path)
        let head = try source.bytes(at: 0, count: Int(min(source.size, 4)))
        let m = head == Array("GGUF".utf8) ? try gguf(path) : try legacy(source)
        for (name, values) in m.entries where !values.allSatisfy({ $0.isFinite }) {
            throw ModelError(path, "imatrix entry '\(DisplayText.escaped(name))' has a non-finite value")
        }
        return m
    }

    /// This tensor's weights for `columns` columns and `experts` matrices, nil when the file has no entry
    /// (llama-quantize then quantizes without one); a length that does not fit throws, naming the tensor.
    public func weights(for tensor: String, columns: Int, experts: Int = 1) throws -> [Float]? {
        guard let w = entries[tensor] else { return nil }
        guard w.count == columns * experts else {
            throw ModelError(path, "imatrix entry '\(DisplayText.escaped(tensor))' has \(w.count) values, the tensor needs \(columns * experts) (\(columns) columns × \(experts))")
        }
        return w
    }

    static func gguf(_ path: String) throws -> ImportanceMatrix {
        let model = try ModelFile.open(path)
        func meta(_ key: String) -> MetadataValue? { model.metadata.first { $0.key == key }?.value }
        guard meta("imatrix.chunk_count") != nil, meta("imatrix.chunk_size") != nil, meta("imatrix.datasets") != nil else {
            throw ModelError(path, "missing imatrix metadata (imatrix.chunk_count, imatrix.chunk_size, imatrix.datasets): not an imatrix GGUF")
        }
        var chunks: Int?
        if case .uint(let c)? = meta("imatrix.chunk_count") { chunks = Int(exactly: c) }
        if case .int(let c)? = meta("imatrix.chunk_count") { chunks = Int(exactly: c) }
        var datasets: [String] = []
        if case .array(let items)? = meta("imatrix.datasets") {
            datasets = items.compactMap { if case .string(let s) = $0 { s } else { nil } }
        }
        let byName = Dictionary(model.tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        func floats(_ t: Tensor) throws -> [Float] {
            var out = [Float](repeating: 0, count: t.parameters)
            try out.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
            return out
        }
        var entries: [String: [Float]] = [:]
        var matrices: [String: Int] = [:]
        for t in model.tensors where t.name.hasSuffix(".in_sum2") {
            let name = String(t.name.dropLast(".in_sum2".count))
            guard let countsTensor = byName[name + ".counts"] else {
                throw ModelError(path, "imatrix entry '\(DisplayText.escaped(name))' has in_sum2 but no counts")
            }
            let sums = try floats(t), counts = try floats(countsTensor)
            guard !counts.isEmpty, sums.count % counts.count == 0 else {
                throw ModelError(path, "imatrix entry '\(DisplayText.escaped(name))': \(sums.count) sums do not split into \(counts.count) matrices")
            }
            let columns = sums.count / counts.count
            matrices[name] = counts.count
            entries[name] = sums.indices.map { i in
                let c = counts[i / columns]
                return c > 0 ? sums[i] / c : 1
            }
        }
        return ImportanceMatrix(path: path, entries: entries, datasets: datasets, chunkCount: chunks, matrices: matrices)
    }

    static func legacy(_ source: FileSource) throws -> ImportanceMatrix {
        let path = source.path
        var offset: UInt64 = 0
        func i32() throws -> Int {
            let b = try source.bytes(at: offset, count: 4)
            offset += 4
            return Int(Int32(bitPattern: UInt32(b[0]) | UInt32(b[1]) << 8 | UInt32(b[2]) << 16 | UInt32(b[3]) << 24))
        }
        let n = try i32()
        guard n >= 0, UInt64(n) <= source.size / 12 else { throw ModelError(path, "not an imatrix file: \(n) entries") }
        var entries: [String: [Float]] = [:]
        for e in 0..<n {
            let len = try i32()
            guard len > 0, len < 4096 else { throw ModelError(path, "imatrix entry \(e): bad name length \(len)") }
            let nameBytes = try source.bytes(at: offset, count: len)
            offset += UInt64(len)
            let name = String(decoding: nameBytes, as: UTF8.self)
            let ncall = try i32()
            let nval = try i32()
            guard nval > 0, UInt64(nval) * 4 <= source.size else {
                throw ModelError(path, "imatrix entry '\(DisplayText.escaped(name))': bad value count \(nval)")
            }
            let raw = try source.bytes(at: offset, count: 4 * nval)
            offset += UInt64(4 * nval)
            let div = Float(ncall)
            entries[name] = (0..<nval).map { i in
                let v = Float(bitPattern: UInt32(raw[4 * i]) | UInt32(raw[4 * i + 1]) << 8 | UInt32(raw[4 * i + 2]) << 16 | UInt32(raw[4 * i + 3]) << 24)
                return ncall > 0 ? v / div : v
            }
        }
        var datasets: [String] = []
        var chunks: Int?
        if offset + 8 <= source.size {
            chunks = try i32()
            let len = try i32()
            if len > 0, offset + UInt64(len) <= source.size {
                datasets = [String(decoding: try source.bytes(at: offset, count: len), as: UTF8.self)]
            }
        }
        return ImportanceMatrix(path: path, entries: entries, datasets: datasets, chunkCount: chunks)
    }
}
