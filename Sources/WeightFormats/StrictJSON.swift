/// The one strict JSON reader for untrusted JSON: plan files, safetensors headers and shard index files.
///
/// Why not Foundation's `JSONSerialization`: it is lenient in ways that hide mistakes in a hand-written plan
/// (DESIGN.md §10) and accepts headers the safetensors reference refuses: duplicate keys silently collapse to
/// one, `true` and `1` are both `NSNumber`, `4.0`, `4` and `4e0` are indistinguishable, a byte-order mark is
/// accepted, and object keys lose their order. This reader follows RFC 8259 exactly, checks the bytes are
/// UTF-8, keeps members in file order (duplicates included, so each caller can reject them and name them in
/// its own terms), keeps each number as its source text so integer fields can reject `4.5`, `4.0` and `1e3`
/// alike, and bounds nesting so hostile input cannot exhaust the stack.
///
/// Everything lives under `StrictJSON` so the name `JSONValue` stays free for the command line's JSON writer.
public enum StrictJSON {
    public indirect enum Value: Equatable, Sendable {
        case null
        case bool(Bool)
        /// The number exactly as written (valid JSON number syntax).
        case number(String)
        case string(String)
        case array([Value])
        /// Members in file order; duplicate keys are kept for the caller to reject.
        case object([Member])
    }

    public struct Member: Equatable, Sendable {
        public let key: String
        public let value: Value

        public init(key: String, value: Value) {
            self.key = key
            self.value = value
        }
    }

    /// Where and why the text is not JSON. `line` and `column` count from 1; columns count characters.
    /// `offset` is the same place as a byte offset into the parsed bytes, for binary containers (a
    /// safetensors header sits inside a larger file and is usually one long line).
    public struct SyntaxError: Error, CustomStringConvertible, Equatable, Sendable {
        public let line: Int
        public let column: Int
        public let offset: Int
        public let reason: String
        /// Line 0 marks a problem with the file as a whole (it is empty), which has no position.
        public var description: String { line == 0 ? reason : "invalid JSON at line \(line), column \(column): \(reason)" }

        public init(line: Int, column: Int, offset: Int, reason: String) {
            self.line = line
            self.column = column
            self.offset = offset
            self.reason = reason
        }
    }

    /// Deep enough for any plan (five levels) or safetensors header (three); shallow enough that hostile input cannot exhaust
    /// the stack.
    public static let maximumDepth = 64

