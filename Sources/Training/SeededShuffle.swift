import Compression

/// The sample order of each epoch: a Fisher–Yates shuffle driven by SplitMix64 (the generator k-means uses),
/// so the same seed gives the same batches on every platform and run.
public enum SeededShuffle {
    public typealias Generator = SplitMix64

    /// A permutation of 0..<count for `epoch` of a run seeded with `seed`.
    public static func order(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = Generator(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9)
        var p = Array(0..<count)
        guard count > 1 else { return p }
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(rng.next() % UInt64(i + 1))
            p.swapAt(i, j)
        }
        return p
    }

    /// Consecutive batches of `size` indices from `order` (the last one shorter when it does not divide).
    public static func batches(_ order: [Int], size: Int) -> [ArraySlice<Int>] {
        let s = max(1, size)
        return stride(from: 0, to: order.count, by: s).map { order[$0..<min(order.count, $0 + s)] }
    }
}
