/// Already-quantized ONNX weights found by the operators that read them, decoded to the floats the model
/// computes with and labelled with how they are stored (as GGUF's quant types are):
/// - QDQ: `DequantizeLinear(x, scale, zero_point?)` whose `x` is a stored integer (INT8, UINT8, INT16,
///   UINT16, INT32, INT4, UINT4, INT2, UINT2) or FP8 tensor; `axis` and `block_size` (opset 21) as the
///   operator's schema gives them. The weight is shown under the operator's output name (what its consumer
///   reads); the codes, scale and zero point are not listed again.
/// - com.microsoft `MatMulNBits`: `B` `[N, ceil(K/block_size), block_size·bits/8]` bytes, `scales`
///   `[N·kBlocks]`, optional packed uint8 zero points (default 2^(bits−1)); shown as `[N, K]` under B's name.
/// Byte counts are checked against the attributes before anything is read (ONNX Runtime read out of bounds
/// when attributes overstated them, onnxruntime commit 807390233b).
/// Each decoded weight carries its label and stored size (`Tensor.stored(as:bytes:)`): the codes, plus the
/// scale and zero point the first time a weight reads them (a scale shared by several weights is stored once).
enum ONNXQuantizedWeights {
    static func decode(scan: ONNXGraphScan, found: inout [ONNXFoundWeight]) throws {
        // Name lookup per graph, falling back to enclosing graphs (subgraphs read outer-scope weights).
        var byGraph: [Int: [String: Int]] = [:]
        for (k, f) in found.enumerated() where byGraph[f.weight.graph]?[f.weight.name] == nil {
            byGraph[f.weight.graph, default: [:]][f.weight.name] = k
        }
        func lookup(_ name: String, graph: Int) -> Int? {
            var g: Int? = graph
            while let current = g {
                if let k = byGraph[current]?[name] { return k }
                g = scan.graphs[current].parent
            }
            return nil
        }
        /// The bytes of the parameters `k` (scale or zero point) not yet charged to another weight.
        func unshared(_ k: Int?) -> Int {
            guard let k, !found[k].consumed else { return 0 }
            return found[k].storedBytes
        }
        for n in scan.nodes {
            let onnxDomain = n.domain.isEmpty || n.domain == "ai.onnx"
            if n.opType == "DequantizeLinear" && (onnxDomain || n.domain == "com.microsoft") {
                guard n.inputs.count >= 2, let x = lookup(n.inputs[0], graph: n.graph), !found[x].consumed,
                      let s = lookup(n.inputs[1], graph: n.graph), let output = n.outputs.first, !output.isEmpty else { continue }
                let z = n.inputs.count >= 3 && !n.inputs[2].isEmpty ? lookup(n.inputs[2], graph: n.graph) : nil
                guard let d = try dequantizeLinear(n, codes: found[x], scale: found[s], zero: z.map { found[$0] }, path: found[x].tensor.data.path) else { continue }
                let bytes = found[x].storedBytes + unshared(s) + unshared(z)
                found[x].tensor = try Tensor(name: output, dtype: .float32, shape: found[x].tensor.shape, data: d.source)
                found[x].tensor.stored(as: d.label, bytes: bytes)
                found[x].weight.name = output
                found[x].raw = nil
                found[s].consumed = true
                if let z { found[z].consumed = true }
            } else if n.opType == "MatMulNBits" && n.domain == "com.microsoft" {
                guard n.inputs.count >= 3, let b = lookup(n.inputs[1], graph: n.graph), !found[b].consumed,
                      let s = lookup(n.inputs[2], graph: n.graph) else { continue }
                let z = n.inputs.count >= 4 && !n.inputs[3].isEmpty ? lookup(n.inputs[3], graph: n.graph) : nil
                let path = found[b].tensor.data.path
                let d = try matMulNBits(n, codes: found[b], scale: found[s], zero: z.map { found[$0] }, path: path)
                let name = found[b].weight.name
                let bytes = found[b].storedBytes + unshared(s) + unshared(z)
                found[b].tensor = try Tensor(name: name, dtype: .float32, shape: d.shape, data: d.source)
                found[b].tensor.stored(as: d.label, bytes: bytes)
                found[b].raw = nil
                found[s].consumed = true
                if let z { found[z].consumed = true }
            }
        }
    }

