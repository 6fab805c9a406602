/// A pruned weight as the model computes it, `weight_orig * weight_mask` (torch/nn/utils/prune.py): the
/// stored bytes of `orig` where the mask is non-zero and zero where it is zero (+0 in every float type).
/// Both are read on each read; nothing is kept.
final class MaskedSource: ByteSource, @unchecked Sendable {
    let orig: Tensor
    let mask: Tensor
    var size: UInt64 { UInt64(orig.byteCount) }
    var path: String { orig.data.path }

    /// The caller has checked that both have the same shape and `orig` has a plain (block size 1) dtype.
    init(orig: Tensor, mask: Tensor) {
        self.orig = orig
        self.mask = mask
    }

    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        let width = orig.dtype.blockBytes
        try ElementRangeRead.read(at: offset, into: buffer, size: size, elementBytes: width, path: path) { first, n, out in
            try orig.data.read(at: UInt64(first * width), into: out)
            var keep = [Float](repeating: 0, count: n)
            try keep.withUnsafeMutableBufferPointer { try mask.decode(first..<(first + n), into: $0) }
            for k in 0..<n where keep[k] == 0 {
                for b in 0..<width { out[k * width + b] = 0 }
            }
        }
    }
}
