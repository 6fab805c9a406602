import Foundation

/// Reads one safetensors file (a sharded model is read through its index by `SafetensorsIndexReader`).
///
/// A file is `u64 LE N`, N bytes of JSON header, then the data section; `data_offsets` are relative to the
/// data section. Validation follows the Rust reference (`safetensors` crate): header at most 100 MB and inside
/// the file, valid UTF-8 starting with `{`, known dtypes, offsets that are plain non-negative integers, each
/// tensor's byte range equal to `product(shape) · dtype size`, and the ranges, sorted by offset, tiling the
/// data section from 0 to the end of the file with no overlap and no gap. Stricter than Foundation's JSON:
/// duplicate keys, `1e3`, floats and negative numbers are refused (see `StrictJSON` and `parseJSON`).
///
/// Tensor order: the data-section (offset) order, which is the order the reference library writes header
/// entries in and what `safe_open(...).offset_keys()` returns (`keys()` sorts by name instead). Tensors that
/// share an offset (empty tensors) keep their header order.
public enum SafetensorsReader: ModelReader {
    public static let name = "safetensors"
    public static let fileExtensions = [".safetensors"]

    /// The reference implementation's header bound (`MAX_HEADER_SIZE`).
    public static let maxHeaderBytes: UInt64 = 100_000_000
    /// The reference writer pads the header with spaces to a multiple of this, so the data section (and
    /// every tensor in it, for the usual dtypes) starts 8-byte aligned. Readers do not require it.
    public static let headerAlignment = 8

