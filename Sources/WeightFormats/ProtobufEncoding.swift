/// The protobuf wire format written: varints, field keys and length prefixes, so a writer can stream a
/// message whose payload sizes it knows beforehand (the ONNX writer copies the input's fields byte for byte
/// and adds its own, never building the whole model in memory).
public enum ProtobufEncoding {
    public static func varint(_ value: UInt64) -> [UInt8] {
        var v = value, out: [UInt8] = []
        repeat {
            out.append(UInt8(v & 0x7F) | (v > 0x7F ? 0x80 : 0))
            v >>= 7
        } while v > 0
        return out
    }

    public static func varintSize(_ value: UInt64) -> Int { varint(value).count }

    /// Key of field `number` with wire type 0 (varint) or 2 (length-delimited).
    public static func key(_ number: Int, lengthDelimited: Bool) -> [UInt8] {
        varint(UInt64(number) << 3 | (lengthDelimited ? 2 : 0))
    }

    /// Key and length prefix of a length-delimited field holding `count` bytes.
    public static func header(_ number: Int, count: Int) -> [UInt8] {
        key(number, lengthDelimited: true) + varint(UInt64(count))
    }

    /// A whole length-delimited field.
    public static func field(_ number: Int, _ payload: [UInt8]) -> [UInt8] { header(number, count: payload.count) + payload }

    public static func field(_ number: Int, _ text: String) -> [UInt8] { field(number, Array(text.utf8)) }

    /// A varint field (an int64 as its two's-complement bits, as protobuf encodes negative int64s).
    public static func field(_ number: Int, int value: Int64) -> [UInt8] {
        key(number, lengthDelimited: false) + varint(UInt64(bitPattern: value))
    }
}
