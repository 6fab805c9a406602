import WeightFormats

/// Finds the quantization grid worth drawing: that of the unit (tensor, row, group or block) with the widest
/// range, since its levels are the coarsest and show the scheme's resolution at its worst.
///
/// Levels are found from the values the quantizer is given; a piece of a tensor reports its widest unit with
/// labels offset by `firstRow` (rows of the last dimension before the piece).
public enum LevelFinder {
    public struct Found: Sendable, Equatable {
        public var levels: QuantizationLevels
        /// The unit's range width, to pick the widest across pieces.
        public var width: Double
    }

    public static func find(_ q: QuantFormat, values: UnsafeBufferPointer<Float>, shape: [Int],
                            firstRow: Int = 0, clustering: KMeansClustering? = nil) -> Found? {
        let layout = TensorLayout(shape: shape)
        guard layout.count > 0 else { return nil }
        switch q {
        case .none:
            return nil
        case .int(let bits, let symmetric, let g, let clip):
            let quantizer = IntegerQuantizer(bits: bits, symmetric: symmetric, granularity: g, clip: clip)
            let segments = layout.segments(g)
            let grids = quantizer.grids(values, shape: shape)
            guard let k = grids.indices.max(by: { width(grids[$0]) < width(grids[$1]) }) else { return nil }
            let grid = grids[k]
            let levels = stride(from: grid.qmin, through: grid.qmax, by: 1).map { Double(($0 - grid.zero) * grid.scale) }
            return Found(levels: QuantizationLevels(values: levels, unit: unitName(g, segment: segments[k], layout: layout, firstRow: firstRow),
                                                    clip: levels.first! ... levels.last!),
                         width: width(grid))
        case .nf4(let group):
            var best = -1.0, bestStart = 0
            var start = 0
            while start < layout.count {
                let end = min(layout.count, start + group)
                var m: Float = 0
                for i in start..<end { m = max(m, abs(values[i])) }
                if Double(m) > best { best = Double(m); bestStart = start }
                start = end
            }
            let levels = NF4Quantizer.levels.map { Double($0) * best }
            return Found(levels: QuantizationLevels(values: levels, unit: "block \(bestStart / group + firstRow * layout.rowLength / group)",
                                                    clip: -best ... best), width: 2 * best)
        case .fp8(let f, let g):
            let segments = layout.segments(g == .tensor ? .tensor : .channel)
            var best = -1.0, bestSegment = segments[0]
            for s in segments {
                var m: Float = 0
                for i in s { m = max(m, abs(values[i])) }
                if Double(m) > best { best = Double(m); bestSegment = s }
            }
            let scale = best / Double(FP8Quantizer.maxValue(f))
            let levels = fp8Values(f).map { $0 * scale }
            return Found(levels: QuantizationLevels(values: levels, unit: unitName(g == .tensor ? .tensor : .channel, segment: bestSegment, layout: layout, firstRow: firstRow),
                                                    clip: -best ... best), width: 2 * best)
        case .gguf(let t):
            guard layout.count % t.blockSize == 0 else { return nil }
            var bestBlock = 0, best = -1.0
            for b in 0..<(layout.count / t.blockSize) {
                var lo: Float = .infinity, hi: Float = -.infinity
                for i in (b * t.blockSize)..<((b + 1) * t.blockSize) { lo = min(lo, values[i]); hi = max(hi, values[i]) }
                if Double(hi - lo) > best { best = Double(hi - lo); bestBlock = b }
            }
            let block = UnsafeBufferPointer(rebasing: values[(bestBlock * t.blockSize)..<((bestBlock + 1) * t.blockSize)])
            let bytes = GGUFBlockQuantizer.quantize(block, type: t)
            let levels = ggufLevels(t, block: bytes)
            guard let lo = levels.first, let hi = levels.last else { return nil }
            return Found(levels: QuantizationLevels(values: levels, unit: "block \(bestBlock + firstRow * layout.rowLength / t.blockSize)", clip: lo ... hi),
                         width: best)
        case .kmeans:
            guard let c = clustering else { return nil }
            let levels = c.storedCentroids.map(Double.init).sorted()
            return Found(levels: QuantizationLevels(values: levels, unit: "tensor", clip: nil),
                         width: (levels.last ?? 0) - (levels.first ?? 0))
        }
    }

    static func width(_ g: IntegerGrid) -> Double { Double((g.qmax - g.qmin) * g.scale) }

    static func unitName(_ g: Granularity, segment: Range<Int>, layout: TensorLayout, firstRow: Int) -> String {
        switch g {
        case .tensor:
            return "tensor"
        case .channel:
            return "row \(firstRow + segment.lowerBound / max(1, layout.rowLength))"
        case .group:
            let run = segment.lowerBound / max(1, layout.lastDimension)
            let rowsPerDim0 = max(1, layout.rowLength / max(1, layout.lastDimension))
            let group = (segment.lowerBound % max(1, layout.lastDimension)) / max(1, segment.count)
            return "group \(group) of row \(firstRow * rowsPerDim0 + run)"
        }
    }

    /// Every finite value of an FP8 format, ascending.
    static func fp8Values(_ f: FP8Format) -> [Double] {
        let bytes = (0...255).map { UInt8($0) }
        var out = [Float](repeating: 0, count: 256)
        bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer {
                try? ElementDecoder.decode(raw, dtype: f == .e4m3 ? .float8E4M3 : .float8E5M2, byteOrder: .little,
                                           count: 256, into: $0, path: "")
            }
        }
        return Array(Set(out.filter(\.isFinite).map(Double.init))).sorted()
    }

    /// The values one block of a legacy ggml type can represent: every code decoded with the block's d (and m).
    static func ggufLevels(_ t: GGMLType, block: [UInt8]) -> [Double] {
        let d = Double(Float(Float16(bitPattern: UInt16(block[0]) | UInt16(block[1]) << 8)))
        let m = block.count > 3 ? Double(Float(Float16(bitPattern: UInt16(block[2]) | UInt16(block[3]) << 8))) : 0
        let codes: [Double]
        switch t.id {
        case GGMLType.q8_0.id: codes = (-128...127).map { Double($0) * d }
        case GGMLType.q4_0.id: codes = (0...15).map { Double($0 - 8) * d }
        case GGMLType.q4_1.id: codes = (0...15).map { Double($0) * d + m }
        case GGMLType.q5_0.id: codes = (0...31).map { Double($0 - 16) * d }
        case GGMLType.q5_1.id: codes = (0...31).map { Double($0) * d + m }
        default: codes = []
        }
        return codes.sorted()
    }
}
