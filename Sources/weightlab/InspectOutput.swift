import Compression
import Foundation
import WeightFormats
import Workbench

/// Renders `weightlab inspect` as a table or as JSON. Names and metadata are untrusted and always escaped.
enum InspectOutput {
    static func load(_ path: String, withStatistics: Bool) -> ModelInspection {
        do {
            return try ModelInspection(try ModelFile.open(path), statistics: withStatistics)
        } catch {
            Failure.exit(error)
        }
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
            var row = [DisplayText.escaped(t.name), t.dtype.description, shapeText(t.shape),
                       TableFormat.count(t.parameters), Workbench.Format.bytes(t.byteCount)]
            if withStatistics {
                if let s = r.statistics {
                    row += [TableFormat.g(s.min), TableFormat.g(s.max), TableFormat.g(s.mean), TableFormat.g(s.std), TableFormat.g(s.absmax),
                            TableFormat.percent(s.zeroFraction), String(s.nans), String(s.infinities)]
                } else {
                    row += Array(repeating: "-", count: 8)
                }
            }
            rows.append(row)
        }
        var total = ["total (\(model.tensors.count) tensors)", "", "", TableFormat.count(model.parameters),
                     Workbench.Format.bytes(model.byteCount)]
        if withStatistics {
            let s = inspection.total
            total += s.count > 0
                ? [TableFormat.g(s.min), TableFormat.g(s.max), TableFormat.g(s.mean), TableFormat.g(s.std), TableFormat.g(s.absmax),
                   TableFormat.percent(s.zeroFraction), String(s.nans), String(s.infinities)]
                : Array(repeating: "-", count: 8)
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
                ("bytes", .int(t.byteCount)),
            ]
            if let s = r.statistics {
                o += [("min", .number(s.min)), ("max", .number(s.max)), ("mean", .number(s.mean)),
                      ("std", .number(s.std)), ("absmax", .number(s.absmax)),
                      ("zero_fraction", .number(s.zeroFraction)), ("nan", .int(s.nans)), ("inf", .int(s.infinities))]
            }
            tensors.append(.object(o))
        }
        return .object([
            ("file", .string(path)),
            ("format", .string(model.format.rawValue)),
            ("metadata", .object(model.metadata.map { ($0.key, metadataJSON($0.value)) })),
            ("tensors", .array(tensors)),
            ("total", .object([("tensors", .int(model.tensors.count)), ("parameters", .int(model.parameters)),
                               ("bytes", .int(model.byteCount))])),
        ])
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
