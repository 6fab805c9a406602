import WeightFormats

/// The compressed-tensors checkpoint layout (neuralmagic/compressed-tensors, what vLLM and transformers load;
/// `/work/shared/reference/export_and_solver.md` §A1): how one layer's `EncodedTensor` becomes the tensors of a
/// quantized module, and the `quantization_config` that describes a whole plan. Pure functions, no file I/O:
/// a writer stores the `StoredTensor`s (through `SafetensorsWriter`) and the config text.
///
/// What is stored, per quantized module `m` (the tensor `m.weight`, 2-D `[N, K]`):
/// - `pack-quantized` (int, 2 and 4 bits): `m.weight_packed` I32 `[N, ceil(K/p)]`, `p = 32/b` codes per word
///   along K, element i of a word at bits `i·b…`, each stored as `q + 2^(b−1)` (the signed code made unsigned);
///   `m.weight_shape` I64 `[2]` = `[N, K]`; `m.weight_scale`; for asymmetric channel/group grids
///   `m.weight_zero_point` I32 `[ceil(N/p), G]` packed the same way along N (stored `zp + 2^(b−1)`), for an
///   asymmetric tensor grid an I8 `[1]` zero point.
/// - `int-quantized` (8 bits) and `naive-quantized` (3, 5, 6, 7 bits, the width compressed-tensors' own format
///   inference gives them): `m.weight` I8 `[N, K]` of signed codes, `m.weight_scale`, and when asymmetric
///   `m.weight_zero_point` I8 with the scale's shape.
/// - `float-quantized` (FP8 E4M3): `m.weight` F8_E4M3 `[N, K]`, `m.weight_scale`.
///
/// Scales are `[N, K/g]` (group), `[N, 1]` (channel) or `[1]` (tensor). Codes and zero points are signed in
/// compressed-tensors: `q_ct = q − 2^(b−1)`, `zp_ct = zero − 2^(b−1)` for weightlab's unsigned asymmetric
/// codes, so `(q_ct − zp_ct)·scale = (q − zero)·scale`. weightlab's symmetric grid uses `scale = absmax/qmax`
/// (absmax/7 at 4 bits) where compressed-tensors' own quantizer uses absmax/8; both are stored the same way,
/// since the format stores the scale, and the codes fit `[−2^(b−1), 2^(b−1)−1]` either way.
///
/// Scales are stored in Float32 whatever the model's dtype: `(q − zp)·scale` computed in Float32 (how
/// compressed-tensors' `dequantize` computes with a Float32 scale) is then the engine's reconstruction bit for
/// bit, so the numbers `report` prints are the numbers of the file. (compressed-tensors' own writer stores
/// scales in the model's dtype; a runtime that allocates the scale in an F16/BF16 model's dtype, as vLLM does,
/// rounds it to that dtype when loading, which moves each weight by at most that rounding, 2^-9 relative for
/// BF16.)
///
/// Pruning needs no format of its own: pruned weights are coded as exact zeros in the dense codes, so every
/// pruning method is held. The 2:4 `sparse-24-bitmask` layout (a denser encoding vLLM runs only on sm90 for
/// 8-bit weights) is not written.
public enum CompressedTensors {
    /// A compressed-tensors compression format (`CompressionFormat` values).
    public enum Format: String, Hashable, Sendable, CaseIterable {
        case packQuantized = "pack-quantized"
        case intQuantized = "int-quantized"
        case naiveQuantized = "naive-quantized"
        case floatQuantized = "float-quantized"
    }

    /// The weight quantization of one config group: compressed-tensors' `QuantizationArgs` (weights only) and
    /// the format its tensors are stored in.
    public struct Scheme: Hashable, Sendable {
        public var format: Format
        public var bits: Int
        /// `int` or `float`.
        public var type: String
        public var symmetric: Bool
        public var granularity: Granularity

        public init(format: Format, bits: Int, type: String, symmetric: Bool, granularity: Granularity) {
            self.format = format
            self.bits = bits
            self.type = type
            self.symmetric = symmetric
            self.granularity = granularity
        }

        /// `tensor`, `channel` or `group`.
        public var strategy: String {
            switch granularity {
            case .tensor: "tensor"
            case .channel: "channel"
            case .group: "group"
            }
        }