    /// Every value of a small tensor (scales, zero points) as Float.
    static func values(_ t: Tensor) throws -> [Float] {
        var v = [Float](repeating: 0, count: t.parameters)
        try v.withUnsafeMutableBufferPointer { try t.decode(0..<t.parameters, into: $0) }
        return v
    }

    static let codeTypes: Set<Int64> = [ONNXDataType.int8, ONNXDataType.uint8, ONNXDataType.int16, ONNXDataType.uint16,
                                        ONNXDataType.int32, ONNXDataType.int4, ONNXDataType.uint4, ONNXDataType.int2,
                                        ONNXDataType.uint2, ONNXDataType.float8e4m3fn, ONNXDataType.float8e4m3fnuz,
                                        ONNXDataType.float8e5m2, ONNXDataType.float8e5m2fnuz]
    static let scaleTypes: Set<Int64> = [ONNXDataType.float, ONNXDataType.float16, ONNXDataType.bfloat16, ONNXDataType.float8e8m0]

    static func dequantizeLinear(_ n: ONNXGraphScan.Node, codes: ONNXFoundWeight, scale: ONNXFoundWeight, zero: ONNXFoundWeight?,
                                 path: String) throws -> (source: ONNXDequantizedSource, label: String)? {
        guard let type = codes.dataType, codeTypes.contains(type), let raw = codes.raw,
              let scaleType = scale.dataType, scaleTypes.contains(scaleType) else { return nil }
        let shown = "DequantizeLinear '\(DisplayText.escaped(n.name.isEmpty ? n.outputs.first ?? "" : n.name))'"
        let shape = codes.tensor.shape, count = codes.tensor.parameters
        let scales = try values(scale.tensor)
        guard !scales.isEmpty else { throw ModelError(path, "\(shown): empty scale") }
        var zeros: [Float] = []
        if let zero {
            guard zero.dataType == type, zero.tensor.shape == scale.tensor.shape else {
                throw ModelError(path, "\(shown): zero point must have the codes' type and the scale's shape \(scale.tensor.shape)")
            }
            zeros = try values(zero.tensor)
        }
        let rank = shape.count
        var axis = Int(n.ints["axis"] ?? 1)
        if axis < 0 { axis += rank }
        let block = Int(n.ints["block_size"] ?? 0)
        let scaleShape = scale.tensor.shape
        let map: ONNXDequantizedSource.ScaleMap
        let how: String
        if scales.count == 1 && scaleShape.count <= 1 && block == 0 {
            map = .tensor
            how = "per tensor"
        } else {
            guard axis >= 0 && axis < rank else { throw ModelError(path, "\(shown): axis \(n.ints["axis"] ?? 1) is outside rank \(rank)") }
            let stride = shape[(axis + 1)...].reduce(1, *), dimension = shape[axis]
            if block > 0 {
                var expected = shape
                expected[axis] = scaleShape.count == rank ? scaleShape[axis] : -1
                guard scaleShape == expected, dimension == 0 || (dimension - 1) / block < scaleShape[axis] else {
                    throw ModelError(path, "\(shown): scale shape \(scaleShape) does not block weight \(shape) by \(block) along axis \(axis)")
                }
                map = .blocked(stride: stride, dimension: dimension, block: block, blocks: scaleShape[axis])
                how = "blocks of \(block) along axis \(axis)"
            } else {
                guard scaleShape == [dimension] else {
                    throw ModelError(path, "\(shown): scale shape \(scaleShape) does not match weight \(shape) along axis \(axis)")
                }
                map = .axis(stride: max(1, stride), dimension: dimension)
                how = "per axis \(axis)"
            }
        }
        let source = ONNXDequantizedSource(codes: raw, layout: .dense(dataType: type), count: count, map: map, scales: scales,
                                           zeros: zeros, defaultZero: 0, path: path)
        let names = "codes '\(DisplayText.escaped(codes.weight.name))', scale '\(DisplayText.escaped(scale.weight.name))'"
            + (zero.map { ", zero point '\(DisplayText.escaped($0.weight.name))'" } ?? "")
        return (source, "DequantizeLinear \(ONNXDataType.name(type)) \(how), \(ONNXDataType.name(scaleType)) scales (\(names))")
    }