    /// No magic number: a u64 header length, then a JSON object, so byte 8 is `{` (a guess, since other
    /// formats can have that byte there by chance); failing that, the name.
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        if head.count >= 9 && head[8] == UInt8(ascii: "{") { return .guess }
        return name.hasSuffix(".safetensors") ? .guess : nil
    }

    public static func open(_ source: FileSource) throws -> Model {
        let parsed = try parse(source)
        return Model(path: source.path, format: .safetensors, metadata: parsed.metadata, tensors: parsed.tensors)
    }

    /// One parsed safetensors file: tensors in offset order and `__metadata__` in header order.
    struct Parsed {
        var metadata: [(key: String, value: MetadataValue)]
        var tensors: [Tensor]
    }

    static func parse(_ source: any ByteSource) throws -> Parsed {
        let path = source.path
        guard source.size >= 8 else {
            throw ModelError(path, "file is too small for a safetensors header (\(source.size) bytes)")
        }
        let lengthBytes = try source.bytes(at: 0, count: 8)
        var n: UInt64 = 0
        for (k, b) in lengthBytes.enumerated() { n |= UInt64(b) << (8 * UInt64(k)) }
        // A file whose JSON header does not open with "{" right after the length is most likely not a
        // safetensors file at all (a text file renamed, say): say that first, then the detail.
        let opening = source.size >= 9 ? try source.bytes(at: 8, count: 1) : [UInt8(ascii: "{")]
        let notSafetensors = opening != [UInt8(ascii: "{")] ? "is not a safetensors file (no JSON header after the first 8 bytes): " : ""
        guard n <= maxHeaderBytes else {
            throw ModelError(path, notSafetensors + "header length \(n) exceeds the 100 MB limit of the safetensors format")
        }
        guard n <= source.size - 8 else {
            throw ModelError(path, notSafetensors + "header length \(n) runs past the end of the file (\(source.size) bytes)")
        }
        let headerBytes = try source.bytes(at: 8, count: Int(n))
        // Encoding first, so the message names the header; the parser's own check of the same bytes then passes.
        if let bad = StrictJSON.firstInvalidUTF8(headerBytes) {
            throw ModelError(path, "header is not valid UTF-8 (byte \(bad + 8))")
        }
        guard headerBytes.first == UInt8(ascii: "{") else {
            throw ModelError(path, "header is not a JSON object (it must start with '{')")
        }
        let json = try parseJSON(headerBytes, "header", startingAtByte: 8, path: path)
        guard case .object(let entries) = json else {
            throw ModelError(path, "header is not a JSON object")
        }

        let dataStart = 8 + n
        let dataSize = source.size - dataStart
        var metadata: [(key: String, value: MetadataValue)] = []
        struct Entry { let name: String; let dtype: DType; let shape: [Int]; let begin: Int; let end: Int; let order: Int }
        var list: [Entry] = []
        list.reserveCapacity(entries.count)

        for (order, member) in entries.enumerated() {
            let name = member.key, info = member.value
            if name == "__metadata__" {
                metadata = try metadataMap(info, path: path)
                continue
            }
            let shown = DisplayText.escaped(name)
            guard case .object(let fields) = info else {
                throw ModelError(path, "tensor '\(shown)': entry is \(info.kindName), not an object")
            }
            func field(_ key: String) throws -> StrictJSON.Value {
                guard let v = fields.first(where: { $0.key == key })?.value else {
                    throw ModelError(path, "tensor '\(shown)': missing \"\(key)\"")
                }
                return v
            }
            guard case .string(let dtypeName) = try field("dtype") else {
                throw ModelError(path, "tensor '\(shown)': dtype is \(try field("dtype").kindName), not a string")
            }
            guard let dtype = DType(safetensorsName: dtypeName) else {
                throw ModelError(path, "tensor '\(shown)': unknown dtype '\(DisplayText.escaped(dtypeName))'")
            }
            guard case .array(let dims) = try field("shape") else {
                throw ModelError(path, "tensor '\(shown)': shape is \(try field("shape").kindName), not an array")
            }
            var shape: [Int] = []
            shape.reserveCapacity(dims.count)
            for d in dims {
                guard let v = d.nonNegativeInt else {
                    throw ModelError(path, "tensor '\(shown)': shape entry \(d.shortText) is not a non-negative integer")
                }
                shape.append(v)
            }
            let offsetsValue = try field("data_offsets")
            guard case .array(let offs) = offsetsValue, offs.count == 2 else {
                throw ModelError(path, "tensor '\(shown)': data_offsets must be two non-negative integers, found \(offsetsValue.kindName)")
            }
            guard let begin = offs[0].nonNegativeInt, let end = offs[1].nonNegativeInt else {
                throw ModelError(path, "tensor '\(shown)': data_offsets [\(offs[0].shortText), \(offs[1].shortText)] must be two non-negative integers")
            }
            guard end >= begin else {
                throw ModelError(path, "tensor '\(shown)': data_offsets [\(begin), \(end)] end before they begin")
            }
            guard let count = Shape.elementCount(shape), let bytes = dtype.byteCount(elements: count) else {
                throw ModelError(path, "tensor '\(shown)': shape \(shape) overflows the element count")
            }
            guard end - begin == bytes else {
                throw ModelError(path, "tensor '\(shown)': data_offsets [\(begin), \(end)] do not match \(dtype) \(shape) (\(bytes) bytes)")
            }
            guard UInt64(end) <= dataSize else {
                throw ModelError(path, "tensor '\(shown)': data_offsets [\(begin), \(end)] lie beyond the end of the data section (\(dataSize) bytes)")
            }
            list.append(Entry(name: name, dtype: dtype, shape: shape, begin: begin, end: end, order: order))
        }

        // Sorted by offset, the ranges must tile [0, dataSize) exactly.
        list.sort { ($0.begin, $0.end, $0.order) < ($1.begin, $1.end, $1.order) }
        var position = 0
        var previous: Entry?
        for e in list {
            if e.begin < position, let p = previous {
                throw ModelError(path, "tensors '\(DisplayText.escaped(p.name))' and '\(DisplayText.escaped(e.name))' overlap (data_offsets [\(p.begin), \(p.end)] and [\(e.begin), \(e.end)])")
            }
            if e.begin > position {
                if let p = previous {
                    throw ModelError(path, "gap in the data section: '\(DisplayText.escaped(p.name))' ends at \(position) but '\(DisplayText.escaped(e.name))' begins at \(e.begin)")
                }
                throw ModelError(path, "gap in the data section: the first tensor '\(DisplayText.escaped(e.name))' begins at \(e.begin), not 0")
            }
            position = e.end
            previous = e
        }
        if UInt64(position) != dataSize {
            throw ModelError(path, "\(dataSize - UInt64(position)) bytes after the last tensor are not described by the header")
        }

        var tensors: [Tensor] = []
        tensors.reserveCapacity(list.count)
        for e in list {
            let slice = try SliceSource(source, offset: dataStart + UInt64(e.begin), count: UInt64(e.end - e.begin))
            tensors.append(try Tensor(name: e.name, dtype: e.dtype, shape: e.shape, data: slice))
        }
        return Parsed(metadata: metadata, tensors: tensors)
    }

    private static func metadataMap(_ value: StrictJSON.Value, path: String) throws -> [(key: String, value: MetadataValue)] {
        switch value {
        case .null:
            return []
        case .object(let pairs):
            return try pairs.map { pair in
                guard case .string(let s) = pair.value else {
                    throw ModelError(path, "__metadata__ entry '\(DisplayText.escaped(pair.key))' is \(pair.value.kindName), not a string")
                }
                return (pair.key, .string(s))
            }
        default:
            throw ModelError(path, "__metadata__ is \(value.kindName), not an object of strings")
        }
    }

    /// Parses a header or index with the shared strict reader and refuses duplicate keys at any depth (the
    /// reader keeps them for its callers to name). `startingAtByte` places the JSON inside a binary file, whose
    /// errors give the file's byte offset; nil means a text file, whose errors give a line and column.
    ///
    /// Out of line: Swift 6.3's release optimiser crashes on typed-throws calls inlined into untyped code.
    @inline(never)
    static func parseJSON(_ bytes: [UInt8], _ what: String, startingAtByte base: Int?, path: String) throws -> StrictJSON.Value {
        let json: StrictJSON.Value
        do {
            json = try StrictJSON.parse(bytes)
        } catch {
            let place = if let base { " at byte \(error.offset + base)" }
                        else if error.line > 0 { " at line \(error.line), column \(error.column)" }
                        else { "" }
            throw ModelError(path, "\(what) is not valid JSON\(place): \(error.reason)")
        }
        if let duplicate = json.firstDuplicateKey {
            let inside = duplicate.within.map { " in '\(DisplayText.escaped($0))'" } ?? ""
            throw ModelError(path, "\(what) has a duplicate key '\(DisplayText.escaped(duplicate.key))'\(inside)")
        }
        return json
    }
}

