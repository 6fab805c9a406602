/// A 64-bit digest of a run of Float bit patterns, so `apply` can check a written tensor against the engine's
/// reconstruction without holding or recomputing the reconstruction: the write pass keeps the digest of each
/// piece's reconstruction, the verification pass compares it with the digest of the values the reader
/// decodes from the reopened file.
///
/// Four lanes each take every fourth pair of values (a 64-bit word) as `h = rotl((h ^ w) · P, 31)`, a
/// bijection of `h` for a fixed word and of the word for a fixed `h`; the lanes are then combined with
/// rotations and xor. So a run that differs from another in one value (or in several values of one word)
/// always gives a different digest; unrelated runs collide with a chance of about 2⁻⁶⁴. The count is part
/// of the digest. Bit patterns are compared, so −0 differs from +0 and NaN payloads count, as in the
/// element-by-element check.
enum ValueDigest {
    private static let prime: UInt64 = 0x9E37_79B9_7F4A_7C15

    @inline(__always)
    private static func step(_ h: UInt64, _ w: UInt64) -> UInt64 {
        let m = (h ^ w) &* prime
        return (m << 31) | (m >> 33)
    }

    @inline(__always)
    private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    static func of(_ values: UnsafeBufferPointer<Float>) -> UInt64 {
        let n = values.count
        var h0: UInt64 = 0x243F_6A88_85A3_08D3, h1: UInt64 = 0x1319_8A2E_0370_7344
        var h2: UInt64 = 0xA409_3822_299F_31D0, h3: UInt64 = 0x082E_FA98_EC4E_6C89
        var tail: UInt64 = 0x4528_21E6_38D0_1377
        var k = 0
        if let base = values.baseAddress {
            let raw = UnsafeRawPointer(base)
            while k + 8 <= n {
                h0 = step(h0, raw.loadUnaligned(fromByteOffset: 4 * k, as: UInt64.self))
                h1 = step(h1, raw.loadUnaligned(fromByteOffset: 4 * k + 8, as: UInt64.self))
                h2 = step(h2, raw.loadUnaligned(fromByteOffset: 4 * k + 16, as: UInt64.self))
                h3 = step(h3, raw.loadUnaligned(fromByteOffset: 4 * k + 24, as: UInt64.self))
                k += 8
            }
            while k < n {
                tail = step(tail, UInt64(base[k].bitPattern))
                k += 1
            }
        }
        return h0 ^ rotl(h1, 16) ^ rotl(h2, 32) ^ rotl(h3, 48) ^ step(tail, UInt64(n))
    }
}

/// What the write pass kept of one piece of a tensor for its verification: where the piece starts (an
/// element index), how many values, the digest of the engine's reconstruction (rounded as the stored dtype
/// rounds it), and the engine's evaluation of the piece (the numbers `report` prints).
struct PieceCheck: Sendable {
    let start: Int
    let count: Int
    let digest: UInt64
    let evaluation: LayerEvaluation
}
