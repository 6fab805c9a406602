/// TFMOT's pruning wrapper (`prune_low_magnitude_<layer>`, tensorflow/model-optimization
/// `pruning_wrapper.py`) keeps, when a model is saved without `strip_pruning`, a `mask` variable (and a
/// `threshold` and `pruning_step`) beside each pruned weight; the weight itself stays dense. What the model
/// computes with is weight × mask, so that is the tensor shown: its zeros are the pruning. The mask is folded
/// into it and not listed again; threshold and pruning_step stay listed as they are.
enum PruningMasks {
    /// `weights` of one layer, in order, with every mask applied to the weight it belongs to: a mask named
    /// `mask` (or `mask_<n>`) to the first unmasked floating weight of the same shape (a `kernel` first), a mask
    /// named `<w>_mask` to `<w>`.
    static func apply(_ weights: [Tensor]) throws -> [Tensor] {
        func base(_ t: Tensor) -> String {
            let last = t.name.split(separator: "/").last.map(String.init) ?? t.name
            return last.hasSuffix(":0") ? String(last.dropLast(2)) : last
        }
        func isMask(_ b: String) -> Bool {
            b == "mask" || b.hasSuffix("_mask") || (b.hasPrefix("mask_") && Int(b.dropFirst(5)) != nil)
        }
        var out = weights
        var masked = Set<Int>()
        var dropped = Set<Int>()
        for (m, mask) in weights.enumerated() where isMask(base(mask)) && mask.isFloating {
            let b = base(mask)
            let candidates = weights.indices.filter { i in
                i != m && !masked.contains(i) && !isMask(base(weights[i])) && weights[i].isFloating && weights[i].shape == mask.shape
            }
            let target: Int?
            if b.hasSuffix("_mask") && b != "mask" {
                let name = String(b.dropLast(5))
                target = candidates.first { base(weights[$0]) == name }
            } else {
                target = candidates.first { base(weights[$0]) == "kernel" } ?? candidates.first
            }
            guard let t = target else { continue }
            let weight = weights[t]
            let source = ComputedFloatSource(path: weight.data.path, count: weight.parameters) { range, out in
                var w = [Float](repeating: 0, count: range.count), k = [Float](repeating: 0, count: range.count)
                try w.withUnsafeMutableBufferPointer { try weight.decode(range, into: $0) }
                try k.withUnsafeMutableBufferPointer { try mask.decode(range, into: $0) }
                for i in 0..<range.count { out[i] = w[i] * k[i] }
            }
            var shown = try Tensor(name: weight.name, dtype: .float32, shape: weight.shape, data: source)
            shown.storedAs = "\(weight.dtype) × TFMOT pruning mask"
            out[t] = shown
            masked.insert(t)
            dropped.insert(m)
        }
        return out.enumerated().filter { !dropped.contains($0.offset) }.map(\.element)
    }
}
