/// The header of a NumPy `.npy` file (format versions 1.0, 2.0 and 3.0).
///
/// Layout: magic `\x93NUMPY`, major and minor version bytes, the header length (u16 LE in 1.0, u32 LE in
/// 2.0 and 3.0), then the header: a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and a newline
/// (latin-1 in 1.0/2.0, UTF-8 in 3.0). The literal is read by a small strict parser of Python literals
/// (strings, integers, True/False/None, tuples, lists, dicts) — nothing is evaluated and nothing unpickled.
struct NpyHeader {
    let dtype: DType
    let byteOrder: ByteOrder
    let fortranOrder: Bool
    let shape: [Int]
    /// Where the array data begins: magic + version + length field + header.
    let dataOffset: Int

    static let magic: [UInt8] = [0x93] + Array("NUMPY".utf8)
    /// numpy itself refuses headers above 10 000 bytes unless told otherwise; allow more, but bounded.
    static let maxHeaderBytes = 65_536
    /// Enough leading bytes to hold any header this reader accepts.
    static let maxPrefixBytes = 12 + maxHeaderBytes

    /// Reads the header from the start of `source`. `path` names the file (or `archive:member`) in errors.
    static func read(_ source: any ByteSource, path: String) throws -> NpyHeader {
        guard source.size >= 10 else {
            throw ModelError(path, "file is too small to be an .npy array (\(source.size) bytes)")
        }
        let head = try source.bytes(at: 0, count: 10)
        guard Array(head[0..<6]) == magic else {
            throw ModelError(path, "not an .npy file (bad magic; expected \\x93NUMPY)")
        }
        let major = head[6], minor = head[7]
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(head[8]) | Int(head[9]) << 8
            headerStart = 10
        case 2, 3:
            guard source.size >= 12 else { throw ModelError(path, "file is truncated inside the .npy preamble") }
            let b = try source.bytes(at: 8, count: 4)
            headerLength = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
            headerStart = 12
        default:
            throw ModelError(path, "unsupported .npy format version \(major).\(minor)")
        }
        guard minor == 0 else { throw ModelError(path, "unsupported .npy format version \(major).\(minor)") }
        guard headerLength <= maxHeaderBytes else {
            throw ModelError(path, ".npy header length \(headerLength) exceeds the \(maxHeaderBytes)-byte limit")
        }
        guard UInt64(headerStart + headerLength) <= source.size else {
            throw ModelError(path, ".npy header length \(headerLength) runs past the end of the file (\(source.size) bytes)")
        }
        let text = try source.bytes(at: UInt64(headerStart), count: headerLength)
        if major == 3 && String(validating: text, as: UTF8.self) == nil {
            throw ModelError(path, ".npy header is not valid UTF-8")
        }
        return try parse(text, utf8: major == 3, dataOffset: headerStart + headerLength, path: path)
    }

    static func parse(_ text: [UInt8], utf8: Bool, dataOffset: Int, path: String) throws -> NpyHeader {
        let literal: PyLiteral
        do {
            literal = try PyLiteralParser.parse(text, utf8: utf8)
        } catch {
            throw ModelError(path, ".npy header is not a Python dict literal: \(error.message) at byte \(error.offset)")
        }
        guard case .dict(let pairs) = literal else {
            throw ModelError(path, ".npy header is not a Python dict literal")
        }
        var descr: PyLiteral?, fortran: PyLiteral?, shapeValue: PyLiteral?
        for (key, value) in pairs {
            guard case .string(let k) = key else {
                throw ModelError(path, ".npy header has a key that is not a string")
            }
            switch k {
            case "descr": descr = value
            case "fortran_order": fortran = value
            case "shape": shapeValue = value
            default: throw ModelError(path, ".npy header has an unexpected key '\(DisplayText.escaped(k))'")
            }
        }
        guard let descr, let fortran, let shapeValue else {
            throw ModelError(path, ".npy header must have the keys 'descr', 'fortran_order' and 'shape'")
        }
        let (dtype, order) = try parseDescr(descr, path: path)
        guard case .bool(let fortranOrder) = fortran else {
            throw ModelError(path, ".npy header 'fortran_order' is not True or False")
        }
        guard case .tuple(let dims) = shapeValue else {
            throw ModelError(path, ".npy header 'shape' is not a tuple")
        }
        var shape: [Int] = []
        for d in dims {
            guard case .int(let v) = d, v >= 0 else {
                throw ModelError(path, ".npy header 'shape' holds something other than non-negative integers")
            }
            shape.append(v)
        }
        return NpyHeader(dtype: dtype, byteOrder: order, fortranOrder: fortranOrder, shape: shape, dataOffset: dataOffset)
    }

    /// `'<f4'` and friends. Byte order `<`, `=` and `|` read as little-endian (the machines weightlab runs on),
    /// `>` as big-endian.
    static func parseDescr(_ descr: PyLiteral, path: String) throws -> (DType, ByteOrder) {
        switch descr {
        case .string(let s):
            var chars = Array(s)
            var order = ByteOrder.little
            if let first = chars.first, "<>=|".contains(first) {
                order = first == ">" ? .big : .little
                chars.removeFirst()
            }
            let code = String(chars)
            if code.hasPrefix("O") {
                throw ModelError(path, "pickled object arrays are not supported (dtype '\(DisplayText.escaped(s))'); nothing is unpickled")
            }
            let dtype: DType
            switch code {
            case "f8": dtype = .float64
            case "f4": dtype = .float32
            case "f2": dtype = .float16
            case "i1": dtype = .int8
            case "u1": dtype = .uint8
            case "i2": dtype = .int16
            case "u2": dtype = .uint16
            case "i4": dtype = .int32
            case "u4": dtype = .uint32
            case "i8": dtype = .int64
            case "u8": dtype = .uint64
            case "b1", "?": dtype = .bool
            default:
                throw ModelError(path, "unsupported NumPy dtype '\(DisplayText.escaped(s))'")
            }
            return (dtype, order)
        case .list:
            throw ModelError(path, "structured dtypes are not supported (the 'descr' is a list of fields)")
        default:
            throw ModelError(path, ".npy header 'descr' is not a dtype string")
        }
    }
}

/// A Python literal as it can appear in an `.npy` header.
indirect enum PyLiteral {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyLiteral])
    case list([PyLiteral])
    case dict([(key: PyLiteral, value: PyLiteral)])
}

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
