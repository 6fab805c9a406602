/// Plain-text tables for command output: columns padded to their widest cell, a rule under the header
/// and above the footer.
enum TextTable {
    static func render(header: [String], rows: [[String]], footer: [String]?, rightAligned: Set<Int>) -> String {
        let all = [header] + rows + (footer.map { [$0] } ?? [])
        var widths = [Int](repeating: 0, count: header.count)
        for r in all { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
        func line(_ r: [String]) -> String {
            var parts: [String] = []
            for (i, c) in r.enumerated() where i < widths.count {
                let pad = String(repeating: " ", count: widths[i] - c.count)
                parts.append(rightAligned.contains(i) ? pad + c : c + pad)
            }
            var s = parts.joined(separator: "  ")
            while s.last == " " { s.removeLast() }
            return s + "\n"
        }
        let rule = String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n"
        var out = line(header) + rule
        for r in rows { out += line(r) }
        if let footer { out += rule + line(footer) }
        return out
    }
}

/// Exact numbers for command output (the workbench's `Format` is for short table cells; bytes come from it).
enum TableFormat {
    static func g(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == 0 { return "0" }   // not "-0"
        return String(format: "%.6g", d)
    }

    static func percent(_ f: Double) -> String { String(format: "%.2f%%", f * 100) }

    static func count(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out += "," }
            out.append(ch)
        }
        return out
    }

    static func clip(_ s: String, _ n: Int) -> String { s.count <= n ? s : String(s.prefix(n - 1)) + "…" }
}
