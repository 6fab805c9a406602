import WeightFormats

/// The table of codecs: the only vocabulary of quantization formats. The plan parser and writer, the size
/// model, the level finder, the settings text, the workbench's cycles and settings pane all read it. Order
/// matters: it is the order of the format key's cycle and of the plan keys in messages.
public enum Codecs {
    public static let all: [any Codec.Type] = [
        IntCodec.self, NF4Codec.self, FP8Codec.self, GGMLBlockCodec.self, KMeansCodec.self,
    ]

    /// Plan `format` names, `none` first.
    static let planFormats: [String] = ["none"] + all.flatMap { $0.planFormats }

    /// Every plan key of a quantize section, `format` first, each once.
    static let planKeys: [String] = {
        var keys = ["format"]
        for c in all { for k in c.planKeys where !keys.contains(k) { keys.append(k) } }
        return keys
    }()

    /// The codec type that reads plan format `name`.
    static func reading(_ name: String) -> (any Codec.Type)? {
        all.first { $0.planFormats.contains(name) }
    }

    /// One setting per cycle step that fits `shape`, in table order: where the format key goes.
    public static func cycle(for shape: [Int]) -> [QuantFormat] {
        var seen: Set<String> = []
        var out: [QuantFormat] = []
        for c in all {
            for f in c.candidates(for: shape) {
                guard let step = f.codec?.cycleStep, !seen.contains(step) else { continue }
                seen.insert(step)
                out.append(f)
            }
        }
        return out
    }
}

extension QuantFormat {
    /// This format's codec (nil for `.none`).
    public var codec: (any Codec)? {
        if self == .none { return nil }
        for c in Codecs.all { if let codec = c.init(self) { return codec } }
        return nil
    }
}

/// A quantize section's fields as a codec's `parse` reads them: typed values with the plan's strict rules
/// and messages that name the field.
public struct PlanFields {
    let reader: PlanReader
    let fields: PlanReader.Fields
    /// The section's own path, e.g. `rules[0].quantize`.
    let path: String

    func field(_ key: String) -> String { FieldPath.join(path, key) }

    func has(_ key: String) -> Bool { fields[key] != nil }

    func integer(_ key: String, in range: ClosedRange<Int>, default value: Int? = nil) throws(PlanError) -> Int {
        guard let v = fields[key] else {
            if let value { return value }
            throw reader.fail(field(key), "missing")
        }
        return try reader.integer(v, at: field(key), in: range)
    }

    func bool(_ key: String, default value: Bool) throws(PlanError) -> Bool {
        guard let v = fields[key] else { return value }
        return try reader.bool(v, at: field(key))
    }

    func granularity(_ key: String, groups: Bool, default value: Granularity) throws(PlanError) -> Granularity {
        guard let v = fields[key] else { return value }
        return try reader.granularity(v, at: field(key), groups: groups)
    }

    func clipping(_ key: String, default value: Clipping) throws(PlanError) -> Clipping {
        guard let v = fields[key] else { return value }
        return try reader.clipping(v, at: field(key))
    }

    func choice(_ key: String, _ options: [String]) throws(PlanError) -> String {
        try reader.choice(fields, key, at: path, options)
    }
}
