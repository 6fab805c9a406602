import Compression
import Foundation

/// The error numbers as every command prints them (`report`, `compare`): one spelling per number, so equal
/// metrics always print equal text — `compare IN OUT` after `apply` shows the digits `report` showed.
enum MetricText {
    /// Column headers of the metric cells, in `cells` order.
    static let headers = ["sparsity", "MSE", "SQNR dB", "max err", "cosine"]

    static func sparsity(_ fraction: Double) -> String { TableFormat.percent(fraction) }
    static func mse(_ d: Double) -> String { TableFormat.g(d) }
    static func sqnr(_ d: Double) -> String { d.isInfinite && d > 0 ? "exact" : String(format: "%.2f", d) }
    static func maxError(_ d: Double) -> String { TableFormat.g(d) }
    static func cosine(_ d: Double) -> String { String(format: "%.6f", d) }
    /// An estimate's SQNR interval, low to high ("18.20–18.61").
    static func sqnrRange(_ r: ClosedRange<Double>) -> String { "\(sqnr(r.lowerBound))–\(sqnr(r.upperBound))" }

    /// sparsity, MSE, SQNR dB, max err, cosine.
    static func cells(_ m: ErrorMetrics) -> [String] {
        [sparsity(m.sparsity), mse(m.mse), sqnr(m.sqnrDB), maxError(m.maxAbsError), cosine(m.cosineSimilarity)]
    }

    /// The JSON fields of a metrics value, named as `report --format json` names them. JSON has no infinity
    /// or NaN, so a null `sqnr_db` comes with `sqnr_note` saying which it was.
    static func json(_ m: ErrorMetrics) -> [(String, JSONValue)] {
        [("sparsity", .number(m.sparsity)), ("mse", .number(m.mse)), ("sqnr_db", .number(m.sqnrDB))]
            + (sqnrNote(m.sqnrDB).map { [("sqnr_note", JSONValue.string($0))] } ?? [])
            + [("max_abs_error", .number(m.maxAbsError)), ("cosine", .number(m.cosineSimilarity))]
    }

    /// Why `sqnr_db` is null in JSON: the weights came back exactly, or the error is undefined because the
    /// tensor holds NaN or Inf.
    static func sqnrNote(_ d: Double) -> String? {
        if d.isInfinite && d > 0 { return "exact" }
        if !d.isFinite { return "undefined: the tensor holds NaN or Inf" }
        return nil
    }

    /// A CSV number: full precision, empty when not finite.
    static func csv(_ d: Double?) -> String { d.map { $0.isFinite ? "\($0)" : "" } ?? "" }

    /// A CSV field, quoted when it holds a comma, a quote or a newline.
    static func csvField(_ s: String) -> String {
        s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
    }
}
