/// The ggml IQ ("importance") block types: IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S (grid
/// lookups with sign patterns) and IQ4_NL, IQ4_XS (a 16-value non-linear table). Each function decodes
/// `blocks` consecutive blocks from `src` into `dst` with gguf-py's arithmetic, so results match
/// `gguf.quants.dequantize` bit for bit: the row scale is computed in Float exactly as gguf-py orders it
/// (`d · (0.5 + s) · 0.25`, `d · (1 + 2s)`, …), then each element is `(scale · grid) · sign` or, for IQ1,
/// `scale · (grid + delta)`. The tables come from `GGMLGrids` (generated from gguf-py).
enum IQuantBlocks {
    /// Writes one grid row of 8 magnitudes: element k is `(scale · byte k of row) · ±1`, negative when bit k of
    /// `signs` is set. The sign is a multiply by ±1 (built from bits, no branch), as in gguf-py, so a NaN
    /// scale comes out with the same bits.
    @inline(__always)
    static func signedRow(_ out: UnsafeMutablePointer<Float>, _ scale: Float, _ row: UInt64, _ signs: UInt8) {
        for k in 0..<8 {
            let g = Float(UInt8(truncatingIfNeeded: row &>> UInt64(8 * k)))
            let s = Float(bitPattern: 0x3F80_0000 | UInt32((signs >> UInt8(k)) & 1) << 31)
            out[k] = scale * g * s
        }
    }

    /// Writes one IQ1 grid row of 8 values −1, 0, 1 (int8 bytes): element k is `scale · (value + delta)`.
    @inline(__always)
    static func deltaRow(_ out: UnsafeMutablePointer<Float>, _ scale: Float, _ row: UInt64, _ delta: Float) {
        for k in 0..<8 {
            let g = Float(Int8(truncatingIfNeeded: row &>> UInt64(8 * k)))
            out[k] = scale * (g + delta)
        }
    }

