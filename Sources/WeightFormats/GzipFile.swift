import Foundation

/// A gzip file (RFC 1952, one member) read whole into memory: Debian ships Fashion-MNIST's IDX files this way.
/// Bounded: the output may not exceed `limit` nor the size the trailer records (ISIZE), and it must come out
/// exactly that size, so a truncated or doctored file is one `ModelError`, never a huge allocation.
public enum GzipFile {
    /// True when `bytes` start with the gzip magic.
    public static func isGzip(_ bytes: [UInt8]) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    public static func inflate(_ input: [UInt8], limit: Int, path: String) throws -> [UInt8] {
        guard input.count >= 18, isGzip(input) else { throw ModelError(path, "not a gzip file (or shorter than a gzip header and trailer)") }
        guard input[2] == 8 else { throw ModelError(path, "gzip compression method \(input[2]) is not deflate") }
        let flags = input[3]
        var at = 10
        func need(_ n: Int, _ what: String) throws {
            guard n >= 0, at + n <= input.count - 8 else { throw ModelError(path, "gzip header: \(what) runs past the end of the file") }
        }
        if flags & 0x04 != 0 {   // FEXTRA
            try need(2, "extra field length")
            let xlen = Int(input[at]) | Int(input[at + 1]) << 8
            at += 2
            try need(xlen, "extra field")
            at += xlen
        }
        for bit in [UInt8(0x08), 0x10] where flags & bit != 0 {   // FNAME, FCOMMENT: zero-terminated
            guard let end = input[at..<(input.count - 8)].firstIndex(of: 0) else {
                throw ModelError(path, "gzip header: \(bit == 0x08 ? "file name" : "comment") is not terminated")
            }
            at = end + 1
        }
        if flags & 0x02 != 0 { try need(2, "header CRC"); at += 2 }
        let n = input.count
        let recorded = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
        guard recorded <= limit else {
            throw ModelError(path, "gzip trailer records \(recorded) bytes, more than the \(limit) allowed")
        }
        let out = try ZlibStream.inflateRaw(input, from: at, to: n - 8, limit: recorded, path: path, what: "gzip data")
        guard out.count == recorded else {
            throw ModelError(path, "gzip data inflates to \(out.count) bytes, the trailer records \(recorded) (truncated or corrupt)")
        }
        return out
    }
}
