import Foundation

/// Number spellings shared by every view, short enough for table cells.
public enum Format {
    /// Bytes in binary units: `812 B`, `4.0 KiB`, `1.23 MiB`, `12.5 GiB`.
    public static func bytes(_ n: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(n), u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(n) B" }
        return (v >= 100 ? fixed(v, 0) : v >= 10 ? fixed(v, 1) : fixed(v, 2)) + " " + units[u]
    }

    /// A change in bytes against a snapshot: `+1.20 KiB`, `−512 B`, `0`.
    public static func bytesDelta(_ d: Int) -> String {
        d == 0 ? "0" : (d > 0 ? "+" : "−") + bytes(abs(d))
    }

    /// A change in SQNR against a snapshot, in dB: `+1.2`, `−3.4`, `0`; `—` when either side is exact or
    /// unknown (no finite difference).
    public static func sqnrDelta(_ now: Double?, _ before: Double?) -> String {
        guard let now, let before else { return "…" }
        if now.isInfinite && before.isInfinite { return "0" }
        guard now.isFinite && before.isFinite else { return now.isInfinite ? "exact" : "—" }
        let d = now - before
        return abs(d) < 0.05 ? "0" : (d > 0 ? "+" : "−") + fixed(abs(d), 1)
    }

    /// Parameter counts: `768`, `12.3K`, `4.19M`, `7.24B`.
    public static func count(_ n: Int) -> String {
        let units = ["", "K", "M", "B", "T"]
        var v = Double(n), u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        if u == 0 { return "\(n)" }
        return (v >= 100 ? fixed(v, 0) : v >= 10 ? fixed(v, 1) : fixed(v, 2)) + units[u]
    }

    public static func percent(_ f: Double) -> String { fixed(f * 100, 1) + "%" }

    /// SQNR in dB: `41.2`, `exact` for +∞, `-∞` when all the signal is lost.
    public static func sqnr(_ db: Double) -> String {
        if db == .infinity { return "exact" }
        if db == -.infinity { return "-∞" }
        return fixed(db, 1)
    }

    public static func fixed(_ v: Double, _ digits: Int) -> String {
        guard v.isFinite else { return v.isNaN ? "nan" : (v > 0 ? "inf" : "-inf") }
        let s = String(format: "%.\(digits)f", v)
        return s == "-0" || s.hasPrefix("-0.") && Double(s) == 0 ? String(s.dropFirst()) : s
    }

    /// A value on an axis or in a statistic: 3 significant digits, `-0.125`, `0.00312`, `1.2e-05`.
    public static func value(_ v: Double) -> String {
        guard v.isFinite else { return fixed(v, 0) }
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e-3 && a < 1e4 {
            let digits = max(0, 2 - Int(floor(log10(a))))
            var s = String(format: "%.\(digits)f", v)
            if s.contains(".") {
                while s.hasSuffix("0") { s.removeLast() }
                if s.hasSuffix(".") { s.removeLast() }
            }
            return s
        }
        return String(format: "%.2g", v)
    }

    /// A shape as `[4096, 4096]`, `[]` for a scalar.
    public static func shape(_ dims: [Int]) -> String { "[" + dims.map(String.init).joined(separator: ",") + "]" }
}
