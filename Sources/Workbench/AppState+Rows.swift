/// The layer table's rows: which layers pass the filter, in which order. The reducer navigates and the view
/// draws the same list.
extension AppState {
    /// Indices of the layers shown, filtered and sorted (ties keep file order; layers without a number sort
    /// last in either direction). The filter is a regular expression in a plan's syntax, searched in the
    /// name without regard to case; text that is not (yet) a valid expression is matched as plain text.
    public var visibleLayers: [Int] {
        let shown = records.indices.filter(filterMatcher())
        guard sort != .file else { return sortDescending ? shown.reversed() : shown }
        if let frozen = sortOrder, frozen.count == records.count {
            let keep = Set(shown)
            return frozen.filter { keep.contains($0) }
        }
        return liveOrder(shown)
    }

    /// Whether a layer's name passes the filter.
    func filterMatcher() -> (Int) -> Bool {
        guard !filter.isEmpty else { return { _ in true } }
        if let regex = try? Regex(filter).ignoresCase() {
            return { records[$0].tensor.name.contains(regex) }
        }
        let needle = filter.lowercased()
        return { records[$0].tensor.name.lowercased().contains(needle) }
    }

    /// `shown` in the current sort by the numbers as they are now.
    func liveOrder(_ shown: [Int]) -> [Int] {
        if sort == .name {
            return shown.sorted { a, b in
                let x = records[a].tensor.name.lowercased(), y = records[b].tensor.name.lowercased()
                return x == y ? a < b : (sortDescending ? x > y : x < y)
            }
        }
        let keys: [Int: Double] = Dictionary(uniqueKeysWithValues: shown.compactMap { i in
            sortKey(i).map { (i, $0) }
        })
        return shown.sorted { a, b in
            switch (keys[a], keys[b]) {
            case (nil, nil): return a < b
            case (nil, _): return false
            case (_, nil): return true
            case (let x?, let y?): return x == y ? a < b : (sortDescending ? x > y : x < y)
            }
        }
    }

    func sortKey(_ i: Int) -> Double? {
        switch sort {
        case .file, .name: return Double(i)
        case .params: return Double(records[i].tensor.parameters)
        case .bits: return records[i].numbers.bitsPerWeight
        case .sparsity: return records[i].numbers.pruned
        case .sqnr: return records[i].numbers.sqnr
        case .size: return records[i].numbers.bytes.map(Double.init)
        case .kurtosis: return records[i].analysis?.statistics.kurtosis
        case .errorShare: return records[i].numbers.errorShare(of: totals.totals)
        case .sensitivity: return records[i].numbers.sensitivity(originalBytes: records[i].tensor.bytes)
        }
    }
}