    @inline(__always)
    static func u16(_ p: UnsafeRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    static func u32(_ p: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// 66 bytes: `f16 d`, then 8 × (u32 grid bytes, u32 aux). aux's top 4 bits are the scale s, its low 28 bits
    /// four 7-bit `ksigns` indices; each grid byte picks a row of `iq2xxs`. Scale `d · (0.5 + s) · 0.25`.
    static func iq2_XXS(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq2xxs.withUnsafeBufferPointer { grid in
            GGMLGrids.ksigns.withUnsafeBufferPointer { ksigns in
                for n in 0..<blocks {
                    let b = src + n * 66, o = dst + n * 256
                    let d = loadHalf(b, 0)
                    for ib in 0..<8 {
                        let idx = u32(b, 2 + 8 * ib), aux = u32(b, 6 + 8 * ib)
                        let db = d * (0.5 + Float(aux >> 28)) * 0.25
                        for l in 0..<4 {
                            let row = grid[Int((idx >> UInt32(8 * l)) & 0xFF)]
                            let signs = ksigns[Int((aux >> UInt32(7 * l)) & 0x7F)]
                            signedRow(o + ib * 32 + l * 8, db, row, signs)
                        }
                    }
                }
            }
        }
    }

    /// 74 bytes: `f16 d`, `u16 qs[32]` (9-bit `iq2xs` row, 7-bit `ksigns` index), `u8 scales[8]` (two 4-bit
    /// scales each, one per 16 elements). Scale `d · (0.5 + s) · 0.25`.
    static func iq2_XS(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq2xs.withUnsafeBufferPointer { grid in
            GGMLGrids.ksigns.withUnsafeBufferPointer { ksigns in
                for n in 0..<blocks {
                    let b = src + n * 74, o = dst + n * 256
                    let d = loadHalf(b, 0)
                    let scales = (b + 66).assumingMemoryBound(to: UInt8.self)
                    for p in 0..<16 {
                        let s = (scales[p >> 1] >> UInt8(4 * (p & 1))) & 0x0F
                        let db = d * (0.5 + Float(s)) * 0.25
                        let q0 = u16(b, 2 + 4 * p), q1 = u16(b, 4 + 4 * p)
                        signedRow(o + 16 * p, db, grid[Int(q0 & 511)], ksigns[Int(q0 >> 9)])
                        signedRow(o + 16 * p + 8, db, grid[Int(q1 & 511)], ksigns[Int(q1 >> 9)])
                    }
                }
            }
        }
    }

    /// 82 bytes: `f16 d`, `u8 qs[32]` (low 8 bits of an `iq2s` row), `u8 signs[32]` (one sign bit per element),
    /// `u8 qh[8]` (2 high row bits each for 4 rows), `u8 scales[8]` (4-bit, one per 16 elements).
    /// Scale `d · (0.5 + s) · 0.25`.
    static func iq2_S(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq2s.withUnsafeBufferPointer { grid in
            for n in 0..<blocks {
                let b = src + n * 82, o = dst + n * 256
                let d = loadHalf(b, 0)
                let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
                let signs = qs + 32, qh = qs + 64, scales = qs + 72
                for p in 0..<16 {
                    let s = (scales[p >> 1] >> UInt8(4 * (p & 1))) & 0x0F
                    let db = d * (0.5 + Float(s)) * 0.25
                    for i in 2 * p..<2 * p + 2 {
                        let high = Int((qh[i >> 2] >> UInt8(2 * (i & 3))) & 3)
                        signedRow(o + 8 * i, db, grid[Int(qs[i]) | high << 8], signs[i])
                    }
                }
            }
        }
    }

    /// 98 bytes: `f16 d`, `u8 qs[64]` (`iq3xxs` rows of 4), `u32 aux[8]` (per 32 elements: 4-bit scale s on
    /// top, four 7-bit `ksigns` indices below). Scale `d · (0.5 + s) · 0.5`.
    static func iq3_XXS(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq3xxs.withUnsafeBufferPointer { grid in
            GGMLGrids.ksigns.withUnsafeBufferPointer { ksigns in
                for n in 0..<blocks {
                    let b = src + n * 98, o = dst + n * 256
                    let d = loadHalf(b, 0)
                    let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
                    for ib in 0..<8 {
                        let aux = u32(b, 66 + 4 * ib)
                        let db = d * (0.5 + Float(aux >> 28)) * 0.5
                        for l in 0..<4 {
                            let q = qs + ib * 8 + l * 2
                            let row = UInt64(grid[Int(q[0])]) | UInt64(grid[Int(q[1])]) << 32
                            signedRow(o + ib * 32 + l * 8, db, row, ksigns[Int((aux >> UInt32(7 * l)) & 0x7F)])
                        }
                    }
                }
            }
        }
    }

    /// 110 bytes: `f16 d`, `u8 qs[64]` (low 8 bits of an `iq3s` row of 4), `u8 qh[8]` (the ninth bit, one per
    /// row), `u8 signs[32]` (one bit per element), `u8 scales[4]` (4-bit, one per 32 elements). Scale `d · (1 + 2s)`.
    static func iq3_S(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq3s.withUnsafeBufferPointer { grid in
            for n in 0..<blocks {
                let b = src + n * 110, o = dst + n * 256
                let d = loadHalf(b, 0)
                let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
                let qh = qs + 64, signs = qs + 72, scales = qs + 104
                for ib in 0..<8 {
                    let s = (scales[ib >> 1] >> UInt8(4 * (ib & 1))) & 0x0F
                    let db = d * Float(1 + 2 * s)
                    for l in 0..<4 {
                        let g = ib * 4 + l, i0 = 2 * g, i1 = 2 * g + 1
                        let r0 = grid[Int(qs[i0]) | Int((qh[i0 >> 3] >> UInt8(i0 & 7)) & 1) << 8]
                        let r1 = grid[Int(qs[i1]) | Int((qh[i1 >> 3] >> UInt8(i1 & 7)) & 1) << 8]
                        signedRow(o + 8 * g, db, UInt64(r0) | UInt64(r1) << 32, signs[g])
                    }
                }
            }
        }
    }

    /// 50 bytes: `f16 d`, `u8 qs[32]` (low 8 bits of an `iq1s` row), `u16 qh[8]` (per 32 elements: 4 × 3 high
    /// row bits, a 3-bit scale s, the delta's sign on top). x = `d · (2s + 1)` · (grid ± 0.125).
    static func iq1_S(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq1s.withUnsafeBufferPointer { grid in
            for n in 0..<blocks {
                let b = src + n * 50, o = dst + n * 256
                let d = loadHalf(b, 0)
                let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
                for ib in 0..<8 {
                    let h = u16(b, 34 + 2 * ib)
                    let dl = d * Float(2 * ((h >> 12) & 7) + 1)
                    let delta: Float = h & 0x8000 == 0 ? 0.125 : -0.125
                    for l in 0..<4 {
                        let row = grid[Int(qs[ib * 4 + l]) | Int((h >> UInt16(3 * l)) & 7) << 8]
                        deltaRow(o + ib * 32 + l * 8, dl, row, delta)
                    }
                }
            }
        }
    }

    /// 56 bytes: `u8 qs[32]` (low 8 bits of an `iq1s` row), `u8 qh[16]` (a nibble per row: 3 high row bits, the
    /// delta's sign), `u16 scales[4]` (16 3-bit scales, one per 16 elements; the four top nibbles together are
    /// the f16 d). x = `d · (2s + 1)` · (grid ± 0.125).
    static func iq1_M(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq1s.withUnsafeBufferPointer { grid in
            for n in 0..<blocks {
                let b = src + n * 56, o = dst + n * 256
                let qs = b.assumingMemoryBound(to: UInt8.self)
                let qh = qs + 32
                let sc = (u16(b, 48), u16(b, 50), u16(b, 52), u16(b, 54))
                let dBits = (sc.0 & 0xF000) >> 12 | (sc.1 & 0xF000) >> 8 | (sc.2 & 0xF000) >> 4 | (sc.3 & 0xF000)
                let d = Float(Float16(bitPattern: dBits))
                for i in 0..<32 {
                    let s = i >> 1
                    let word = s < 8 ? (s < 4 ? sc.0 : sc.1) : (s < 12 ? sc.2 : sc.3)
                    let dl = d * Float(2 * ((word >> UInt16(3 * (s & 3))) & 7) + 1)
                    let nibble = (qh[i >> 1] >> UInt8(4 * (i & 1))) & 0x0F
                    let delta: Float = nibble & 8 == 0 ? 0.125 : -0.125
                    deltaRow(o + 8 * i, dl, grid[Int(qs[i]) | Int(nibble & 7) << 8], delta)
                }
            }
        }
    }

    /// 18 bytes, 32 elements: `f16 d`, `u8 qs[16]`; element j is the low nibble of qs[j], element j+16 the high
    /// nibble, each an index into `iq4nl`. x = d · value.
    static func iq4_NL(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq4nl.withUnsafeBufferPointer { kv in
            for n in 0..<blocks {
                let b = src + n * 18, o = dst + n * 32
                let d = loadHalf(b, 0)
                let qs = (b + 2).assumingMemoryBound(to: UInt8.self)
                for j in 0..<16 {
                    o[j] = d * Float(kv[Int(qs[j] & 0x0F)])
                    o[j + 16] = d * Float(kv[Int(qs[j] >> 4)])
                }
            }
        }
    }

    /// 136 bytes: `f16 d`, `u16 scales_h` (2 high bits per 32 elements), `u8 scales_l[4]` (4 low bits each),
    /// `u8 qs[128]` (IQ4_NL's nibble layout per 32 elements). Scale `d · (s − 32)`; x = scale · value.
    static func iq4_XS(_ blocks: Int, _ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>) {
        GGMLGrids.iq4nl.withUnsafeBufferPointer { kv in
            for n in 0..<blocks {
                let b = src + n * 136, o = dst + n * 256
                let d = loadHalf(b, 0)
                let high = u16(b, 2)
                let low = (b + 4).assumingMemoryBound(to: UInt8.self)
                let qs = low + 4
                for ib in 0..<8 {
                    let l = (low[ib >> 1] >> UInt8(4 * (ib & 1))) & 0x0F
                    let h = UInt8(truncatingIfNeeded: high >> UInt16(2 * ib)) & 3
                    let dl = d * Float(Int32(l | h << 4) - 32)
                    let q = qs + ib * 16, out = o + ib * 32
                    for j in 0..<16 {
                        out[j] = dl * Float(kv[Int(q[j] & 0x0F)])
                        out[j + 16] = dl * Float(kv[Int(q[j] >> 4)])
                    }
                }
            }
        }
    }
}
