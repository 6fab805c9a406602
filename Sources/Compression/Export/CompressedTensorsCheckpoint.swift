import Foundation
import WeightFormats

/// A compressed-tensors checkpoint read back: every quantized module's tensors (`weight_packed`/`weight`,
/// `weight_scale`, `weight_zero_point`, `weight_shape`) shown as one Float32 `<module>.weight` tensor whose
/// values are decoded as compressed-tensors decodes them — `(q − zp)·scale`, computed in Float32 — when they
/// are read, a few rows at a time (never a whole model in memory). So `compare IN OUT` works on what `apply
/// --to compressed-tensors` wrote, and `apply` can verify its output through the same reading.
///
/// The schemes come from the `quantization_config` of the `config.json` beside the model (targets by exact
/// name or `re:` pattern; a class-name target such as `Linear` takes every module that has compressed
/// tensors and is not ignored).
public enum CompressedTensorsCheckpoint {
    /// Whether `model` holds compressed-tensors modules (some tensor is a `*.weight_scale`).
    public static func looksCompressed(_ model: Model) -> Bool {
        model.tensors.contains { $0.name.hasSuffix(".weight_scale") }
    }

    /// The `config.json` beside a model: inside it when it is a directory, else in the directory of its file.
    public static func configPath(forModelAt path: String) -> String {
        var isDirectory: ObjCBool = false
        let directory = FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
            ? path : (path as NSString).deletingLastPathComponent
        return ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent("config.json")
    }

    /// Opens the model at `path`; when it holds compressed-tensors modules, decoded through the `config.json`
    /// beside it (see `decoded`).
    public static func open(_ path: String) throws -> Model {
        let model = try ModelFile.open(path)
        guard looksCompressed(model) else { return model }
        let config = configPath(forModelAt: path)
        guard let data = FileManager.default.contents(atPath: config) else {
            throw ModelError(path, "holds compressed-tensors tensors (*.weight_scale) but there is no \(config) to say how to decode them")
        }
        return try decoded(model, config: [UInt8](data), configPath: config)
    }

    /// `model` with every module its config quantizes shown as one decoded Float32 `<module>.weight` (at the
    /// place of the module's first tensor); other tensors unchanged. `config` is the text of a `config.json`
    /// holding `quantization_config`, or of the `quantization_config` object itself.
    public static func decoded(_ model: Model, config: [UInt8], configPath: String = "config.json") throws -> Model {
        let recipe = try Recipe(config, path: configPath)
        let suffixes = ["weight_packed", "weight_scale", "weight_zero_point", "weight_shape", "weight_g_idx", "weight"]
        var byModule: [String: [String: Tensor]] = [:]
        for t in model.tensors {
            guard let dot = t.name.lastIndex(of: ".") else { continue }
            let suffix = String(t.name[t.name.index(after: dot)...])
            if suffixes.contains(suffix) {
                byModule[String(t.name[..<dot]), default: [:]][suffix] = t
            }
        }
        var out: [Tensor] = []
        var done = Set<String>()
        for t in model.tensors {
            let module = t.name.lastIndex(of: ".").map { String(t.name[..<$0]) } ?? t.name
            let suffix = t.name.lastIndex(of: ".").map { String(t.name[t.name.index(after: $0)...]) } ?? ""
            // A module's other tensors (its bias, say) stay as they are.
            guard suffixes.contains(suffix), let parts = byModule[module], parts["weight_scale"] != nil else { out.append(t); continue }
            guard done.insert(module).inserted else { continue }
            guard let (scheme, format) = try recipe.scheme(for: module) else {
                throw ModelError(configPath, "module '\(DisplayText.escaped(module))' has compressed tensors but no config group targets it")
            }
            let source = try ModuleSource(module: module, parts: parts, scheme: scheme, format: format, path: t.data.path)
            out.append(try Tensor(name: module + ".weight", dtype: .float32, shape: [source.rows, source.columns], data: source))
        }
        return Model(path: model.path, format: model.format, metadata: model.metadata, tensors: out)
    }