extension ModelFormat {
    public static let safetensors = ModelFormat(rawValue: "safetensors")
}

// MARK: - Reading header values

/// What the safetensors reader asks of parsed JSON: plain integers, duplicate keys, and words for messages.
extension StrictJSON.Value {
    /// The value of a number written as a plain non-negative integer (`0`, `42`) that fits in Int;
    /// nil for `1e3`, `1.0`, `-1`, `-0`, strings and everything else.
    var nonNegativeInt: Int? {
        guard case .number(let text) = self, !text.isEmpty,
              text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else { return nil }
        return Int(text)
    }

    /// Short description of the kind of value, for error messages.
    var kindName: String {
        switch self {
        case .object: "an object"
        case .array: "an array"
        case .string: "a string"
        case .number(let t): "the number \(t)"
        case .bool(let b): b ? "true" : "false"
        case .null: "null"
        }
    }

    /// The number as text in a message, or its kind.
    var shortText: String {
        switch self {
        case .number(let t): t
        case .string(let s): "\"" + DisplayText.escaped(String(s.prefix(40))) + "\""
        default: kindName
        }
    }

    /// The first key, in file order, that repeats within its object anywhere in this value, with the key of
    /// the top-level member it sits under (nil when the repeated key is itself top-level). Recursion is
    /// bounded by `StrictJSON.maximumDepth`.
    var firstDuplicateKey: (key: String, within: String?)? {
        func repeated(_ v: StrictJSON.Value) -> String? {
            switch v {
            case .object(let members):
                var seen = Set<String>()
                for m in members {
                    if !seen.insert(m.key).inserted { return m.key }
                    if let k = repeated(m.value) { return k }
                }
            case .array(let items):
                for item in items { if let k = repeated(item) { return k } }
            case .string, .number, .bool, .null:
                break
            }
            return nil
        }
        guard case .object(let members) = self else { return repeated(self).map { ($0, nil) } }
        var seen = Set<String>()
        for m in members {
            if !seen.insert(m.key).inserted { return (m.key, nil) }
            if let k = repeated(m.value) { return (k, m.key) }
        }
        return nil
    }
}
