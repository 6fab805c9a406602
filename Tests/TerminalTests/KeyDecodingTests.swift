import Testing
@testable import Terminal
import Workbench

@Suite struct KeyDecodingTests {
    let codes = RawCodes.ncurses

    func char(_ code: UInt32) -> RawInput { KeyDecoding.decode(code: code, isFunctionKey: false) }
    func function(_ code: UInt32) -> RawInput { KeyDecoding.decode(code: code, isFunctionKey: true) }
    func scalar(_ s: String) -> UInt32 { s.unicodeScalars.first!.value }

    @Test func ncursesCodesAreTheCursesValues() {
        // The octal values from curses.h, so the decoder is checked against the real codes.
        #expect(codes.down == 0o402 && codes.up == 0o403 && codes.left == 0o404 && codes.right == 0o405)
        #expect(codes.home == 0o406 && codes.backspace == 0o407 && codes.functionBase == 0o410)
        #expect(codes.delete == 0o512 && codes.pageDown == 0o522 && codes.pageUp == 0o523)
        #expect(codes.enter == 0o527 && codes.backTab == 0o541 && codes.end == 0o550)
        #expect(codes.mouse == 0o631 && codes.resize == 0o632)
    }

    @Test func arrowsAndNavigation() {
        #expect(function(codes.up) == .key(.up))
        #expect(function(codes.down) == .key(.down))
        #expect(function(codes.left) == .key(.left))
        #expect(function(codes.right) == .key(.right))
        #expect(function(codes.pageUp) == .key(.pageUp))
        #expect(function(codes.pageDown) == .key(.pageDown))
        #expect(function(codes.home) == .key(.home))
        #expect(function(codes.end) == .key(.end))
    }

    @Test func editingKeys() {
        #expect(char(13) == .key(.enter))
        #expect(char(10) == .key(.enter))
        #expect(function(codes.enter) == .key(.enter))
        #expect(char(27) == .key(.escape))
        #expect(char(9) == .key(.tab))
        #expect(function(codes.backTab) == .key(.backTab))
        #expect(function(codes.backspace) == .key(.backspace))
        #expect(char(127) == .key(.backspace))
        #expect(char(8) == .key(.backspace))
        #expect(function(codes.delete) == .key(.delete))
    }

    @Test func functionKeys() {
        for n in 1...12 {
            #expect(function(codes.functionBase + UInt32(n)) == .key(.function(n)))
        }
        #expect(function(codes.functionBase) == .ignored)
        #expect(function(codes.functionBase + 13) == .ignored)
        #expect(function(0o777) == .ignored)
    }

    @Test func controlLetters() {
        #expect(char(1) == .key(.control("a")))
        #expect(char(3) == .key(.control("c")))
        #expect(char(7) == .key(.control("g")))
        #expect(char(11) == .key(.control("k")))
        #expect(char(12) == .key(.control("l")))
        #expect(char(14) == .key(.control("n")))
        #expect(char(26) == .key(.control("z")))
        for code: UInt32 in 1...26 where ![8, 9, 10, 13].contains(code) {
            let letter = Character(Unicode.Scalar(UInt8(96 + code)))
            #expect(char(code) == .key(.control(letter)))
        }
        // NUL, FS…US and C1 controls are not keys.
        for code: UInt32 in [0, 28, 29, 30, 31, 0x85, 0x9B] { #expect(char(code) == .ignored) }
    }

    @Test func printableAndWideCharacters() {
        #expect(char(scalar("a")) == .key(.character("a")))
        #expect(char(scalar("Q")) == .key(.character("Q")))
        #expect(char(scalar(" ")) == .key(.character(" ")))
        #expect(char(scalar("?")) == .key(.character("?")))
        #expect(char(scalar("/")) == .key(.character("/")))
        #expect(char(scalar("é")) == .key(.character("é")))
        #expect(char(scalar("漢")) == .key(.character("漢")))
        #expect(char(scalar("🙂")) == .key(.character("🙂")))
        // Surrogates and values beyond Unicode are dropped.
        #expect(char(0xD800) == .ignored)
        #expect(char(0x110000) == .ignored)
    }

    @Test func resizeAndMouseNeedTheTerminal() {
        #expect(function(codes.resize) == .resize)
        #expect(function(codes.mouse) == .mouse)
    }
}

@Suite struct MouseDecodingTests {
    let m = MouseMasks.ncurses

    @Test func masksAreDistinctBits() {
        let all = [m.button1Pressed, m.button1Released, m.button1Clicked, m.button4Pressed, m.button5Pressed, m.position]
        #expect(all.allSatisfy { $0 != 0 && $0 & ($0 - 1) == 0 })
        #expect(Set(all).count == all.count)
    }

    @Test func pressDragRelease() {
        var d = MouseDecoder()
        #expect(d.decode(bstate: m.button1Pressed, x: 3, y: 4) == MouseEvent(.press, x: 3, y: 4))
        #expect(d.button1Held)
        #expect(d.decode(bstate: m.position, x: 5, y: 4) == MouseEvent(.drag, x: 5, y: 4))
        #expect(d.decode(bstate: m.position, x: 9, y: 6) == MouseEvent(.drag, x: 9, y: 6))
        #expect(d.decode(bstate: m.button1Released, x: 9, y: 6) == MouseEvent(.release, x: 9, y: 6))
        #expect(!d.button1Held)
    }

    @Test func motionWithoutButtonIsIgnored() {
        var d = MouseDecoder()
        #expect(d.decode(bstate: m.position, x: 1, y: 1) == nil)
        _ = d.decode(bstate: m.button1Pressed, x: 1, y: 1)
        _ = d.decode(bstate: m.button1Released, x: 1, y: 1)
        #expect(d.decode(bstate: m.position, x: 2, y: 1) == nil)
    }

    @Test func motionCarryingTheButtonBitIsADrag() {
        var d = MouseDecoder()
        #expect(d.decode(bstate: m.position | m.button1Pressed, x: 7, y: 2) == MouseEvent(.drag, x: 7, y: 2))
        #expect(d.button1Held)
    }

    @Test func wheel() {
        var d = MouseDecoder()
        #expect(d.decode(bstate: m.button4Pressed, x: 0, y: 10) == MouseEvent(.wheelUp, x: 0, y: 10))
        #expect(d.decode(bstate: m.button5Pressed, x: 0, y: 11) == MouseEvent(.wheelDown, x: 0, y: 11))
        #expect(!d.button1Held)
    }

    @Test func clickAndOtherButtons() {
        var d = MouseDecoder()
        #expect(d.decode(bstate: m.button1Clicked, x: 2, y: 2) == MouseEvent(.press, x: 2, y: 2))
        #expect(!d.button1Held)
        #expect(d.decode(bstate: 0, x: 2, y: 2) == nil)
    }
}
