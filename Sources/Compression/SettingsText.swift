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

    /// The codec's short label; nil for no quantization.
    public static func quantize(_ q: QuantFormat) -> String? {
        q.codec?.label
    }

    public static func granularity(_ g: Granularity) -> String { g.shortName }

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
