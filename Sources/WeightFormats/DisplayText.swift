/// Untrusted text (tensor names, metadata, paths) made safe for a terminal: control characters, ESC, DEL,
/// C1 controls and bidi overrides are written as `\u{..}` escapes so they can never move the cursor,
/// change colours or reorder what the user reads.
public enum DisplayText {
    public static func escaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if isUnsafe(scalar) {
                out += "\\u{" + String(scalar.value, radix: 16) + "}"
            } else if scalar == "\\" {
                out += "\\\\"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func isUnsafe(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x00...0x1F, 0x7F...0x9F: return true                 // C0, DEL, C1 controls (ESC, CSI)
        case 0x200E, 0x200F, 0x061C: return true                   // direction marks
        case 0x202A...0x202E, 0x2066...0x2069: return true         // bidi embeddings, overrides, isolates
        case 0x2028, 0x2029, 0xFEFF: return true                   // line/paragraph separators, BOM
        default: return false
        }
    }
}