    /// The config's groups, as read.
    struct Recipe {
        var groups: [(targets: [String], scheme: CompressedTensors.Scheme, format: CompressedTensors.Format)] = []
        var ignore: [String] = []

        init(_ bytes: [UInt8], path: String) throws {
            guard case .object(let top) = try CompressedTensors.parseJSON(bytes, what: path) else {
                throw ModelError(path, "expected a JSON object")
            }
            var q = top
            if case .object(let inner)? = top.first(where: { $0.key == "quantization_config" })?.value { q = inner }
            func value(_ o: [StrictJSON.Member], _ k: String) -> StrictJSON.Value? { o.first { $0.key == k }?.value }
            func string(_ o: [StrictJSON.Member], _ k: String) -> String? {
                if case .string(let s)? = value(o, k) { return s }
                return nil
            }
            func int(_ o: [StrictJSON.Member], _ k: String) -> Int? {
                if case .number(let s)? = value(o, k) { return Int(s) }
                return nil
            }
            func strings(_ o: [StrictJSON.Member], _ k: String) -> [String] {
                guard case .array(let a)? = value(o, k) else { return [] }
                return a.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
            }
            guard string(q, "quant_method") == "compressed-tensors" else {
                throw ModelError(path, "no quantization_config with quant_method \"compressed-tensors\"")
            }
            let topFormat = string(q, "format") ?? ""
            ignore = strings(q, "ignore")
            guard case .object(let configGroups)? = value(q, "config_groups") else { throw ModelError(path, "quantization_config has no config_groups") }
            for g in configGroups {
                guard case .object(let group) = g.value, case .object(let w)? = value(group, "weights") else {
                    throw ModelError(path, "config group '\(g.key)' has no weights")
                }
                let formatName = topFormat == "mixed-precision" ? (string(group, "format") ?? "") : topFormat
                guard let format = CompressedTensors.Format(rawValue: formatName) else {
                    throw ModelError(path, "config group '\(g.key)': format '\(formatName)' is not one weightlab reads (pack-quantized, int-quantized, naive-quantized, float-quantized)")
                }
                guard let bits = int(w, "num_bits"), (1...8).contains(bits) else { throw ModelError(path, "config group '\(g.key)': num_bits must be 1–8") }
                var symmetric = true
                if case .bool(let b)? = value(w, "symmetric") { symmetric = b }
                let granularity: Granularity
                switch string(w, "strategy") ?? "tensor" {
                case "tensor": granularity = .tensor
                case "channel": granularity = .channel
                case "group":
                    guard let size = int(w, "group_size"), size > 0 else { throw ModelError(path, "config group '\(g.key)': a group strategy needs group_size") }
                    granularity = .group(size)
                case let other: throw ModelError(path, "config group '\(g.key)': strategy '\(other)' is not one weightlab reads")
                }
                if case .string("group")? = value(w, "actorder") {
                    throw ModelError(path, "config group '\(g.key)': activation-ordered groups (g_idx) are not read")
                }
                let scheme = CompressedTensors.Scheme(format: format, bits: bits, type: string(w, "type") ?? "int", symmetric: symmetric, granularity: granularity)
                groups.append((strings(group, "targets"), scheme, format))
            }
        }

        static func matches(_ target: String, _ module: String) throws -> Bool {
            guard target.hasPrefix("re:") else { return target == module }
            let regex = try NSRegularExpression(pattern: String(target.dropFirst(3)))
            return regex.firstMatch(in: module, options: [.anchored], range: NSRange(module.startIndex..., in: module)) != nil
        }

        func scheme(for module: String) throws -> (CompressedTensors.Scheme, CompressedTensors.Format)? {
            for g in groups where try g.targets.contains(where: { try Self.matches($0, module) }) { return (g.scheme, g.format) }
            if try ignore.contains(where: { try Self.matches($0, module) }) { return nil }
            // Class-name targets ("Linear"): any module with compressed tensors.
            for g in groups where g.targets.contains(where: { !$0.hasPrefix("re:") && !$0.contains(".") && $0.first?.isUppercase == true }) {
                return (g.scheme, g.format)
            }
            return nil
        }
    }

