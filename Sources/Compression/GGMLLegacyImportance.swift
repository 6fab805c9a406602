/// ggml's importance-weighted quantizers of the 32-value types (`quantize_row_q4_0_impl`, `_q4_1_impl`,
/// `_q5_0_impl`, `_q5_1_impl`): unlike the K-quants, σ² is the mean of x² over the whole row, so they take a
/// row. Weights are `qw·sqrt(σ² + x²)`; Q4_0 / Q5_0 search a symmetric scale (`make_qx_quants`), Q4_1 / Q5_1 a
/// scale and minimum (`make_qkx3_quants`, 37 trial scales). Q8_0 has no such path: ggml ignores the weights.
enum GGMLLegacyImportance {
    typealias Search = GGMLScaleSearch

    /// Quantizes one row of `type` (Q4_0, Q4_1, Q5_0 or Q5_1) with importance `qw` (one per column).
    static func row(_ x: UnsafePointer<Float>, _ qw: UnsafePointer<Float>, count n: Int, nmax: Int32, asymmetric: Bool,
                    into o: UnsafeMutableRawPointer) {
        var sumX2: Float = 0
        for j in 0..<n { sumX2 += x[j] * x[j] }
        let sigma2 = sumX2 / Float(n)
        let fiveBit = nmax > 15
        let blockBytes = (asymmetric ? 4 : 2) + (fiveBit ? 4 : 0) + 16
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 64) { bytes in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: 32) { weight in
                let L = bytes.baseAddress!, Laux = L + 32, w = weight.baseAddress!
                for ib in 0..<(n / 32) {
                    let xb = x + 32 * ib, q = qw + 32 * ib, out = o + blockBytes * ib
                    for j in 0..<32 { w[j] = q[j] * (sigma2 + xb[j] * xb[j]).squareRoot() }
                    var header = 2
                    if asymmetric {
                        var theMin: Float = 0
                        let d = Search.asymmetric(32, nmax, xb, w, L, &theMin, Laux, rmin: -0.9, rdelta: 0.05, nstep: 36, mad: false)
                        out.storeBytes(of: Float16(d).bitPattern.littleEndian, toByteOffset: 0, as: UInt16.self)
                        out.storeBytes(of: Float16(-theMin).bitPattern.littleEndian, toByteOffset: 2, as: UInt16.self)
                        header = 4
                    } else {
                        let d = Search.symmetric(32, nmax, xb, UnsafeMutableRawPointer(L).assumingMemoryBound(to: Int8.self), w)
                        out.storeBytes(of: Float16(d).bitPattern.littleEndian, toByteOffset: 0, as: UInt16.self)
                    }
                    if fiveBit {
                        var qh: UInt32 = 0
                        for j in 0..<16 {
                            let a = L[j], b = L[j + 16]
                            out.storeBytes(of: (a & 0x0F) | (b & 0x0F) << 4, toByteOffset: header + 4 + j, as: UInt8.self)
                            qh |= UInt32((a & 0x10) >> 4) << UInt32(j) | UInt32((b & 0x10) >> 4) << UInt32(j + 16)
                        }
                        out.storeBytes(of: qh.littleEndian, toByteOffset: header, as: UInt32.self)
                    } else {
                        for j in 0..<16 { out.storeBytes(of: L[j] | L[j + 16] << 4, toByteOffset: header + j, as: UInt8.self) }
                    }
                }
            }
        }
    }
}