        public var groupSize: Int? {
            if case .group(let g) = granularity { return g }
            return nil
        }

        /// Codes per 32-bit word in `pack-quantized`.
        public var packFactor: Int { 32 / bits }

        /// The `weights` object of a config group (`QuantizationArgs`, the fields every compressed-tensors
        /// version accepts).
        public var weightsJSON: String {
            "{\"actorder\": null, \"dynamic\": false, \"group_size\": " + (groupSize.map(String.init) ?? "null")
                + ", \"num_bits\": \(bits), \"strategy\": \"\(strategy)\", \"symmetric\": \(symmetric), \"type\": \"\(type)\"}"
        }
    }

    /// One tensor of the checkpoint, its bytes little-endian and row-major, ready for `SafetensorsWriter`.
    public struct StoredTensor: Equatable, Sendable {
        public var name: String
        public var dtype: DType
        public var shape: [Int]
        public var bytes: [UInt8]

        public init(name: String, dtype: DType, shape: [Int], bytes: [UInt8]) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }

        public var entry: SafetensorsWriter.TensorEntry { SafetensorsWriter.TensorEntry(name: name, dtype: dtype, shape: shape) }
    }

    /// The tensor names a module's `weight` becomes under `format` (scales and zero points included when
    /// the scheme has them), in the order `pack` returns them.
    public static func tensorNames(module: String, scheme: Scheme) -> [String] {
        let hasZero = !scheme.symmetric
        switch scheme.format {
        case .packQuantized:
            return [module + ".weight_packed", module + ".weight_scale"] + (hasZero ? [module + ".weight_zero_point"] : [])
                + [module + ".weight_shape"]
        case .intQuantized, .naiveQuantized, .floatQuantized:
            return [module + ".weight", module + ".weight_scale"] + (hasZero ? [module + ".weight_zero_point"] : [])
        }
    }

    /// The tensors `pack` returns for a `shape` weight of `module`, without encoding anything: what a streaming
    /// writer puts in the safetensors header before it packs the first module.
    public static func entries(module: String, shape: [Int], scheme: Scheme) -> [SafetensorsWriter.TensorEntry] {
        guard shape.count == 2 else { return [] }
        let n = shape[0], k = shape[1], p = scheme.packFactor
        let scaleShape: [Int] = switch scheme.granularity {
        case .tensor: [1]
        case .channel: [n, 1]
        case .group(let g): [n, k / max(1, g)]
        }
        let scale = SafetensorsWriter.TensorEntry(name: module + ".weight_scale", dtype: .float32, shape: scaleShape)
        switch scheme.format {
        case .packQuantized:
            var out = [SafetensorsWriter.TensorEntry(name: module + ".weight_packed", dtype: .int32, shape: [n, (k + p - 1) / p]), scale]
            if !scheme.symmetric {
                out.append(scheme.granularity == .tensor
                    ? .init(name: module + ".weight_zero_point", dtype: .int8, shape: [1])
                    : .init(name: module + ".weight_zero_point", dtype: .int32, shape: [(n + p - 1) / p, scaleShape[1]]))
            }
            return out + [.init(name: module + ".weight_shape", dtype: .int64, shape: [2])]
        case .intQuantized, .naiveQuantized:
            return [.init(name: module + ".weight", dtype: .int8, shape: [n, k]), scale]
                + (scheme.symmetric ? [] : [.init(name: module + ".weight_zero_point", dtype: .int8, shape: scaleShape)])
        case .floatQuantized:
            return [.init(name: module + ".weight", dtype: .float8E4M3, shape: [n, k]), scale]
        }
    }

    /// The module of a tensor called `<module>.weight`, or nil for any other name.
    public static func module(of tensorName: String) -> String? {
        guard tensorName.hasSuffix(".weight"), tensorName.count > ".weight".count else { return nil }
        return String(tensorName.dropLast(".weight".count))
    }

    // MARK: - Which settings compressed-tensors holds

    /// The scheme that stores `settings` for the tensor `name` of `shape`, nil when the settings quantize
    /// nothing (the tensor is stored as it is: dense, pruned zeros included), or the reason it cannot be held.
    public static func scheme(for settings: LayerSettings, name: String, shape: [Int]) -> Result<Scheme?, Refusal.Item> {
        let format = settings.quantize
        guard let codec = format.codec else { return .success(nil) }
        func refuse(_ reason: String, _ containers: [String]) -> Result<Scheme?, Refusal.Item> {
            .failure(Refusal.Item(tensor: name, setting: codec.label, reason: reason, containers: containers))
        }
        let dense = ["safetensors (dequantized)"]
        guard module(of: name) != nil else {
            return refuse("compressed-tensors quantizes the weight of a module (a tensor named <module>.weight)", dense)
        }
        guard shape.count == 2 else {
            return refuse("compressed-tensors packs 2-D [out, in] weights, this one is \(shape.count)-D", dense)
        }
        if let int = IntCodec(format) {
            let layout: Format = int.bits == 8 ? .intQuantized : (int.bits == 4 || int.bits == 2 ? .packQuantized : .naiveQuantized)
            return .success(Scheme(format: layout, bits: int.bits, type: "int", symmetric: int.symmetric, granularity: int.granularity))
        }
        if let fp8 = FP8Codec(format) {
            guard fp8.variant == .e4m3 else {
                return refuse("compressed-tensors' 8-bit float type is E4M3 only", dense)
            }
            return .success(Scheme(format: .floatQuantized, bits: 8, type: "float", symmetric: true, granularity: fp8.granularity))
        }
        if GGMLBlockCodec(format) != nil {
            return refuse("compressed-tensors has no ggml block types", ["gguf", "safetensors (dequantized)"])
        }
        if NF4Codec(format) != nil {
            return refuse("compressed-tensors has no NF4 (a bitsandbytes codebook format)", dense)
        }
        return refuse("compressed-tensors stores uniform int and FP8 E4M3 grids only", dense)
    }

    /// Settings compressed-tensors cannot hold, listed together: one error for the whole plan.
    public typealias Refusal = ExportRefusal

    /// The scheme of every tensor (nil: stored as it is), or one `Refusal` naming every tensor that cannot be held.
    public static func schemes(_ layers: [(name: String, shape: [Int], settings: LayerSettings)]) throws -> [Scheme?] {
        var out: [Scheme?] = []
        var refused: [Refusal.Item] = []
        for l in layers {
            switch scheme(for: l.settings, name: l.name, shape: l.shape) {
            case .success(let s): out.append(s)
            case .failure(let item): refused.append(item); out.append(nil)
            }
        }
        if !refused.isEmpty { throw Refusal(target: "compressed-tensors", items: refused) }
        return out
    }

    // MARK: - Packing one module

    /// The tensors of module `module` (the tensor `<module>.weight`) stored under `scheme`, from `encoded` (the
    /// layer's `LayerEvaluator.encode`, a 2-D tensor). Decoding them as compressed-tensors does gives the
    /// engine's reconstruction bit for bit.
    public static func pack(_ encoded: EncodedTensor, module: String, scheme: Scheme) throws -> [StoredTensor] {
        guard encoded.shape.count == 2 else {
            throw CompressionError("compressed-tensors packs 2-D weights; '\(module).weight' has shape \(encoded.shape)")
        }
        let n = encoded.shape[0], k = encoded.shape[1]
        let segments = TensorLayout(shape: encoded.shape).segmentCount(scheme.granularity)
        let scaleShape: [Int] = switch scheme.granularity {
        case .tensor: [1]
        case .channel: [n, 1]
        case .group: [n, segments / max(1, n)]
        }
        let scales = try encoded.part("scales")
        try scales.expect(.float32, .none, bytes: segments * 4)
        let scale = StoredTensor(name: module + ".weight_scale", dtype: .float32, shape: scaleShape, bytes: scales.bytes)

        if scheme.type == "float" {
            let codes = try encoded.part("codes")
            try codes.expect(.float8E4M3, .none, bytes: n * k)
            return [StoredTensor(name: module + ".weight", dtype: .float8E4M3, shape: [n, k], bytes: codes.bytes), scale]
        }

        // Signed codes (compressed-tensors' q): weightlab's symmetric codes already are; asymmetric ones are
        // unsigned in [0, 2^b − 1] and shift down by 2^(b−1).
        let half = 1 << (scheme.bits - 1)
        let codes = try encoded.part("codes")
        try codes.expect(scheme.symmetric ? .int8 : .uint8, .none, bytes: n * k)
        let signed: [Int8] = scheme.symmetric
            ? codes.bytes.map { Int8(bitPattern: $0) }
            : codes.bytes.map { Int8(Int($0) - half) }
        var zeros: [Int8] = []
        if !scheme.symmetric {
            let z = try encoded.part("zero_points")
            try z.expect(.uint8, .none, bytes: segments)
            zeros = z.bytes.map { Int8(Int($0) - half) }
        }

        switch scheme.format {
        case .packQuantized:
            var out = [StoredTensor(name: module + ".weight_packed", dtype: .int32, shape: [n, (k + scheme.packFactor - 1) / scheme.packFactor],
                                    bytes: packRows(signed, rows: n, columns: k, bits: scheme.bits)),
                       scale]
            if !scheme.symmetric {
                if scheme.granularity == .tensor {
                    out.append(StoredTensor(name: module + ".weight_zero_point", dtype: .int8, shape: [1], bytes: zeros.map { UInt8(bitPattern: $0) }))
                } else {
                    let columns = scaleShape[1]
                    let p = scheme.packFactor
                    out.append(StoredTensor(name: module + ".weight_zero_point", dtype: .int32, shape: [(n + p - 1) / p, columns],
                                            bytes: packColumns(zeros, rows: n, columns: columns, bits: scheme.bits)))
                }
            }
            var shape: [UInt8] = []
            for d in [n, k] { withUnsafeBytes(of: Int64(d).littleEndian) { shape += $0 } }
            out.append(StoredTensor(name: module + ".weight_shape", dtype: .int64, shape: [2], bytes: shape))
            return out
        case .intQuantized, .naiveQuantized:
            var out = [StoredTensor(name: module + ".weight", dtype: .int8, shape: [n, k], bytes: signed.map { UInt8(bitPattern: $0) }), scale]
            if !scheme.symmetric {
                out.append(StoredTensor(name: module + ".weight_zero_point", dtype: .int8, shape: scaleShape, bytes: zeros.map { UInt8(bitPattern: $0) }))
            }
            return out
        case .floatQuantized:
            throw CompressionError("float-quantized stores FP8 codes, not \(scheme.type) codes")
        }
    }

    /// `pack_to_int32` along rows: word `c` of row `r` holds columns `c·p … c·p+p−1`, element `i` at bits
    /// `i·b`, each as `q + 2^(b−1)`; missing columns at the end of a row are 0. Little-endian I32 bytes.
    static func packRows(_ q: [Int8], rows: Int, columns: Int, bits: Int) -> [UInt8] {
        let p = 32 / bits, words = (columns + p - 1) / p
        let half = Int32(1 << (bits - 1))
        var out = [UInt8](repeating: 0, count: rows * words * 4)
        for r in 0..<rows {
            for w in 0..<words {
                var word: UInt32 = 0
                for i in 0..<p {
                    let c = w * p + i
                    guard c < columns else { break }
                    word |= UInt32(Int32(q[r * columns + c]) + half) << UInt32(i * bits)
                }
                let o = (r * words + w) * 4
                for b in 0..<4 { out[o + b] = UInt8(truncatingIfNeeded: word >> UInt32(8 * b)) }
            }
        }
        return out
    }

    /// `pack_to_int32(…, packed_dim=0)`: the same packing along dimension 0 (word row `w` holds rows
    /// `w·p … w·p+p−1`), for zero points; missing rows are 0.
    static func packColumns(_ q: [Int8], rows: Int, columns: Int, bits: Int) -> [UInt8] {
        let p = 32 / bits, words = (rows + p - 1) / p
        let half = Int32(1 << (bits - 1))
        var out = [UInt8](repeating: 0, count: words * columns * 4)
        for w in 0..<words {
            for c in 0..<columns {
                var word: UInt32 = 0
                for i in 0..<p {
                    let r = w * p + i
                    guard r < rows else { break }
                    word |= UInt32(Int32(q[r * columns + c]) + half) << UInt32(i * bits)
                }
                let o = (w * columns + c) * 4
                for b in 0..<4 { out[o + b] = UInt8(truncatingIfNeeded: word >> UInt32(8 * b)) }
            }
        }
        return out
    }

    // MARK: - The recipe

    /// The `quantization_config` object (JSON text, keys sorted as compressed-tensors writes them): one config
    /// group per distinct scheme, in order of first use, targeting its modules by exact name; the modules of
    /// 2-D `.weight` tensors left unquantized in `ignore`; `format` the one format used, or `mixed-precision`
    /// with each group's own `format` when several are; `quantization_status` `compressed`.
    public static func quantizationConfig(_ layers: [(name: String, shape: [Int], scheme: Scheme?)]) -> String {
        var order: [Scheme] = []
        var targets: [Scheme: [String]] = [:]
        var ignore: [String] = []
        for l in layers {
            guard let m = module(of: l.name) else { continue }
            if let s = l.scheme {
                if targets[s] == nil { order.append(s); targets[s] = [] }
                targets[s]!.append(m)
            } else if l.shape.count == 2 {
                ignore.append(m)
            }
        }
        let formats = Set(order.map(\.format))
        let mixed = formats.count > 1
        let top = mixed ? "mixed-precision" : (order.first?.format.rawValue ?? Format.packQuantized.rawValue)
        func list(_ names: [String]) -> String { "[" + names.map(JSONText.quoted).joined(separator: ", ") + "]" }
        var groups: [String] = []
        for (i, s) in order.enumerated() {
            var g = "\"group_\(i)\": {"
            if mixed { g += "\"format\": \"\(s.format.rawValue)\", " }
            g += "\"input_activations\": null, \"output_activations\": null, \"targets\": " + list(targets[s]!)
                + ", \"weights\": " + s.weightsJSON + "}"
            groups.append(g)
        }
        return "{\"config_groups\": {" + groups.joined(separator: ", ") + "}, \"format\": \"\(top)\", "
            + "\"global_compression_ratio\": null, \"ignore\": " + list(ignore) + ", \"kv_cache_scheme\": null, "
            + "\"quant_method\": \"compressed-tensors\", \"quantization_status\": \"compressed\", \"sparsity_config\": {}}"
    }
}

