import ArgumentParser
import Compression
import Foundation
import WeightFormats
import Workbench

struct Compare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Per-layer and total error of model B against model A (MSE, SQNR, max error, cosine), tensors matched by name.",
        discussion: """
            A is the reference (the original), B the approximation (a compressed or converted model); any formats \
            the readers open, and compressed-tensors checkpoints (decoded through the config.json beside them). \
            Tensors on one side only, with different shapes, or not floating are listed. \
            --map llama matches Hugging Face llama-family names to llama.cpp GGUF names and undoes the q/k row \
            permutation of llama.cpp's converter (head counts from the GGUF file, or --heads / --kv-heads).
            """)

    enum NameMap: String, ExpressibleByArgument, CaseIterable { case llama }

    @Argument(help: "The reference model (file, sharded index or directory).")
    var a: String

    @Argument(help: "The model compared with it.")
    var b: String

    @Option(help: "llama: match HF names with GGUF names and undo the q/k permutation.")
    var map: NameMap?

    @Option(help: "Query heads for --map llama (default: from the GGUF metadata).")
    var heads: Int?

    @Option(name: .customLong("kv-heads"), help: "Key/value heads for --map llama (default: from the GGUF metadata).")
    var kvHeads: Int?

    @Option(help: "table, json or csv.")
    var format: OutputFormat = .table

    @Option(help: "An importance matrix (llama.cpp's GGUF imatrix or legacy .dat), checked against A: adds the importance-weighted error of every tensor it has an entry for.")
    var imatrix: String?

    func validate() throws {
        if (heads != nil || kvHeads != nil) && map == nil { throw ValidationError("--heads and --kv-heads go with --map llama") }
        if let h = heads, h < 1 { throw ValidationError("--heads must be at least 1") }
        if let h = kvHeads, h < 1 { throw ValidationError("--kv-heads must be at least 1") }
    }

    func run() throws {
        let comparison: ModelComparison
        do {
            // A compressed-tensors checkpoint is compared by its decoded weights.
            let modelA = try CompressedTensorsCheckpoint.open(a), modelB = try CompressedTensorsCheckpoint.open(b)
            let importance = try imatrix.map { try ImportanceMatrix.load(path: $0, for: modelA) }
            let showProgress = isatty(2) == 1
            comparison = try ModelComparison(a: modelA, b: modelB, mapping: map == .llama ? .llama(heads: heads, kvHeads: kvHeads) : .identity,
                                             importance: importance,
                                             progress: { done, total in
                guard showProgress else { return }
                FileHandle.standardError.write(Data("\rweightlab: comparing tensor \(done)/\(total)\u{1b}[K".utf8))
            })
            if showProgress { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
        } catch {
            Failure.exit(error)
        }
        switch format {
        case .table: print(CompareOutput.table(comparison), terminator: "")
        case .json: print(CompareOutput.json(comparison).text())
        case .csv: print(CompareOutput.csv(comparison), terminator: "")
        }
    }
}

/// `compare`'s three outputs, over the same metric cells as `report` (`MetricText`).
enum CompareOutput {
    static func table(_ c: ModelComparison) -> String {
        let header = ["name", "shape", "params", "dtype A → B"] + MetricText.headers + ["bytes A", "bytes B"]
        let rows = c.pairs.map { p in
            [DisplayText.escaped(p.nameA) + (p.nameB == p.nameA ? "" : " ~ " + DisplayText.escaped(p.nameB) + (p.unpermuted ? " (q/k unpermuted)" : "")),
             InspectOutput.shapeText(p.shape), TableFormat.count(p.parameters), "\(p.dtypeA) → \(p.dtypeB)"]
                + MetricText.cells(p.metrics) + [Workbench.Format.bytes(p.bytesA), Workbench.Format.bytes(p.bytesB)]
        }
        let footer = ["total (\(c.pairs.count) tensors)", "", TableFormat.count(c.comparedParameters), ""]
            + MetricText.cells(c.total) + [Workbench.Format.bytes(c.pairs.reduce(0) { $0 + $1.bytesA }),
                                           Workbench.Format.bytes(c.pairs.reduce(0) { $0 + $1.bytesB })]
        var out = "A: \(DisplayText.escaped(c.pathA))\nB: \(DisplayText.escaped(c.pathB))\n\n"
        out += TextTable.render(header: header, rows: rows, footer: footer, rightAligned: [2, 4, 5, 6, 7, 8, 9, 10])
        func list(_ title: String, _ names: [String]) {
            guard !names.isEmpty else { return }
            out += "\n\(title) (\(names.count)): " + names.map(DisplayText.escaped).joined(separator: ", ") + "\n"
        }
        list("only in A", c.onlyInA)
        list("only in B", c.onlyInB)
        list("different shapes", c.shapeMismatches.map {
            "\($0.nameA) \(InspectOutput.shapeText($0.shapeA)) vs \(InspectOutput.shapeText($0.shapeB))"
        })
        list("not compared (not floating)", c.notCompared)
        return out + importanceTable(c)
    }

