import Testing
@testable import Terminal
import Workbench

@Suite struct ColorMappingTests {
    @Test func nearest256KnownPoints() {
        #expect(ColorMapping.nearest256(RGB(0, 0, 0)) == 16)
        #expect(ColorMapping.nearest256(RGB(255, 255, 255)) == 231)
        #expect(ColorMapping.nearest256(RGB(0x5f, 0x87, 0xaf)) == 67)
        #expect(ColorMapping.nearest256(RGB(0xff, 0x00, 0x00)) == 196)
        #expect(ColorMapping.nearest256(RGB(0xd7, 0x87, 0x5f)) == 173)
        // Near-misses land on the nearest cube point.
        #expect(ColorMapping.nearest256(RGB(0x60, 0x88, 0xb0)) == 67)
    }

    @Test func nearest256Greys() {
        #expect(ColorMapping.nearest256(RGB(0x80, 0x80, 0x80)) == 244)
        #expect(ColorMapping.nearest256(RGB(0x08, 0x08, 0x08)) == 232)
        #expect(ColorMapping.nearest256(RGB(0xee, 0xee, 0xee)) == 255)
        #expect(ColorMapping.nearest256(RGB(0x1c, 0x1c, 0x1c)) == 234)
        // Cube greys beat the ramp when they are exact.
        #expect(ColorMapping.nearest256(RGB(0x5f, 0x5f, 0x5f)) == 59)
    }

    @Test func every256PaletteColourMapsToItself() {
        for index in 16..<256 {
            #expect(ColorMapping.nearest256(ColorMapping.rgb(ofIndexed: index)) == index, "index \(index)")
        }
    }

    @Test func paletteValues() {
        #expect(ColorMapping.rgb(ofIndexed: 67) == RGB(0x5f, 0x87, 0xaf))
        #expect(ColorMapping.rgb(ofIndexed: 244) == RGB(0x80, 0x80, 0x80))
        #expect(ColorMapping.rgb(ofIndexed: 231) == RGB(255, 255, 255))
        #expect(ColorMapping.rgb(ofIndexed: 9) == RGB(255, 0, 0))
    }

    @Test func nearestANSI16() {
        #expect(ColorMapping.nearestANSI(RGB(0, 0, 0), count: 16) == 0)
        #expect(ColorMapping.nearestANSI(RGB(255, 255, 255), count: 16) == 15)
        #expect(ColorMapping.nearestANSI(RGB(0xff, 0x00, 0x00), count: 16) == 9)
        #expect(ColorMapping.nearestANSI(RGB(0x80, 0x00, 0x00), count: 16) == 1)
        #expect(ColorMapping.nearestANSI(RGB(0x00, 0x00, 0xff), count: 16) == 4)
        #expect(ColorMapping.nearestANSI(RGB(0x80, 0x80, 0x80), count: 16) == 8)
        #expect(ColorMapping.nearestANSI(RGB(0xc0, 0xc0, 0xc0), count: 16) == 7)
        #expect(ColorMapping.nearestANSI(RGB(0x60, 0x60, 0xff), count: 16) == 12)
        #expect(ColorMapping.nearestANSI(RGB(0x00, 0xd0, 0xd0), count: 16) == 6)
    }

    @Test func nearestANSI8() {
        #expect(ColorMapping.nearestANSI(RGB(0, 0, 0), count: 8) == 0)
        #expect(ColorMapping.nearestANSI(RGB(255, 255, 255), count: 8) == 7)
        #expect(ColorMapping.nearestANSI(RGB(0xff, 0x00, 0x00), count: 8) == 1)
        #expect(ColorMapping.nearestANSI(RGB(0x80, 0x80, 0x80), count: 8) == 7)  // not yellow
        #expect(ColorMapping.nearestANSI(RGB(0x80, 0x80, 0x90), count: 8) == 7)
        #expect(ColorMapping.nearestANSI(RGB(0x30, 0x30, 0x30), count: 8) == 0)
        #expect(ColorMapping.nearestANSI(RGB(0xff, 0xd7, 0x5f), count: 8) == 3)
        for c in [RGB(12, 200, 99), RGB(250, 1, 250), RGB(90, 90, 90)] {
            #expect((0..<8).contains(ColorMapping.nearestANSI(c, count: 8)))
        }
    }