// MARK: - config.json

extension CompressedTensors {
    /// The `config.json` to write beside a compressed-tensors checkpoint: the input model's `config.json`
    /// (`original`, its keys, order and number spellings kept) with `quantization_config` set to `recipe` (the
    /// text of `quantizationConfig`), replacing one that was there; with no original, an object holding only
    /// `quantization_config`. Written with two-space indentation, as transformers writes it.
    public static func modelConfig(original: [UInt8]?, recipe: String, path: String = "config.json") throws -> String {
        let quantization = try parseJSON(Array(recipe.utf8), what: "the quantization_config")
        var members: [StrictJSON.Member] = []
        if let original {
            guard case .object(let m) = try parseJSON(original, what: path) else {
                throw CompressionError("\(path): a model config must be a JSON object")
            }
            members = m.filter { $0.key != "quantization_config" }
        }
        members.append(StrictJSON.Member(key: "quantization_config", value: quantization))
        var out = ""
        writeJSON(.object(members), indent: 0, into: &out)
        return out + "\n"
    }

    // Out of line: the typed-throws parser inlined into an untyped caller crashes the Swift 6.3 optimiser.
    @inline(never)
    static func parseJSON(_ bytes: [UInt8], what: String) throws -> StrictJSON.Value {
        do { return try StrictJSON.parse(bytes) } catch { throw CompressionError("\(what): \(error.description)") }
    }

    static func writeJSON(_ v: StrictJSON.Value, indent: Int, into out: inout String) {
        let pad = String(repeating: "  ", count: indent + 1), close = String(repeating: "  ", count: indent)
        switch v {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let text): out += text
        case .string(let s): out += JSONText.quoted(s)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "[\n"
            for (i, e) in a.enumerated() {
                out += pad
                writeJSON(e, indent: indent + 1, into: &out)
                out += i + 1 < a.count ? ",\n" : "\n"
            }
            out += close + "]"
        case .object(let m):
            if m.isEmpty { out += "{}"; return }
            out += "{\n"
            for (i, e) in m.enumerated() {
                out += pad + JSONText.quoted(e.key) + ": "
                writeJSON(e.value, indent: indent + 1, into: &out)
                out += i + 1 < m.count ? ",\n" : "\n"
            }
            out += close + "}"
        }
    }
}