    /// Parses the one JSON value `bytes` hold; only JSON whitespace may surround it. Refuses a byte-order
    /// mark, bytes that are not UTF-8, empty input and anything RFC 8259 does not allow.
    public static func parse(_ bytes: [UInt8]) throws(SyntaxError) -> Value {
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) {
            throw SyntaxError(line: 1, column: 1, offset: 0, reason: "the file starts with a byte-order mark, which JSON does not allow")
        }
        if let bad = firstInvalidUTF8(bytes) {
            var p = Parser(bytes: bytes)
            p.index = bad
            throw p.error("the file is not valid UTF-8 (byte offset \(bad))")
        }
        var p = Parser(bytes: bytes)
        p.skipWhitespace()
        if p.index == bytes.count { throw SyntaxError(line: 0, column: 0, offset: 0, reason: "the file is empty (expected a JSON object)") }
        let v = try p.value(depth: 0)
        p.skipWhitespace()
        if p.index != bytes.count { throw p.error("unexpected text after the JSON value") }
        return v
    }

    /// Offset of the first byte that does not start a well-formed UTF-8 sequence, or nil when all is valid.
    public static func firstInvalidUTF8(_ bytes: [UInt8]) -> Int? {
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF     // range of the second byte (overlongs, surrogates)
            switch b {
            case 0x00...0x7F: i += 1; continue
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return i
            }
            guard i + length <= bytes.count else { return i }
            guard bytes[i + 1] >= low && bytes[i + 1] <= high else { return i }
            for k in 2..<length where bytes[i + k] & 0xC0 != 0x80 { return i }
            i += length
        }
        return nil
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func error(_ reason: String) -> SyntaxError {
            var line = 1, column = 1
            for b in bytes[0..<min(index, bytes.count)] {
                if b == UInt8(ascii: "\n") { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
            }
            return SyntaxError(line: line, column: column, offset: index, reason: reason)
        }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
        }

        /// What the text holds at the current position, for messages.
        func found() -> String {
            guard let b = current else { return "the end of the file" }
            if b >= 0x21 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
            return "byte 0x" + String(b, radix: 16)
        }

        mutating func value(depth: Int) throws(SyntaxError) -> Value {
            guard depth < StrictJSON.maximumDepth else { throw error("nested deeper than \(StrictJSON.maximumDepth) levels") }
            guard let b = current else { throw error("expected a value, found the end of the file") }
            switch b {
            case UInt8(ascii: "{"): return try object(depth: depth)
            case UInt8(ascii: "["): return try array(depth: depth)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw error("expected a value, found \(found())")
            }
        }

        mutating func literal(_ word: String) throws(SyntaxError) {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<(index + w.count)]) == w else {
                throw error("expected a value, found \(found())")
            }
            index += w.count
        }

        mutating func object(depth: Int) throws(SyntaxError) -> Value {
            index += 1
            var members: [Member] = []
            skipWhitespace()
            if current == UInt8(ascii: "}") { index += 1; return .object(members) }
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw error("expected a key in double quotes, found \(found())") }
                let key = try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw error("expected ':' after a key, found \(found())") }
                index += 1
                skipWhitespace()
                members.append(Member(key: key, value: try value(depth: depth + 1)))
                skipWhitespace()
                if current == UInt8(ascii: ",") { index += 1; continue }
                if current == UInt8(ascii: "}") { index += 1; return .object(members) }
                throw error("expected ',' or '}' in an object, found \(found())")
            }
        }

        mutating func array(depth: Int) throws(SyntaxError) -> Value {
            index += 1
            var items: [Value] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { index += 1; return .array(items) }
            while true {
                skipWhitespace()
                items.append(try value(depth: depth + 1))
                skipWhitespace()
                if current == UInt8(ascii: ",") { index += 1; continue }
                if current == UInt8(ascii: "]") { index += 1; return .array(items) }
                throw error("expected ',' or ']' in an array, found \(found())")
            }
        }

        /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, returned as written.
        mutating func number() throws(SyntaxError) -> String {
            let start = index
            if current == UInt8(ascii: "-") { index += 1 }
            func isDigit(_ b: UInt8?) -> Bool { b.map { $0 >= 0x30 && $0 <= 0x39 } ?? false }
            guard isDigit(current) else { throw error("expected a digit in a number, found \(found())") }
            if current == UInt8(ascii: "0") {
                index += 1
                if isDigit(current) { throw error("numbers may not have leading zeros") }
            } else {
                while isDigit(current) { index += 1 }
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard isDigit(current) else { throw error("expected a digit after '.', found \(found())") }
                while isDigit(current) { index += 1 }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard isDigit(current) else { throw error("expected a digit in the exponent, found \(found())") }
                while isDigit(current) { index += 1 }
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        /// A string at the opening quote. The input is already known to be valid UTF-8, so raw bytes are copied.
        mutating func string() throws(SyntaxError) -> String {
            index += 1
            var out: [UInt8] = []
            while true {
                guard let b = current else { throw error("unterminated string") }
                if b == UInt8(ascii: "\"") { index += 1; break }
                if b < 0x20 { throw error("control character 0x\(String(b, radix: 16)) in a string must be escaped") }
                if b != UInt8(ascii: "\\") { out.append(b); index += 1; continue }
                index += 1
                guard let e = current else { throw error("unterminated string") }
                index += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if scalar >= 0xD800 && scalar <= 0xDBFF {
                        guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                            throw error("unpaired surrogate \\u\(String(scalar, radix: 16)) in a string")
                        }
                        index += 2
                        let low = try hex4()
                        guard low >= 0xDC00 && low <= 0xDFFF else { throw error("unpaired surrogate \\u\(String(scalar, radix: 16)) in a string") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if scalar >= 0xDC00 && scalar <= 0xDFFF {
                        throw error("unpaired surrogate \\u\(String(scalar, radix: 16)) in a string")
                    }
                    out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                default:
                    index -= 1
                    throw error("unknown escape '\\\(Character(Unicode.Scalar(e)))' in a string")
                }
            }
            return String(decoding: out, as: UTF8.self)
        }

        mutating func hex4() throws(SyntaxError) -> UInt32 {
            var v: UInt32 = 0
            for _ in 0..<4 {
                guard let b = current else { throw error("expected four hex digits after \\u") }
                let d: UInt32
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - 0x30)
                case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - 0x61 + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - 0x41 + 10)
                default: throw error("expected four hex digits after \\u, found \(found())")
                }
                v = v * 16 + d
                index += 1
            }
            return v
        }
    }
}
