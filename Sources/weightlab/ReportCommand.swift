import ArgumentParser
import Compression
import Foundation
import WeightFormats
import Workbench

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a compression plan headlessly: per-layer and total sparsity, error and size.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, json, csv }

    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory.")
    var model: String

    @Option(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(help: "table, json or csv.")
    var format: OutputFormat = .table

    func run() throws {
        let evaluation: PlanEvaluation
        do {
            let showProgress = isatty(2) == 1
            evaluation = try PlanEvaluation(modelPath: model, planPath: plan, progress: { done, total in
                guard showProgress else { return }
                FileHandle.standardError.write(Data("\rweightlab: evaluating layer \(done)/\(total)\u{1b}[K".utf8))
            })
            if showProgress { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
        } catch {
            Failure.exit(error)
        }
        switch format {
        case .table: print(ReportOutput.table(evaluation), terminator: "")
        case .json: print(ReportOutput.json(evaluation).text())
        case .csv: print(ReportOutput.csv(evaluation), terminator: "")
        }
    }
}

enum ReportOutput {
    static func table(_ r: PlanEvaluation) -> String {
        let header = ["name", "shape", "params", "settings", "sparsity", "SQNR dB", "max err", "cosine",
                      "bytes", "compressed", "bits/w", "encoding"]
        var rows: [[String]] = []
        for (i, t) in r.model.tensors.enumerated() {
            let n = r.layers[i], m = n.metrics
            rows.append([
                DisplayText.escaped(t.name), InspectOutput.shapeText(t.shape), TableFormat.count(t.parameters),
                SettingsText.summary(r.settings[i]),
                n.sparsity.map(MetricText.sparsity) ?? "-",
                n.sqnr.map(MetricText.sqnr) ?? "-",
                m.map { MetricText.maxError($0.maxAbsError) } ?? "-",
                m.map { MetricText.cosine($0.cosineSimilarity) } ?? "-",
                Workbench.Format.bytes(t.byteCount),
                Workbench.Format.bytes(n.bytes ?? t.byteCount),
                String(format: "%.3f", n.bitsPerWeight ?? t.dtype.storedBitsPerWeight),
                encoding(n, t),
            ])
        }
        let m = r.totals.metrics
        let footer = ["total (\(r.model.tensors.count) tensors)", "", TableFormat.count(r.totals.parameters), "",
                      MetricText.sparsity(m.sparsity), MetricText.sqnr(m.sqnrDB), MetricText.maxError(m.maxAbsError),
                      MetricText.cosine(m.cosineSimilarity), Workbench.Format.bytes(r.totals.bytesOriginal),
                      Workbench.Format.bytes(r.totals.bytesCompressed), String(format: "%.3f", r.totals.bitsPerWeight),
                      String(format: "%.2fx smaller", r.totals.compressionRatio)]
        return "\(DisplayText.escaped(r.model.path))\n\n"
            + TextTable.render(header: header, rows: rows, footer: footer, rightAligned: [2, 4, 5, 6, 7, 8, 9, 10])
    }

    /// The assumed encoding of an evaluated layer; a tensor stored as is says so with its dtype.
    static func encoding(_ n: LayerNumbers, _ t: Tensor) -> String {
        n.status == .exact ? n.encoding ?? "" : "not compressed (\(t.dtype))"
    }

    static func json(_ r: PlanEvaluation) -> JSONValue {
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
                o += [("bytes_original", .int(t.byteCount)), ("bytes_compressed", .int(n.bytes ?? t.byteCount)),
                      ("bits_per_weight", .number(n.bitsPerWeight ?? 0)), ("encoding", .string(encoding(n, t)))]
            } else {
                o += [("sparsity", .null), ("mse", .null), ("sqnr_db", .null), ("max_abs_error", .null),
                      ("cosine", .null), ("bytes_original", .int(t.byteCount)), ("bytes_compressed", .int(n.bytes ?? t.byteCount)),
                      ("bits_per_weight", .number(n.bitsPerWeight ?? t.dtype.storedBitsPerWeight)),
                      ("encoding", .string(encoding(n, t)))]
            }
            o.append(("settings", .string(SettingsText.summary(r.settings[i]))))
            layers.append(.object(o))
        }
        let m = r.totals.metrics
        return .object([
            ("model", .string(r.model.path)),
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
        var out = "name,shape,parameters,compressed,sparsity,mse,sqnr_db,max_abs_error,cosine,bytes_original,bytes_compressed,bits_per_weight,encoding\n"
        for (i, t) in r.model.tensors.enumerated() {
            let n = r.layers[i], m = n.metrics
            let cols = [field(DisplayText.escaped(t.name)), field(t.shape.map(String.init).joined(separator: "x")),
                        String(t.parameters), String(n.status == .exact && !r.settings[i].isIdentity),
                        num(m?.sparsity), num(m?.mse), num(m?.sqnrDB),
                        num(m?.maxAbsError), num(m?.cosineSimilarity), String(t.byteCount),
                        String(n.bytes ?? t.byteCount), num(n.bitsPerWeight ?? t.dtype.storedBitsPerWeight),
                        field(encoding(n, t))]
            out += cols.joined(separator: ",") + "\n"
        }
        let m = r.totals.metrics
        out += ["total", "", String(r.totals.parameters), "", num(m.sparsity), num(m.mse), num(m.sqnrDB),
                num(m.maxAbsError), num(m.cosineSimilarity), String(r.totals.bytesOriginal),
                String(r.totals.bytesCompressed), num(r.totals.bitsPerWeight), ""].joined(separator: ",") + "\n"
        return out
    }
}
