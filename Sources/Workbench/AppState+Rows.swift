/// The layer table's rows: which layers pass the filter, in which order. The reducer navigates and the view
/// draws the same list.
extension AppState {
    /// Indices of the layers shown, filtered (case-insensitive substring of the name) and sorted (ties keep
    /// file order; layers without a number sort last in either direction).
    public var visibleLayers: [Int] {
        let needle = filter.lowercased()
        let shown = records.indices.filter { needle.isEmpty || records[$0].tensor.name.lowercased().contains(needle) }
        guard sort != .file else { return sortDescending ? shown.reversed() : shown }
        if let frozen = sortOrder, frozen.count == records.count {
            let keep = Set(shown)
            return frozen.filter { keep.contains($0) }
        }
        return liveOrder(shown)
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
        }
    }
}
