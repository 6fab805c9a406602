/// Short human descriptions of settings, for tables and the workbench ("int4 g128 sym", "2:4 + int8 ch").
public enum SettingsText {
    public static func summary(_ s: LayerSettings) -> String {
        switch (prune(s.prune), quantize(s.quantize)) {
        case (nil, nil): return "none"
        case (let p?, nil): return p
        case (nil, let q?): return q
        case (let p?, let q?): return p + " + " + q
        }
    }

    public static func prune(_ p: PruneMethod) -> String? {
        switch p {
        case .none: nil
        case .threshold(let t): "|w|<" + short(t)
        case .sparsity(let s): "mag " + percent(s)
        case .globalMagnitude(let s): "global " + percent(s)
        case .nm(let n, let m): "\(n):\(m)"
        case .rows(let norm, let s): "rows \(norm.rawValue) " + percent(s)
        }
    }

    public static func quantize(_ q: QuantFormat) -> String? {
        switch q {
        case .none: return nil
        case .int(let bits, let sym, let g, let clip):
            var s = "int\(bits) " + granularity(g) + (sym ? "" : " asym")
            switch clip {
            case .minmax: break
            case .percentile(let p): s += " p" + short(p)
            case .mse: s += " mse"
            }
            return s
        case .nf4(let group): return "nf4 g\(group)"
        case .fp8(let f, let g): return (f == .e4m3 ? "e4m3 " : "e5m2 ") + granularity(g)
        case .gguf(let t): return t.name
        case .kmeans(let k): return "kmeans \(k)"
        }
    }

    public static func granularity(_ g: Granularity) -> String {
        switch g {
        case .tensor: "tensor"
        case .channel: "ch"
        case .group(let n): "g\(n)"
        }
    }

    static func percent(_ s: Double) -> String {
        let p = s * 100
        return (p == p.rounded() ? String(Int(p)) : short(p)) + "%"
    }

    static func short(_ d: Double) -> String {
        var s = "\(d)"
        if s.hasSuffix(".0") { s.removeLast(2) }
        return s
    }
}
