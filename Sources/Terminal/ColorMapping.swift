import Workbench

/// What the terminal can show, from least to most.
public enum ColorMode: Hashable, Sendable, CustomStringConvertible {
    /// Attributes only (NO_COLOR, or a terminal without colours): selection is shown with reverse video.
    case none
    /// The 8 basic ANSI colours.
    case ansi8
    /// The 16 ANSI colours (basic plus bright).
    case ansi16
    /// The xterm 256-colour palette (the 6×6×6 cube and the grey ramp are used; 0–15 are user-themable).
    case indexed256
    /// 24-bit colour: the terminal's colour numbers are `0xRRGGBB` (terminfo `RGB` entries such as
    /// `xterm-direct`, where COLORS is 2^24).
    case direct

    public var description: String {
        switch self {
        case .none: "none"
        case .ansi8: "8 colours"
        case .ansi16: "16 colours"
        case .indexed256: "256 colours"
        case .direct: "24-bit colour"
        }
    }

    /// The mode to use, from the environment and the terminal's reported capabilities. `NO_COLOR` (present
    /// and not empty, see no-color.org) wins over everything.
    public static func detect(environment: [String: String], hasColors: Bool, colors: Int) -> ColorMode {
        if let noColor = environment["NO_COLOR"], !noColor.isEmpty { return .none }
        guard hasColors else { return .none }
        if colors >= 0x100_0000 { return .direct }
        if colors >= 256 { return .indexed256 }
        if colors >= 16 { return .ansi16 }
        if colors >= 8 { return .ansi8 }
        return .none
    }
}

/// RGB → terminal colour number, as pure functions so tests can check them without a terminal.
public enum ColorMapping {
    /// Standard xterm values of the 16 ANSI colours (0–7 normal, 8–15 bright).
    public static let ansi16Palette: [RGB] = [
        RGB(0x00, 0x00, 0x00), RGB(0xcd, 0x00, 0x00), RGB(0x00, 0xcd, 0x00), RGB(0xcd, 0xcd, 0x00),
        RGB(0x00, 0x00, 0xee), RGB(0xcd, 0x00, 0xcd), RGB(0x00, 0xcd, 0xcd), RGB(0xe5, 0xe5, 0xe5),
        RGB(0x7f, 0x7f, 0x7f), RGB(0xff, 0x00, 0x00), RGB(0x00, 0xff, 0x00), RGB(0xff, 0xff, 0x00),
        RGB(0x5c, 0x5c, 0xff), RGB(0xff, 0x00, 0xff), RGB(0x00, 0xff, 0xff), RGB(0xff, 0xff, 0xff),
    ]

    /// The six channel levels of the xterm 6×6×6 colour cube (colours 16–231).
    public static let cubeLevels: [Int] = [0, 95, 135, 175, 215, 255]

    /// Squared Euclidean distance in RGB.
    @inline(__always)
    static func distance(_ a: RGB, _ b: RGB) -> Int {
        let dr = Int(a.r) - Int(b.r), dg = Int(a.g) - Int(b.g), db = Int(a.b) - Int(b.b)
        return dr * dr + dg * dg + db * db
    }

    /// The colour of palette index 0–255 in the standard xterm palette.
    public static func rgb(ofIndexed index: Int) -> RGB {
        switch index {
        case ..<0: return ansi16Palette[0]
        case 0..<16: return ansi16Palette[index]
        case 16..<232:
            let i = index - 16
            return RGB(UInt8(cubeLevels[i / 36]), UInt8(cubeLevels[(i / 6) % 6]), UInt8(cubeLevels[i % 6]))
        case 232..<256:
            let v = UInt8(8 + 10 * (index - 232))
            return RGB(v, v, v)
        default: return ansi16Palette[15]
        }
    }

    /// Colourfulness: the spread between the strongest and weakest channel.
    @inline(__always)
    static func chroma(_ c: RGB) -> Int { Int(max(c.r, c.g, c.b)) - Int(min(c.r, c.g, c.b)) }

