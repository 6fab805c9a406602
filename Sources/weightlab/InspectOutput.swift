import Compression
import Foundation
import WeightFormats
import Workbench

/// Renders `weightlab inspect` as a table or as JSON. Names and metadata are untrusted and always escaped.
enum InspectOutput {
    static func load(_ path: String, withStatistics: Bool) -> ModelInspection {
        do {
            // A progress line on stderr when it is a terminal: a large model takes a while to scan.
            let showProgress = withStatistics && isatty(2) == 1
            let progress: (@Sendable (Int, Int) -> Void)? = showProgress ? progressLine : nil
            let model = try ModelFile.open(path)
            let inspection = try ModelInspection(model, statistics: withStatistics, progress: progress)
            if showProgress { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
            for f in inspection.model.skippedFiles {
                FileHandle.standardError.write(Data("weightlab: skipped \(f)\n".utf8))
            }
            return inspection
        } catch {
            Failure.exit(error)
        }
    }

    @Sendable static func progressLine(done: Int, total: Int) {
        FileHandle.standardError.write(Data("\rweightlab: reading tensor \(done)/\(total)\u{1b}[K".utf8))
    }

    static func printTable(for path: String, withStatistics: Bool) {
        let inspection = load(path, withStatistics: withStatistics)
        print(table(inspection, withStatistics: withStatistics), terminator: "")
    }

    static func printJSON(for path: String, withStatistics: Bool) {
        let inspection = load(path, withStatistics: withStatistics)
        print(json(inspection, path: path).text())
    }

    static func table(_ inspection: ModelInspection, withStatistics: Bool) -> String {
        let model = inspection.model
        var header = ["name", "dtype", "shape", "params", "bytes"]
        if withStatistics { header += ["min", "max", "mean", "std", "absmax", "zeros", "nan", "inf"] }
        var rows: [[String]] = []
        for r in inspection.rows {
            let t = r.tensor
            var row = [DisplayText.escaped(t.name), t.dtype.description + (t.storedAs.map { " from " + $0 } ?? ""), shapeText(t.shape),
                       TableFormat.count(t.parameters), Workbench.Format.bytes(t.originalBytes)]
            if withStatistics {
                if let s = r.statistics {
                    row += statisticsCells(s)
                } else {
                    row += Array(repeating: "-", count: 8)
                }
            }
            rows.append(row)
        }
        let count = model.tensors.count
        var total = ["total (\(count) \(count == 1 ? "tensor" : "tensors"))", "", "", TableFormat.count(model.parameters),
                     Workbench.Format.bytes(model.originalBytes)]
        if withStatistics {
            let s = inspection.total
            total += s.count + s.nans + s.infinities > 0 ? statisticsCells(s) : Array(repeating: "-", count: 8)
        }
        var out = "\(DisplayText.escaped(model.path))  (\(model.format.rawValue))\n"
        for kv in model.metadata.prefix(20) {
            out += "  \(DisplayText.escaped(kv.key)) = \(TableFormat.clip(DisplayText.escaped(metadataText(kv.value)), 100))\n"
        }
        if model.metadata.count > 20 { out += "  … \(model.metadata.count - 20) more metadata keys (see --json)\n" }
        out += "\n" + TextTable.render(header: header, rows: rows, footer: total,
                                      rightAligned: Set(3..<header.count))
        return out
    }

    static func json(_ inspection: ModelInspection, path: String) -> JSONValue {
        let model = inspection.model
        var tensors: [JSONValue] = []
        for r in inspection.rows {
            let t = r.tensor
            var o: [(String, JSONValue)] = [
                ("name", .string(t.name)),
                ("dtype", .string(t.dtype.description)),
                ("shape", .array(t.shape.map { .int($0) })),
                ("parameters", .int(t.parameters)),
                ("bytes", .int(t.originalBytes)),
            ]
            if let stored = t.storedAs { o.append(("stored_as", .string(stored))) }
            if let s = r.statistics { o += statisticsJSON(s) }
            tensors.append(.object(o))
        }
        var total: [(String, JSONValue)] = [("tensors", .int(model.tensors.count)), ("parameters", .int(model.parameters)),
                                            ("bytes", .int(model.originalBytes))]
        if inspection.rows.contains(where: { $0.statistics != nil }) { total += statisticsJSON(inspection.total) }
        return .object([
            ("file", .string(path)),
            ("format", .string(model.format.rawValue)),
            ("metadata", .object(model.metadata.map { ($0.key, metadataJSON($0.value)) })),
            ("tensors", .array(tensors)),
            ("total", .object(total)),
        ])
    }

    /// min, max, mean, std and absmax describe the finite values: with none (an all-NaN tensor) they are
    /// undefined, shown as "-", not 0.
    static func statisticsCells(_ s: Statistics) -> [String] {
        let defined = s.count > 0
        func v(_ d: Double) -> String { defined ? TableFormat.g(d) : "-" }
        return [v(s.min), v(s.max), v(s.mean), v(s.std), v(s.absmax),
                TableFormat.percent(s.zeroFraction), String(s.nans), String(s.infinities)]
    }

    /// As `statisticsCells`, with `null` for the undefined values and the count of finite values they describe.
    static func statisticsJSON(_ s: Statistics) -> [(String, JSONValue)] {
        let defined = s.count > 0
        func v(_ d: Double) -> JSONValue { defined ? .number(d) : .null }
        return [("min", v(s.min)), ("max", v(s.max)), ("mean", v(s.mean)), ("std", v(s.std)), ("absmax", v(s.absmax)),
                ("zero_fraction", .number(s.zeroFraction)), ("finite", .int(s.count)), ("nan", .int(s.nans)),
                ("inf", .int(s.infinities))]
    }

    static func shapeText(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }

    static func metadataJSON(_ v: MetadataValue) -> JSONValue {
        switch v {
        case .string(let s): .string(s)
        case .int(let i): .int(Int(i))
        case .uint(let u): u <= UInt64(Int.max) ? .int(Int(u)) : .double(Double(u))
        case .float(let d): .number(d)
        case .bool(let b): .bool(b)
        case .array(let a): .array(a.map(metadataJSON))
        }
    }

    static func metadataText(_ v: MetadataValue) -> String {
        switch v {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .float(let d): return TableFormat.g(d)
        case .bool(let b): return String(b)
        case .array(let a):
            let head = a.prefix(8).map(metadataText).joined(separator: ", ")
            return "[" + head + (a.count > 8 ? ", … (\(a.count) items)" : "") + "]"
        }
    }
}
