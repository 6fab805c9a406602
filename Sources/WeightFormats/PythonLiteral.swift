/// A Python literal: the values `repr` writes for strings, integers, booleans, None and containers. Read by
/// `PyLiteralParser` for the `.npy` header dict today and for PyTorch's pickled literals later; kept apart
/// from both so each format shares one strict reader.
indirect enum PyLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyLiteral])
    case list([PyLiteral])
    case dict([(key: PyLiteral, value: PyLiteral)])
}

/// Why a literal did not parse and at which byte of the text.
struct PyLiteralError: Error {
    let message: String
    let offset: Int
}

/// Strict parser for the subset of Python literal syntax numpy writes: no expressions, no names other than
/// True/False/None, decimal integers only (an old `L` suffix is accepted), nesting bounded.
struct PyLiteralParser {
    static let maxDepth = 32
    private let bytes: [UInt8]
    private let utf8: Bool
    private var i = 0

    static func parse(_ bytes: [UInt8], utf8: Bool) throws(PyLiteralError) -> PyLiteral {
        var p = PyLiteralParser(bytes: bytes, utf8: utf8)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        guard p.i == bytes.count else { throw p.fail("unexpected text after the literal") }
        return v
    }

    private init(bytes: [UInt8], utf8: Bool) { self.bytes = bytes; self.utf8 = utf8 }

    private func fail(_ m: String) -> PyLiteralError { PyLiteralError(message: m, offset: i) }

    private mutating func skipSpace() {
        while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
    }

    private mutating func value(depth: Int) throws(PyLiteralError) -> PyLiteral {
        guard depth < Self.maxDepth else { throw fail("nested too deeply") }
        guard i < bytes.count else { throw fail("unexpected end") }
        let c = bytes[i]
        switch c {
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "{"): return try dict(depth: depth)
        case UInt8(ascii: "("): return try sequence(close: UInt8(ascii: ")"), depth: depth, tuple: true)
        case UInt8(ascii: "["): return try sequence(close: UInt8(ascii: "]"), depth: depth, tuple: false)
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try integer())
        default:
            for (word, v) in [("True", PyLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let w = Array(word.utf8)
                if i + w.count <= bytes.count, Array(bytes[i..<(i + w.count)]) == w {
                    let after = i + w.count
                    if after < bytes.count, isIdentifierByte(bytes[after]) { break }
                    i = after
                    return v
                }
            }
            throw fail("unexpected character")
        }
    }

    private func isIdentifierByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9")) || b == UInt8(ascii: "_") || b >= 0x80
    }

    private mutating func integer() throws(PyLiteralError) -> Int {
        var negative = false
        if bytes[i] == UInt8(ascii: "-") { negative = true; i += 1 }
        var v = 0
        var digits = 0
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            let (m, o1) = v.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(bytes[i] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw fail("integer too large") }
            v = a
            digits += 1
            i += 1
        }
        guard digits > 0 else { throw fail("invalid integer") }
        if i < bytes.count, bytes[i] == UInt8(ascii: "L") { i += 1 }
        if i < bytes.count, isIdentifierByte(bytes[i]) || bytes[i] == UInt8(ascii: ".") {
            throw fail("only plain integers are allowed")
        }
        return negative ? -v : v
    }

    private mutating func string() throws(PyLiteralError) -> String {
        let quote = bytes[i]
        i += 1
        var out: [UInt8] = []
        while true {
            guard i < bytes.count else { throw fail("unterminated string") }
            let c = bytes[i]
            if c == quote { i += 1; break }
            if c == 0x0A { throw fail("newline inside a string") }
            if c == UInt8(ascii: "\\") {
                guard i + 1 < bytes.count else { throw fail("unterminated string") }
                let e = bytes[i + 1]
                switch e {
                case UInt8(ascii: "\\"), UInt8(ascii: "'"), UInt8(ascii: "\""): out.append(e)
                default: throw fail("unsupported escape in string")
                }
                i += 2
                continue
            }
            out.append(c)
            i += 1
        }
        if utf8 { return String(decoding: out, as: UTF8.self) }
        var s = ""
        for b in out { s.unicodeScalars.append(Unicode.Scalar(b)) }   // latin-1
        return s
    }

    private mutating func sequence(close: UInt8, depth: Int, tuple: Bool) throws(PyLiteralError) -> PyLiteral {
        i += 1
        var items: [PyLiteral] = []
        var sawComma = false
        while true {
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end inside a sequence") }
            if bytes[i] == close { i += 1; break }
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end inside a sequence") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; sawComma = true; continue }
            guard bytes[i] == close else { throw fail("expected ',' or a closing bracket") }
            i += 1
            break
        }
        if tuple {
            // `(3)` is the integer 3 in Python, not a tuple.
            if items.count == 1 && !sawComma { return items[0] }
            return .tuple(items)
        }
        return .list(items)
    }

    private mutating func dict(depth: Int) throws(PyLiteralError) -> PyLiteral {
        i += 1
        var pairs: [(key: PyLiteral, value: PyLiteral)] = []
        var stringKeys = Set<String>()
        while true {
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end inside a dict") }
            if bytes[i] == UInt8(ascii: "}") { i += 1; break }
            let keyOffset = i
            let key = try value(depth: depth + 1)
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            let v = try value(depth: depth + 1)
            if case .string(let k) = key, !stringKeys.insert(k).inserted {
                throw PyLiteralError(message: "duplicate key", offset: keyOffset)
            }
            pairs.append((key, v))
            skipSpace()
            guard i < bytes.count else { throw fail("unexpected end inside a dict") }
            if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
            guard bytes[i] == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
            i += 1
            break
        }
        return .dict(pairs)
    }
}
