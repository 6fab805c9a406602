import ArgumentParser
import Compression
import Foundation
import TaskEval
import WeightFormats
import Workbench

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a compression plan headlessly: per-layer and total sparsity, error and size.")


    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory.")
    var model: String

    @Option(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(help: "table, json or csv.")
    var format: OutputFormat = .table

    @Option(help: "An importance matrix (llama.cpp's GGUF imatrix or legacy .dat; else the plan's \"imatrix\"): ggml types quantize with it, and the table adds the importance-weighted SQNR.")
    var imatrix: String?

    @Option(help: ArgumentHelp("The table's columns, comma-separated, or `all` (default: \(ReportOutput.defaultColumns.joined(separator: ","))).",
                               discussion: "Columns: \(ReportOutput.columnNames.joined(separator: ", ")). The default fits 100 terminal columns."))
    var columns: String?

    @Flag(help: "Refuse a plan with a rule that matches no tensor (by default that is a warning).")
    var strict = false

    @Option(name: .customLong("eval-data"), help: "An .npz of the model's inputs (and optional 'labels'): the ONNX model is also run, original against compressed, and the task metrics follow the totals (see `weightlab eval`).")
    var evalData: String?

    @Option(name: .customLong("ort-lib"), help: "With --eval-data: path to libonnxruntime.so (else WEIGHTLAB_ORT_LIB, else the onnxruntime Python package's).")
    var ortLib: String?

    func validate() throws {
        if evalData != nil && format == .csv {
            throw ValidationError("--eval-data adds task metrics to the table or JSON output; csv has one row per layer")
        }
        if let columns, ReportOutput.columns(columns) == nil {
            throw ValidationError("--columns: unknown column in '\(columns)'; columns are \(ReportOutput.columnNames.joined(separator: ", ")) or all")
        }
    }

    func run() throws {
        let evaluation: PlanEvaluation
        do {
            let showProgress = isatty(2) == 1
            evaluation = try PlanEvaluation(modelPath: model, planPath: plan, strict: strict, imatrixPath: imatrix,
                                        diagnose: format == .json, progress: { done, total in
                guard showProgress else { return }
                FileHandle.standardError.write(Data("\rweightlab: evaluating layer \(done)/\(total)\u{1b}[K".utf8))
            })
            if showProgress { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
        } catch {
            Failure.exit(error)
        }
        for f in evaluation.model.skippedFiles {
            FileHandle.standardError.write(Data("weightlab: skipped \(f)\n".utf8))
        }
        for w in evaluation.warnings {
            FileHandle.standardError.write(Data("weightlab: warning: \(w.description)\n".utf8))
        }
        var task: TaskReport? = nil
        if let evalData {
            do {
                task = try TaskEvaluation.runONNX(modelPath: model, planPath: plan, dataPath: evalData, ortLibrary: ortLib, imatrix: imatrix)
            } catch {
                Failure.exit(error)
            }
        }
        switch format {
        case .table:
            let chosen = columns.flatMap(ReportOutput.columns) ?? ReportOutput.defaultColumns
            print(ReportOutput.table(evaluation, columns: chosen), terminator: "")
            if let task { print(EvalOutput.text(task, format: .table), terminator: "") }
        case .json:
            let diagnostics: [LayerDiagnostics?]
            do { diagnostics = try evaluation.diagnostics() } catch { Failure.exit(error) }
            var value = ReportOutput.json(evaluation, diagnostics: diagnostics)
            if let task, case .object(let fields) = value { value = .object(fields + [("task", EvalOutput.json(task))]) }
            print(value.text())
        case .csv: print(ReportOutput.csv(evaluation), terminator: "")
        }
    }
}

enum ReportOutput {
    /// Every column the table can show, in order: (name, header, right-aligned).
    static let allColumns: [(name: String, header: String, right: Bool)] = [
        ("name", "name", false), ("shape", "shape", false), ("params", "params", true), ("settings", "settings", false),
        ("sparsity", "sparsity", true), ("mse", "MSE", true), ("sqnr", "SQNR dB", true), ("maxerr", "max err", true),
        ("cosine", "cosine", true), ("bytes", "bytes", true), ("compressed", "compressed", true), ("bits", "bits/w", true),
        ("encoding", "encoding", false),
    ]
    static var columnNames: [String] { allColumns.map(\.name) }
    /// What fits 100 terminal columns for typical names; `--columns all` shows the rest.
    static let defaultColumns = ["name", "shape", "settings", "sparsity", "mse", "sqnr", "compressed", "bits"]

    /// `--columns` text as column names, or nil when one is unknown.
    static func columns(_ text: String) -> [String]? {
        if text.trimmingCharacters(in: .whitespaces) == "all" { return columnNames }
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        guard !names.isEmpty, names.allSatisfy(columnNames.contains) else { return nil }
        return names
    }

    static func table(_ r: PlanEvaluation, columns: [String] = columnNames) -> String {
        var rows: [[String: String]] = []
        for (i, t) in r.model.tensors.enumerated() {
            let n = r.layers[i], m = n.metrics
            rows.append([
                "name": DisplayText.escaped(t.name), "shape": InspectOutput.shapeText(t.shape),
                "params": TableFormat.count(t.parameters), "settings": SettingsText.summary(r.settings[i]),
                "sparsity": n.sparsity.map(MetricText.sparsity) ?? "-",
                "mse": m.map { MetricText.mse($0.mse) } ?? "-",
                "sqnr": n.sqnr.map(MetricText.sqnr) ?? "-",
                "maxerr": m.map { MetricText.maxError($0.maxAbsError) } ?? "-",
                "cosine": m.map { MetricText.cosine($0.cosineSimilarity) } ?? "-",
                "bytes": Workbench.Format.bytes(t.originalBytes),
                "compressed": Workbench.Format.bytes(n.bytes ?? t.originalBytes),
                "bits": String(format: "%.3f", n.bitsPerWeight ?? t.dtype.storedBitsPerWeight),
                "encoding": encoding(n, t),
            ])
        }
        let m = r.totals.metrics
        let count = r.model.tensors.count
        let footer: [String: String] = [
            "name": "total (\(count) \(count == 1 ? "tensor" : "tensors"))", "params": TableFormat.count(r.totals.parameters),
            "sparsity": MetricText.sparsity(m.sparsity), "mse": MetricText.mse(m.mse), "sqnr": MetricText.sqnr(m.sqnrDB),
            "maxerr": MetricText.maxError(m.maxAbsError), "cosine": MetricText.cosine(m.cosineSimilarity),
            "bytes": Workbench.Format.bytes(r.totals.bytesOriginal), "compressed": Workbench.Format.bytes(r.totals.bytesCompressed),
            "bits": String(format: "%.3f", r.totals.bitsPerWeight),
            "encoding": String(format: "%.2fx smaller", r.totals.compressionRatio),
        ]
        let chosen = columns.compactMap { c in allColumns.first { $0.name == c } }
        var out = "\(DisplayText.escaped(r.model.path))\n\n"
            + TextTable.render(header: chosen.map(\.header), rows: rows.map { row in chosen.map { row[$0.name] ?? "" } },
                               footer: chosen.map { footer[$0.name] ?? "" },
                               rightAligned: Set(chosen.indices.filter { chosen[$0].right }))
        if !columns.contains("encoding") {
            let hidden = columnNames.filter { !columns.contains($0) }
            out += Workbench.Format.bytes(r.totals.bytesOriginal) + " → " + Workbench.Format.bytes(r.totals.bytesCompressed)
                + String(format: " (%.2fx smaller)", r.totals.compressionRatio)
                + (hidden.isEmpty ? "" : " · --columns all adds " + hidden.joined(separator: ", ")) + "\n"
        }
        let notes = PlanSkip.summary(r.skipped)
        if !notes.isEmpty { out += "\n" + notes.map { "note: " + $0 + "\n" }.joined() }
        return out + importanceTable(r)
    }

    /// With an importance matrix: the importance-weighted SQNR of every tensor it has an entry for, and in total.
    static func importanceTable(_ r: PlanEvaluation) -> String {
        guard let total = r.importanceTotal else { return "" }
        var rows: [[String]] = []
        for (i, t) in r.model.tensors.enumerated() {
            guard let e = r.importanceErrors[i] else { continue }
            rows.append([DisplayText.escaped(t.name), SettingsText.summary(r.settings[i]), MetricText.sqnr(e.sqnrDB), MetricText.mse(e.mse)])
        }
        return "\nimportance-weighted error (imatrix)\n\n"
            + TextTable.render(header: ["name", "settings", "weighted SQNR dB", "weighted MSE"], rows: rows,
                               footer: ["total (\(rows.count) tensors)", "", MetricText.sqnr(total.sqnrDB), MetricText.mse(total.mse)],
                               rightAligned: [2, 3])
    }

    /// The assumed encoding of an evaluated layer; a tensor stored as is says so with its dtype.
    static func encoding(_ n: LayerNumbers, _ t: Tensor) -> String {
        n.status == .exact ? n.encoding ?? "" : "not compressed (\(t.dtype))"
    }

    /// `diagnostics` (one per tensor, as `PlanEvaluation.diagnostics` gives them) adds each floating
    /// layer's `diagnostics` object: kurtosis, channel spread, outliers, error share and sensitivity.
    static func json(_ r: PlanEvaluation, diagnostics: [LayerDiagnostics?] = []) -> JSONValue {
        var layers: [JSONValue] = []
        for (i, t) in r.model.tensors.enumerated() {
            let n = r.layers[i]
            let compressed = n.status == .exact && !r.settings[i].isIdentity
            var o: [(String, JSONValue)] = [
                ("name", .string(t.name)),
                ("shape", .array(t.shape.map { .int($0) })),
                ("parameters", .int(t.parameters)),
                ("compressed", .bool(compressed)),
            ]
            if n.status == .exact, let m = n.metrics {
                o += MetricText.json(m)
                o += [("bytes_original", .int(t.originalBytes)), ("bytes_compressed", .int(n.bytes ?? t.originalBytes)),
                      ("bits_per_weight", .number(n.bitsPerWeight ?? 0)), ("encoding", .string(encoding(n, t)))]
            } else {
                o += [("sparsity", .null), ("mse", .null), ("sqnr_db", .null), ("max_abs_error", .null),
                      ("cosine", .null), ("bytes_original", .int(t.originalBytes)), ("bytes_compressed", .int(n.bytes ?? t.originalBytes)),
                      ("bits_per_weight", .number(n.bitsPerWeight ?? t.dtype.storedBitsPerWeight)),
                      ("encoding", .string(encoding(n, t)))]
            }
            o.append(("settings", .string(SettingsText.summary(r.settings[i]))))
            if i < diagnostics.count, let d = diagnostics[i] {
                o.append(("diagnostics", .object([
                    ("kurtosis", .number(d.kurtosis)), ("channel_spread", .number(d.channelSpread)),
                    ("outliers_6sigma", .int(d.outliers)), ("outlier_fraction", .number(d.outlierFraction)),
                    ("error_share", .number(n.errorShare(of: r.totals))),
                    ("sensitivity", .number(n.sensitivity(originalBytes: t.originalBytes))),
                ])))
            }
            if let skip = r.skipped.first(where: { $0.tensor == t.name }) {
                o.append(("skipped", .string(skip.by + ": " + skip.reason)))
            }
            layers.append(.object(o))
        }
        let m = r.totals.metrics
        return .object([
            ("model", .string(r.model.path)),
            ("warnings", .array(r.warnings.map { .string($0.description) })),
            ("layers", .array(layers)),
            ("total", .object([
                ("parameters", .int(r.totals.parameters))] + MetricText.json(m) + [
                ("bytes_original", .int(r.totals.bytesOriginal)), ("bytes_compressed", .int(r.totals.bytesCompressed)),
                ("bits_per_weight", .number(r.totals.bitsPerWeight)),
                ("compression_ratio", .number(r.totals.compressionRatio)),
            ])),
        ])
    }

    static func csv(_ r: PlanEvaluation) -> String {
        let field = MetricText.csvField, num = MetricText.csv
        var out = "name,shape,parameters,compressed,sparsity,mse,sqnr_db,max_abs_error,cosine,bytes_original,bytes_compressed,bits_per_weight,encoding,settings\n"
        for (i, t) in r.model.tensors.enumerated() {
            let n = r.layers[i], m = n.metrics
            let cols = [field(DisplayText.escaped(t.name)), field(t.shape.map(String.init).joined(separator: "x")),
                        String(t.parameters), String(n.status == .exact && !r.settings[i].isIdentity),
                        num(m?.sparsity), num(m?.mse), num(m?.sqnrDB),
                        num(m?.maxAbsError), num(m?.cosineSimilarity), String(t.originalBytes),
                        String(n.bytes ?? t.originalBytes), num(n.bitsPerWeight ?? t.dtype.storedBitsPerWeight),
                        field(encoding(n, t)), field(SettingsText.summary(r.settings[i]))]
            out += cols.joined(separator: ",") + "\n"
        }
        let m = r.totals.metrics
        out += ["total", "", String(r.totals.parameters), "", num(m.sparsity), num(m.mse), num(m.sqnrDB),
                num(m.maxAbsError), num(m.cosineSimilarity), String(r.totals.bytesOriginal),
                String(r.totals.bytesCompressed), num(r.totals.bitsPerWeight), "", ""].joined(separator: ",") + "\n"
        return out
    }
}
