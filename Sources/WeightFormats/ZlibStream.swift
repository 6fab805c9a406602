import Foundation
import ZIPFoundation

/// Inflates a zlib stream held in memory (HDF5's deflate filter) through ZIPFoundation's zlib binding, the
/// same one `InflatedMemberSource` uses for zip members. The 2-byte zlib header is checked and skipped (the
/// binding inflates raw deflate); output beyond `limit` bytes stops the inflation (no decompression bomb).
enum ZlibStream {
    private struct Overflow: Error {}
    private struct Truncated: Error {}

    static func inflate(_ input: [UInt8], limit: Int, path: String, what: String) throws -> [UInt8] {
        guard input.count >= 2, input[0] & 0x0F == 8, (UInt16(input[0]) << 8 | UInt16(input[1])) % 31 == 0 else {
            throw ModelError(path, "\(what): not a zlib stream")
        }
        guard input[1] & 0x20 == 0 else { throw ModelError(path, "\(what): zlib preset dictionaries are not supported") }
        return try inflateRaw(input, from: 2, to: input.count, limit: limit, path: path, what: what)
    }

    /// Inflates the raw deflate data `input[start..<end]`, stopping with an error past `limit` output bytes.
    static func inflateRaw(_ input: [UInt8], from start: Int, to end: Int, limit: Int, path: String, what: String) throws -> [UInt8] {
        let chunk = 1 << 16
        var delivered = start
        var out: [UInt8] = []
        do {
            _ = try Data.decompress(size: Int64(end - start), bufferSize: chunk, skipCRC32: true,
                provider: { _, _ in
                    guard delivered < end else { throw Truncated() }
                    let n = min(chunk, end - delivered)
                    var data = Data(input[delivered..<(delivered + n)])
                    if n < chunk { data.append(Data(count: chunk - n)) }
                    delivered += n
                    return data
                },
                consumer: { data in
                    guard data.count <= limit - out.count else { throw Overflow() }
                    out.append(contentsOf: data)
                })
        } catch is Overflow {
            throw ModelError(path, "\(what): inflates to more than the \(limit) bytes expected")
        } catch is Truncated {
            throw ModelError(path, "\(what): deflate stream is truncated")
        } catch {
            throw ModelError(path, "\(what): corrupt deflate data")
        }
        return out
    }
}
