import WeightFormats

/// Every value one K-quant or IQ4 block can represent (its bytes decoded for every code), for drawing the
/// levels of the block with the widest range. The formulas are the decoders' (ggml-common.h layouts).
enum GGMLBlockValues {
    static func half(_ b: [UInt8], _ offset: Int) -> Double { GGMLBlockCodec.half(b, offset) }

    /// Q2_K: per 16-value sub-block j, `d·(sc&15)·q − dmin·(sc>>4)`, q in 0...3.
    static func q2K(_ b: [UInt8]) -> [Double] {
        let d = half(b, 80), dmin = half(b, 82)
        return (0..<16).flatMap { j in
            (0...3).map { q in d * Double(b[j] & 0xF) * Double(q) - dmin * Double(b[j] >> 4) }
        }
    }

    /// Q3_K: `d·(sc−32)·(q−4)`, q in 0...7, sc the 6-bit scale of sub-block j.
    static func q3K(_ b: [UInt8]) -> [Double] {
        let d = half(b, 108)
        return (0..<16).flatMap { j -> [Double] in
            let low = j < 8 ? b[96 + j] & 0xF : b[96 + j - 8] >> 4
            let sc = Int(low | ((b[96 + 8 + j % 4] >> (2 * (j / 4))) & 3) << 4) - 32
            return (0...7).map { q in d * Double(sc) * Double(q - 4) }
        }
    }

    /// The 6-bit scale and minimum of sub-block j of Q4_K / Q5_K (`get_scale_min_k4`).
    static func scaleMin(_ b: [UInt8], _ j: Int) -> (Double, Double) {
        let q = Array(b[4..<16])
        if j < 4 { return (Double(q[j] & 63), Double(q[j + 4] & 63)) }
        return (Double((q[j + 4] & 0xF) | (q[j - 4] >> 6) << 4), Double((q[j + 4] >> 4) | (q[j] >> 6) << 4))
    }

    /// Q4_K (`top` 15) and Q5_K (31): `d·sc·q − dmin·m`.
    static func scaleMinK(_ b: [UInt8], top: Int) -> [Double] {
        let d = half(b, 0), dmin = half(b, 2)
        return (0..<8).flatMap { j -> [Double] in
            let (sc, m) = scaleMin(b, j)
            return (0...top).map { q in d * sc * Double(q) - dmin * m }
        }
    }

    /// Q6_K: `d·sc·(q−32)`, sc the signed byte of sub-block j.
    static func q6K(_ b: [UInt8]) -> [Double] {
        let d = half(b, 208)
        return (0..<16).flatMap { j in (0...63).map { q in d * Double(Int8(bitPattern: b[192 + j])) * Double(q - 32) } }
    }

    /// IQ4_NL: `d·kvalues[q]`.
    static func iq4NL(_ b: [UInt8]) -> [Double] {
        let d = half(b, 0)
        return GGMLGrids.iq4nl.map { d * Double($0) }
    }

    /// IQ4_XS: `d·(ls−32)·kvalues[q]` per 32-value block.
    static func iq4XS(_ b: [UInt8]) -> [Double] {
        let d = half(b, 0)
        let scalesH = Int(b[2]) | Int(b[3]) << 8
        return (0..<8).flatMap { ib -> [Double] in
            let ls = (Int(b[4 + ib / 2]) >> (4 * (ib % 2))) & 0xF | ((scalesH >> (2 * ib)) & 3) << 4
            return GGMLGrids.iq4nl.map { d * Double(ls - 32) * Double($0) }
        }
    }
}