    /// With an importance matrix: the importance-weighted error of every pair it has an entry for, and in
    /// total, spelled as `report --imatrix` spells it.
    static func importanceTable(_ c: ModelComparison) -> String {
        guard let total = c.importanceTotal else { return "" }
        let rows = c.pairs.compactMap { p in
            p.importanceError.map { [DisplayText.escaped(p.nameA), MetricText.sqnr($0.sqnrDB), MetricText.mse($0.mse)] }
        }
        return "\nimportance-weighted error (imatrix)\n\n"
            + TextTable.render(header: ["name", "weighted SQNR dB", "weighted MSE"], rows: rows,
                               footer: ["total (\(rows.count) tensors)", MetricText.sqnr(total.sqnrDB), MetricText.mse(total.mse)],
                               rightAligned: [1, 2])
    }

    /// `weighted_sqnr_db` (null when exact or undefined) and `weighted_mse`.
    static func importanceJSON(_ e: ImportanceWeightedError?) -> [(String, JSONValue)] {
        guard let e else { return [] }
        return [("weighted_sqnr_db", .number(e.sqnrDB)), ("weighted_mse", .number(e.mse))]
    }

    static func json(_ c: ModelComparison) -> JSONValue {
        let layers: [JSONValue] = c.pairs.map { p in
            .object([("name", .string(p.nameA)), ("name_b", .string(p.nameB)), ("shape", .array(p.shape.map { .int($0) })),
                     ("parameters", .int(p.parameters)), ("dtype_a", .string(p.dtypeA.description)),
                     ("dtype_b", .string(p.dtypeB.description))] + MetricText.json(p.metrics)
                    + [("bytes_a", .int(p.bytesA)), ("bytes_b", .int(p.bytesB)), ("qk_unpermuted", .bool(p.unpermuted))]
                    + importanceJSON(p.importanceError))
        }
        return .object([
            ("a", .string(c.pathA)), ("b", .string(c.pathB)),
            ("layers", .array(layers)),
            ("total", .object([("parameters", .int(c.comparedParameters))] + MetricText.json(c.total) + importanceJSON(c.importanceTotal))),
            ("only_in_a", .array(c.onlyInA.map { .string($0) })),
            ("only_in_b", .array(c.onlyInB.map { .string($0) })),
            ("shape_mismatches", .array(c.shapeMismatches.map {
                .object([("name_a", .string($0.nameA)), ("name_b", .string($0.nameB)),
                         ("shape_a", .array($0.shapeA.map { .int($0) })), ("shape_b", .array($0.shapeB.map { .int($0) }))])
            })),
            ("not_compared", .array(c.notCompared.map { .string($0) })),
        ])
    }

    /// One row per tensor of either side, `status` saying what happened to it, then the total.
    static func csv(_ c: ModelComparison) -> String {
        let f = MetricText.csvField, n = MetricText.csv
        var out = "status,name,name_b,shape,parameters,dtype_a,dtype_b,sparsity,mse,sqnr_db,max_abs_error,cosine\n"
        func shape(_ s: [Int]) -> String { s.map(String.init).joined(separator: "x") }
        for p in c.pairs {
            let m = p.metrics
            out += ["compared", f(DisplayText.escaped(p.nameA)), f(DisplayText.escaped(p.nameB)), shape(p.shape), String(p.parameters),
                    p.dtypeA.description, p.dtypeB.description, n(m.sparsity), n(m.mse), n(m.sqnrDB), n(m.maxAbsError),
                    n(m.cosineSimilarity)].joined(separator: ",") + "\n"
        }
        let empty = Array(repeating: "", count: 8)
        for name in c.onlyInA { out += (["only in A", f(DisplayText.escaped(name)), ""] + empty + [""]).joined(separator: ",") + "\n" }
        for name in c.onlyInB { out += (["only in B", "", f(DisplayText.escaped(name))] + empty + [""]).joined(separator: ",") + "\n" }
        for s in c.shapeMismatches {
            out += (["different shapes", f(DisplayText.escaped(s.nameA)), f(DisplayText.escaped(s.nameB)),
                     shape(s.shapeA) + " vs " + shape(s.shapeB)] + Array(repeating: "", count: 8)).joined(separator: ",") + "\n"
        }
        for name in c.notCompared { out += (["not compared", f(DisplayText.escaped(name)), ""] + empty + [""]).joined(separator: ",") + "\n" }
        let m = c.total
        out += ["total", "", "", "", String(c.comparedParameters), "", "", n(m.sparsity), n(m.mse), n(m.sqnrDB),
                n(m.maxAbsError), n(m.cosineSimilarity)].joined(separator: ",") + "\n"
        return out
    }
}
