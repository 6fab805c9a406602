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