    static func matMulNBits(_ n: ONNXGraphScan.Node, codes: ONNXFoundWeight, scale: ONNXFoundWeight, zero: ONNXFoundWeight?,
                            path: String) throws -> (source: ONNXDequantizedSource, shape: [Int], label: String) {
        let shown = "MatMulNBits '\(DisplayText.escaped(n.name))'"
        guard let k64 = n.ints["K"], let n64 = n.ints["N"], let bs64 = n.ints["block_size"] else {
            throw ModelError(path, "\(shown) lacks its K, N or block_size attribute")
        }
        let bits = Int(n.ints["bits"] ?? 4)
        guard [2, 4, 8].contains(bits) else { throw ModelError(path, "\(shown): bits \(bits) is not 2, 4 or 8") }
        guard (n.ints["weight_prepacked"] ?? 0) == 0 else { throw ModelError(path, "\(shown): prepacked (GPU) weights are not read") }
        guard k64 > 0, n64 > 0, bs64 >= 16, bs64 & (bs64 - 1) == 0, k64 < 1 << 31, n64 < 1 << 31, bs64 < 1 << 20 else {
            throw ModelError(path, "\(shown): K \(k64), N \(n64), block_size \(bs64) are not valid")
        }
        let k = Int(k64), rows = Int(n64), blockSize = Int(bs64)
        let kBlocks = (k + blockSize - 1) / blockSize, blob = blockSize * bits / 8
        guard let codeCount = Shape.elementCount([rows, kBlocks, blob]), let count = Shape.elementCount([rows, k]) else {
            throw ModelError(path, "\(shown): K \(k64), N \(n64), block_size \(bs64) overflow")
        }
        guard codes.dataType == ONNXDataType.uint8, let raw = codes.raw, codes.tensor.parameters == codeCount else {
            throw ModelError(path, "\(shown): B must be UINT8 [\(rows), \(kBlocks), \(blob)], found \(codes.tensor.dtype) \(codes.tensor.shape)")
        }
        guard let scaleType = scale.dataType, scaleTypes.contains(scaleType), scale.tensor.parameters == rows * kBlocks else {
            throw ModelError(path, "\(shown): scales must be \(rows * kBlocks) floats, found \(scale.tensor.dtype) \(scale.tensor.shape)")
        }
        let scales = try values(scale.tensor)
        var zeros: [Float] = []
        if let zero {
            if zero.dataType == ONNXDataType.uint8 {
                let perRow = (kBlocks * bits + 7) / 8
                guard zero.tensor.parameters == rows * perRow, let zraw = zero.raw else {
                    throw ModelError(path, "\(shown): packed zero points must be \(rows * perRow) bytes, found \(zero.tensor.parameters)")
                }
                let packed = try zraw.bytes(at: 0, count: rows * perRow)
                zeros.reserveCapacity(rows * kBlocks)
                for r in 0..<rows {
                    for b in 0..<kBlocks {
                        let bit = b * bits
                        zeros.append(Float((packed[r * perRow + bit / 8] >> UInt8(bit % 8)) & UInt8((1 << bits) - 1)))
                    }
                }
            } else {
                guard zero.tensor.isFloating, zero.tensor.parameters == rows * kBlocks else {
                    throw ModelError(path, "\(shown): zero points must be \(rows * kBlocks) values, found \(zero.tensor.parameters)")
                }
                zeros = try values(zero.tensor)
            }
        }
        let source = ONNXDequantizedSource(codes: raw, layout: .nbits(bits: bits, k: k, blockSize: blockSize, blob: blob, kBlocks: kBlocks),
                                           count: count, map: .nbits(k: k, blockSize: blockSize, kBlocks: kBlocks),
                                           scales: scales, zeros: zeros, defaultZero: Float(1 << (bits - 1)), path: path)
        let label = "MatMulNBits \(bits)-bit blocks of \(blockSize), \(ONNXDataType.name(scaleType)) scales (B '\(DisplayText.escaped(codes.weight.name))', scales '\(DisplayText.escaped(scale.weight.name))'"
            + (zero.map { ", zero points '\(DisplayText.escaped($0.weight.name))'" } ?? "") + ")"
        return (source, [rows, k], label)
    }
}