    @Test func ansiKeepsHueFamilies() {
        // Pastel and mid-tone theme colours keep their hue instead of turning grey.
        #expect(ColorMapping.nearestANSI(RGB(0x87, 0xd7, 0x87), count: 8) == 2)   // green
        #expect(ColorMapping.nearestANSI(RGB(0x5f, 0xaf, 0xd7), count: 8) == 6)   // cyan
        #expect(ColorMapping.nearestANSI(RGB(0x8a, 0xb4, 0xf8), count: 16) == 12) // light blue
        #expect(ColorMapping.nearestANSI(RGB(0xff, 0x87, 0xd7), count: 16) == 13) // pink → bright magenta
        #expect(ColorMapping.nearestANSI(RGB(0xff, 0x5f, 0x5f), count: 16) == 9)  // light red
        #expect(ColorMapping.nearestANSI(RGB(0x87, 0x3a, 0x3a), count: 16) == 1)  // dark red
        // Exact palette entries map to themselves.
        for i in 0..<16 { #expect(ColorMapping.nearestANSI(ColorMapping.ansi16Palette[i], count: 16) == i, "\(i)") }
        for i in 0..<8 { #expect(ColorMapping.nearestANSI(ColorMapping.ansi16Palette[i], count: 8) == i, "\(i)") }
    }

    @Test func collapsedBackgroundsAreDetected() {
        let theme = Theme.dark
        // The dark theme's selection background is a dark grey-blue: black among 8 colours, like the main one.
        #expect(ColorMapping.backgroundCollapses(theme[.selectedBackground], into: theme[.mainBackground], mode: .ansi8))
        #expect(!ColorMapping.backgroundCollapses(theme[.selectedBackground], into: theme[.mainBackground], mode: .ansi16))
        #expect(!ColorMapping.backgroundCollapses(theme[.selectedBackground], into: theme[.mainBackground], mode: .indexed256))
        #expect(!ColorMapping.backgroundCollapses(theme[.mainBackground], into: theme[.mainBackground], mode: .ansi8))
        #expect(!ColorMapping.backgroundCollapses(RGB(1, 1, 1), into: RGB(2, 2, 2), mode: .none))
    }

    @Test func colorPerMode() {
        let c = RGB(0x5f, 0x87, 0xaf)
        #expect(ColorMapping.color(for: c, mode: .none) == nil)
        #expect(ColorMapping.color(for: c, mode: .indexed256) == 67)
        #expect(ColorMapping.color(for: c, mode: .direct) == 0x5f87af)
        #expect(ColorMapping.color(for: RGB(0, 0, 0), mode: .direct) == 8)  // 0–7 would mean ANSI colours
        #expect(ColorMapping.color(for: RGB(255, 255, 255), mode: .ansi16) == 15)
        #expect(ColorMapping.color(for: RGB(255, 255, 255), mode: .ansi8) == 7)
    }

    @Test func pairKeepsTextVisibleWhenColoursCollapse() {
        // #101010 on black: both become ANSI black, so the text turns white.
        let dark = ColorMapping.pair(foreground: RGB(0x10, 0x10, 0x10), background: RGB(0, 0, 0), mode: .ansi8)
        #expect(dark?.fg == 7 && dark?.bg == 0)
        // Light background: the text turns black.
        let light = ColorMapping.pair(foreground: RGB(0xfa, 0xfa, 0xfa), background: RGB(0xff, 0xff, 0xff), mode: .ansi16)
        #expect(light?.fg == 0 && light?.bg == 15)
        // Distinct colours are left alone; identical ones too (deliberately invisible, e.g. a filled bar).
        let normal = ColorMapping.pair(foreground: RGB(255, 0, 0), background: RGB(0, 0, 0), mode: .ansi8)
        #expect(normal?.fg == 1 && normal?.bg == 0)
        let same = ColorMapping.pair(foreground: RGB(9, 9, 9), background: RGB(9, 9, 9), mode: .indexed256)
        #expect(same?.fg == same?.bg)
        #expect(ColorMapping.pair(foreground: RGB(1, 2, 3), background: RGB(4, 5, 6), mode: .none) == nil)
    }

    @Test func darkThemeStaysReadableInEveryMode() {
        let theme = Theme.dark
        for mode in [ColorMode.ansi8, .ansi16, .indexed256, .direct] {
            for fg in ThemeRole.allCases {
                for bg in [ThemeRole.mainBackground, .selectedBackground, .statusBackground] where theme[fg] != theme[bg] {
                    let p = ColorMapping.pair(foreground: theme[fg], background: theme[bg], mode: mode)
                    #expect(p != nil && p!.fg != p!.bg, "\(fg) on \(bg) in \(mode)")
                }
            }
        }
    }

    @Test func modeDetection() {
        #expect(ColorMode.detect(environment: ["NO_COLOR": "1"], hasColors: true, colors: 256) == .none)
        #expect(ColorMode.detect(environment: ["NO_COLOR": ""], hasColors: true, colors: 256) == .indexed256)
        #expect(ColorMode.detect(environment: [:], hasColors: false, colors: 256) == .none)
        #expect(ColorMode.detect(environment: [:], hasColors: true, colors: 8) == .ansi8)
        #expect(ColorMode.detect(environment: [:], hasColors: true, colors: 16) == .ansi16)
        #expect(ColorMode.detect(environment: [:], hasColors: true, colors: 88) == .ansi16)
        #expect(ColorMode.detect(environment: [:], hasColors: true, colors: 256) == .indexed256)
        #expect(ColorMode.detect(environment: [:], hasColors: true, colors: 0x100_0000) == .direct)
        #expect(ColorMode.detect(environment: [:], hasColors: true, colors: 2) == .none)
    }
}