    /// The ANSI colour for `c` among the first `count` (8 or 16). Plain RGB distance is a poor guide with so
    /// few colours (it sends #808080 to yellow and pastel green to white), so this decides in two steps:
    /// greyish colours (chroma under 48, or under a quarter of the brightest channel) go to the nearest of
    /// black/grey/white; colourful ones keep their hue family (red, yellow, green, cyan, blue, magenta, by 60°
    /// sectors) and take the nearer of its normal and bright entries by RGB distance (bright only with 16).
    public static func nearestANSI(_ c: RGB, count: Int) -> Int {
        let bright = count >= 16
        func nearest(_ candidates: [Int]) -> Int {
            candidates.min { distance(c, ansi16Palette[$0]) < distance(c, ansi16Palette[$1]) }!
        }
        let r = Int(c.r), g = Int(c.g), b = Int(c.b)
        let top = max(r, g, b), spread = chroma(c)
        if spread < 48 || spread * 4 < top {
            return nearest(bright ? [0, 8, 7, 15] : [0, 7])
        }
        var hue: Double
        if top == r {
            hue = 60 * Double(g - b) / Double(spread)
        } else if top == g {
            hue = 60 * (Double(b - r) / Double(spread) + 2)
        } else {
            hue = 60 * (Double(r - g) / Double(spread) + 4)
        }
        if hue < 0 { hue += 360 }
        // Sectors centred on 0° red, 60° yellow, 120° green, 180° cyan, 240° blue, 300° magenta.
        let family = [1, 3, 2, 6, 4, 5][Int((hue + 30) / 60) % 6]
        return nearest(bright ? [family, family + 8] : [family])
    }

    /// True when a background role would vanish into the main background in `mode` (different colours in the
    /// theme, the same terminal colour): the screen then shows the cell in reverse video so selections and
    /// bars stay visible on 8/16-colour terminals.
    public static func backgroundCollapses(_ background: RGB, into main: RGB, mode: ColorMode) -> Bool {
        guard background != main, let b = color(for: background, mode: mode), let m = color(for: main, mode: mode) else {
            return false
        }
        return b == m
    }

    /// Nearest xterm 256-palette entry among the colour cube (16–231) and the grey ramp (232–255).
    public static func nearest256(_ c: RGB) -> Int {
        // The cube's levels are separable, so the nearest cube point is the nearest level per channel.
        func level(_ v: UInt8) -> Int {
            var best = 0, bestDistance = Int.max
            for (i, l) in cubeLevels.enumerated() where abs(Int(v) - l) < bestDistance {
                (best, bestDistance) = (i, abs(Int(v) - l))
            }
            return best
        }
        let cube = 16 + 36 * level(c.r) + 6 * level(c.g) + level(c.b)
        // Grey ramp: 8, 18, …, 238; nearest to the channel mean, then refine by true distance.
        let mean = (Int(c.r) + Int(c.g) + Int(c.b)) / 3
        var grey = 232 + min(23, max(0, (mean - 3) / 10))
        for candidate in [grey - 1, grey + 1] where (232...255).contains(candidate) {
            if distance(c, rgb(ofIndexed: candidate)) < distance(c, rgb(ofIndexed: grey)) { grey = candidate }
        }
        return distance(c, rgb(ofIndexed: grey)) < distance(c, rgb(ofIndexed: cube)) ? grey : cube
    }

    /// The terminal colour number for `c` in `mode`; nil in `.none` (no colour is set).
    public static func color(for c: RGB, mode: ColorMode) -> Int? {
        switch mode {
        case .none: return nil
        case .ansi8: return nearestANSI(c, count: 8)
        case .ansi16: return nearestANSI(c, count: 16)
        case .indexed256: return nearest256(c)
        case .direct:
            // Direct-colour terminfo treats numbers below 8 as the ANSI colours: lift near-black by one step.
            let packed = Int(c.r) << 16 | Int(c.g) << 8 | Int(c.b)
            return packed < 8 ? 8 : packed
        }
    }

    /// Terminal colour numbers for a foreground/background pair. When two different colours collapse onto
    /// the same palette entry (coarse palettes), the foreground becomes black or white, whichever contrasts
    /// with the background, so text never disappears.
    public static func pair(foreground fg: RGB, background bg: RGB, mode: ColorMode) -> (fg: Int, bg: Int)? {
        guard let f = color(for: fg, mode: mode), let b = color(for: bg, mode: mode) else { return nil }
        guard f == b, fg != bg else { return (f, b) }
        let luminance = 299 * Int(bg.r) + 587 * Int(bg.g) + 114 * Int(bg.b)  // ×1000
        let dark = luminance < 128_000
        let black = RGB(0, 0, 0), white = RGB(255, 255, 255)
        let contrast = color(for: dark ? white : black, mode: mode) ?? f
        if contrast != b { return (contrast, b) }
        // Background is itself pure black or white in this palette: take the opposite extreme.
        return (color(for: dark ? black : white, mode: mode) ?? f, b)
    }
}