    /// The decoded values of one module, computed from its stored tensors for the rows a read needs.
    final class ModuleSource: ByteSource, @unchecked Sendable {
        let path: String
        let size: UInt64
        let rows: Int
        let columns: Int
        let scheme: CompressedTensors.Scheme
        let format: CompressedTensors.Format
        let codes: Tensor
        let scale: Tensor
        let zero: Tensor?

        init(module: String, parts: [String: Tensor], scheme: CompressedTensors.Scheme, format: CompressedTensors.Format, path: String) throws {
            self.path = path
            self.scheme = scheme
            self.format = format
            func need(_ part: String) throws -> Tensor {
                guard let t = parts[part] else { throw ModelError(path, "module '\(DisplayText.escaped(module))' has no \(part)") }
                return t
            }
            scale = try need("weight_scale")
            zero = scheme.symmetric ? nil : try need("weight_zero_point")
            if format == .packQuantized {
                codes = try need("weight_packed")
                let shape = try need("weight_shape")
                guard shape.parameters == 2, shape.dtype == .int64 || shape.dtype == .int32 else {
                    throw ModelError(path, "'\(module).weight_shape' must hold 2 integers")
                }
                let bytes = try shape.data.bytes(at: 0, count: shape.byteCount)
                let wide = shape.dtype == .int64 ? 8 : 4
                func le(_ i: Int) -> Int {
                    var v: Int64 = 0
                    for b in (0..<wide).reversed() { v = v << 8 | Int64(bytes[i * wide + b]) }
                    return wide == 4 ? Int(Int32(truncatingIfNeeded: v)) : Int(v)
                }
                rows = le(0)
                columns = le(1)
                let p = 32 / scheme.bits
                guard codes.dtype == .int32, codes.shape == [rows, (columns + p - 1) / p] else {
                    throw ModelError(path, "'\(module).weight_packed' is \(codes.dtype) \(codes.shape), expected I32 [\(rows), \((columns + p - 1) / p)]")
                }
            } else {
                codes = try need("weight")
                guard codes.shape.count == 2, codes.dtype == (format == .floatQuantized ? .float8E4M3 : .int8) else {
                    throw ModelError(path, "'\(module).weight' is \(codes.dtype) \(codes.shape), expected a 2-D \(format == .floatQuantized ? "F8_E4M3" : "I8") tensor")
                }
                rows = codes.shape[0]
                columns = codes.shape[1]
            }
            guard rows >= 0, columns >= 0, let n = Shape.elementCount([rows, columns]) else { throw ModelError(path, "'\(module)' has a bad shape") }
            let expected = TensorLayout(shape: [rows, columns]).segmentCount(scheme.granularity)
            guard scale.parameters == expected, scale.dtype.isFloating else {
                throw ModelError(path, "'\(module).weight_scale' has \(scale.parameters) values, the scheme needs \(expected)")
            }
            if case .group(let g) = scheme.granularity, columns % g != 0 {
                throw ModelError(path, "'\(module)': group \(g) does not divide \(columns) columns")
            }
            size = UInt64(n) * 4
        }

        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            guard offset <= size, UInt64(buffer.count) <= size - offset else {
                throw ModelError(path, "read past the decoded module")
            }
            guard buffer.count > 0, columns > 0 else { return }
            let e0 = Int(offset / 4), e1 = Int((offset + UInt64(buffer.count) + 3) / 4)
            let r0 = e0 / columns, r1 = (e1 + columns - 1) / columns
            let values = try decodeRows(r0, r1)
            values.withUnsafeBytes { raw in
                let start = Int(offset) - r0 * columns * 4
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<(start + buffer.count)]))
            }
        }

        /// Rows `r0..<r1`, decoded.
        func decodeRows(_ r0: Int, _ r1: Int) throws -> [Float] {
            let k = columns, count = (r1 - r0) * k
            let bits = scheme.bits, half = 1 << (bits - 1), mask = UInt32((1 << bits) - 1), p = 32 / bits
            var q = [Float](repeating: 0, count: count)
            switch format {
            case .packQuantized:
                let words = (k + p - 1) / p
                let bytes = try codes.data.bytes(at: UInt64(r0 * words * 4), count: (r1 - r0) * words * 4)
                for r in 0..<(r1 - r0) {
                    for c in 0..<k {
                        let o = (r * words + c / p) * 4
                        let word = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                        q[r * k + c] = Float(Int((word >> UInt32((c % p) * bits)) & mask) - half)
                    }
                }
            case .intQuantized, .naiveQuantized:
                let bytes = try codes.data.bytes(at: UInt64(r0 * k), count: count)
                for i in 0..<count { q[i] = Float(Int8(bitPattern: bytes[i])) }
            case .floatQuantized:
                try q.withUnsafeMutableBufferPointer { try codes.decode((r0 * k)..<(r1 * k), into: $0) }
            }
            // Scales (and zero points) of these rows, by segment.
            let perRow: Int, g: Int
            switch scheme.granularity {
            case .tensor: perRow = 0; g = max(1, k)
            case .channel: perRow = 1; g = max(1, k)
            case .group(let size): perRow = k / size; g = size
            }
            let scaleRange = perRow == 0 ? 0..<1 : (r0 * perRow)..<(r1 * perRow)
            var scales = [Float](repeating: 0, count: scaleRange.count)
            try scales.withUnsafeMutableBufferPointer { try scale.decode(scaleRange, into: $0) }
            let zeros = try zeroPoints(r0, r1, perRow: perRow)
            var out = [Float](repeating: 0, count: count)
            for r in 0..<(r1 - r0) {
                for c in 0..<k {
                    let s = perRow == 0 ? 0 : r * perRow + c / g
                    let z = zeros.map { Float($0[s]) } ?? 0
                    out[r * k + c] = format == .floatQuantized ? q[r * k + c] * scales[s] : (q[r * k + c] - z) * scales[s]
                }
            }
            return out
        }

        /// Signed zero points of rows `r0..<r1` by segment, or nil when symmetric.
        func zeroPoints(_ r0: Int, _ r1: Int, perRow: Int) throws -> [Int]? {
            guard let zero else { return nil }
            let bits = scheme.bits, half = 1 << (bits - 1), mask = UInt32((1 << bits) - 1), p = 32 / bits
            if zero.dtype == .int32 && perRow > 0 {
                // Packed along rows: word row w holds rows w·p … w·p+p−1.
                guard zero.shape == [(rows + p - 1) / p, perRow] else {
                    throw ModelError(path, "'\(zero.name)' is \(zero.shape), expected [\((rows + p - 1) / p), \(perRow)]")
                }
                let w0 = r0 / p, w1 = (r1 + p - 1) / p
                let bytes = try zero.data.bytes(at: UInt64(w0 * perRow * 4), count: (w1 - w0) * perRow * 4)
                var out = [Int](repeating: 0, count: (r1 - r0) * perRow)
                for r in r0..<r1 {
                    for j in 0..<perRow {
                        let o = ((r / p - w0) * perRow + j) * 4
                        let word = UInt32(bytes[o]) | UInt32(bytes[o + 1]) << 8 | UInt32(bytes[o + 2]) << 16 | UInt32(bytes[o + 3]) << 24
                        out[(r - r0) * perRow + j] = Int((word >> UInt32((r % p) * bits)) & mask) - half
                    }
                }
                return out
            }
            guard zero.dtype == .int8 else { throw ModelError(path, "'\(zero.name)' is \(zero.dtype), expected I8 or packed I32") }
            let range = perRow == 0 ? 0..<1 : (r0 * perRow)..<(r1 * perRow)
            guard zero.parameters >= range.upperBound else { throw ModelError(path, "'\(zero.name)' has too few zero points") }
            return try zero.data.bytes(at: UInt64(range.lowerBound), count: range.count).map { Int(Int8(bitPattern: $0)) }
        }
    }
}
