import Foundation

/// Sizes as users write them on the command line and in plans: `3.5 GiB`, `900MB`, `15 MiB`, `123456`.
public enum ByteSize {
    /// Binary units (KiB…TiB, and K/M/G/T as their shorthand) are powers of 1024, decimal ones (KB…TB)
    /// powers of 1000; a bare number is bytes. Case is ignored; a space before the unit is optional. Nil for
    /// anything else, a negative or non-finite number, or a size beyond what an Int holds.
    public static func parse(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        let numberEnd = t.firstIndex { !($0.isNumber || $0 == ".") } ?? t.endIndex
        guard let value = Double(t[..<numberEnd]), value.isFinite, value >= 0 else { return nil }
        let unit = t[numberEnd...].trimmingCharacters(in: .whitespaces).lowercased()
        let scale: Double
        switch unit {
        case "", "b": scale = 1
        case "k", "kib": scale = 1024
        case "m", "mib": scale = 1024 * 1024
        case "g", "gib": scale = 1024 * 1024 * 1024
        case "t", "tib": scale = 1024 * 1024 * 1024 * 1024
        case "kb": scale = 1e3
        case "mb": scale = 1e6
        case "gb": scale = 1e9
        case "tb": scale = 1e12
        default: return nil
        }
        let bytes = (value * scale).rounded(.down)
        guard bytes < 9.0e18 else { return nil }
        return Int(bytes)
    }
}
