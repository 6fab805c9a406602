import Foundation

/// The colour roles a view can use. Each has a btop-style key in theme files (`theme[main_bg]="#1e1e2e"`).
public enum ThemeRole: String, CaseIterable, Hashable, Sendable {
    case mainBackground = "main_bg"
    case mainForeground = "main_fg"
    case title = "title"
    case highlight = "hi_fg"
    case selectedBackground = "selected_bg"
    case selectedForeground = "selected_fg"
    case inactive = "inactive_fg"
    case border = "div_line"
    case marked = "marked_fg"
    case histogramBar = "hist_bar"
    case histogramPruned = "hist_pruned"
    case histogramTick = "hist_tick"
    case histogramClip = "hist_clip"
    case statusBackground = "status_bg"
    case statusForeground = "status_fg"
    case good = "good_fg"
    case warning = "warn_fg"
    case bad = "bad_fg"
}

public struct RGB: Hashable, Sendable, CustomStringConvertible {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }

    /// `#rrggbb` or `rrggbb`.
    public init?(hex: String) {
        var s = Substring(hex)
        if s.first == "#" { s = s.dropFirst() }
        guard s.count == 6, let v = UInt32(s, radix: 16) else { return nil }
        self.init(UInt8(v >> 16), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF))
    }

    public var description: String {
        "#" + [r, g, b].map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

/// Colours for every role. Loaded from btop-style theme files: `theme[key]="#rrggbb"` lines, `#` comments;
/// unknown keys and bad values produce warnings, missing keys keep the default theme's colour.
public struct Theme: Equatable, Sendable {
    public var name: String
    public var colors: [ThemeRole: RGB]

    public init(name: String, colors: [ThemeRole: RGB]) {
        self.name = name
        self.colors = colors
    }

    public subscript(role: ThemeRole) -> RGB { colors[role] ?? Theme.dark.colors[role] ?? RGB(255, 255, 255) }

    /// The built-in dark theme (also `Themes/dark.theme`): every role is set.
    public static let dark = Theme(name: "dark", colors: [
        .mainBackground: RGB(0x1c, 0x1c, 0x24), .mainForeground: RGB(0xd8, 0xd8, 0xe0),
        .title: RGB(0x8a, 0xb4, 0xf8), .highlight: RGB(0xff, 0xd7, 0x5f),
        .selectedBackground: RGB(0x3a, 0x3f, 0x5c), .selectedForeground: RGB(0xff, 0xff, 0xff),
        .inactive: RGB(0x80, 0x80, 0x90), .border: RGB(0x4a, 0x4a, 0x5a), .marked: RGB(0xff, 0x87, 0xd7),
        .histogramBar: RGB(0x5f, 0xaf, 0xd7), .histogramPruned: RGB(0x87, 0x3a, 0x3a),
        .histogramTick: RGB(0xff, 0xd7, 0x5f), .histogramClip: RGB(0xff, 0x5f, 0x5f),
        .statusBackground: RGB(0x2a, 0x2a, 0x38), .statusForeground: RGB(0xd8, 0xd8, 0xe0),
        .good: RGB(0x87, 0xd7, 0x87), .warning: RGB(0xff, 0xd7, 0x5f), .bad: RGB(0xff, 0x5f, 0x5f),
    ])

    /// Parses a theme file. Returns the theme (defaults filled in) and one warning per problem line.
    public static func parse(_ text: String, name: String) -> (theme: Theme, warnings: [String]) {
        var colors = Theme.dark.colors
        var warnings: [String] = []
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            guard line.hasPrefix("theme["), let close = line.firstIndex(of: "]"),
                  let eq = line[close...].firstIndex(of: "=") else {
                warnings.append("\(name):\(n + 1): expected theme[key]=\"#rrggbb\"")
                continue
            }
            let key = String(line[line.index(line.startIndex, offsetBy: 6)..<close])
            var value = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            guard let role = ThemeRole(rawValue: key) else {
                warnings.append("\(name):\(n + 1): unknown key '\(key)'")
                continue
            }
            guard let rgb = RGB(hex: value) else {
                warnings.append("\(name):\(n + 1): '\(value)' is not a #rrggbb colour")
                continue
            }
            colors[role] = rgb
        }
        return (Theme(name: name, colors: colors), warnings)
    }
}
