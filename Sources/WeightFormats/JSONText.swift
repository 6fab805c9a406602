/// JSON string literals for everything weightlab writes (plans, `--json` output). Control characters and the
/// invisible and bidi characters that could disguise a name in a terminal are written as `\u` escapes, so
/// JSON output is as safe to print as the tables are; everything else is written as UTF-8.
public enum JSONText {
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if DisplayText.isUnsafe(scalar) {   // all unsafe scalars are in the BMP
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
