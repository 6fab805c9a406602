import CNcursesw
import Workbench

/// The raw ncurses codes the decoder understands, read once from the C header (they are macros there).
struct RawCodes: Sendable {
    var up, down, left, right, pageUp, pageDown, home, end: UInt32
    var enter, backTab, backspace, delete, resize, mouse: UInt32
    /// KEY_F(0); F1…F12 are `functionBase + n`.
    var functionBase: UInt32

    static let ncurses = RawCodes(
        up: UInt32(wl_key_up()), down: UInt32(wl_key_down()), left: UInt32(wl_key_left()),
        right: UInt32(wl_key_right()), pageUp: UInt32(wl_key_ppage()), pageDown: UInt32(wl_key_npage()),
        home: UInt32(wl_key_home()), end: UInt32(wl_key_end()), enter: UInt32(wl_key_enter()),
        backTab: UInt32(wl_key_btab()), backspace: UInt32(wl_key_backspace()), delete: UInt32(wl_key_dc()),
        resize: UInt32(wl_key_resize()), mouse: UInt32(wl_key_mouse()), functionBase: UInt32(wl_key_f(0)))
}

/// What one `wget_wch` result means, before any terminal call that it may need (mouse state, size).
enum RawInput: Equatable, Sendable {
    case key(Key)
    /// KEY_MOUSE: read the event with `getmouse`.
    case mouse
    /// KEY_RESIZE: read the new size.
    case resize
    /// A code the workbench has no use for (unknown function keys, NUL, other control characters).
    case ignored
}

/// Raw `wget_wch` results → workbench input, as pure functions (no terminal needed to test them).
enum KeyDecoding {
    /// Decodes one `wget_wch` result: `isFunctionKey` is true when it returned KEY_CODE_YES (then `code` is a
    /// KEY_* value), false for a character (then `code` is a Unicode scalar value).
    static func decode(code: UInt32, isFunctionKey: Bool, codes: RawCodes = .ncurses) -> RawInput {
        isFunctionKey ? decodeFunctionKey(code, codes: codes) : decodeCharacter(code)
    }

    static func decodeFunctionKey(_ code: UInt32, codes: RawCodes = .ncurses) -> RawInput {
        switch code {
        case codes.up: return .key(.up)
        case codes.down: return .key(.down)
        case codes.left: return .key(.left)
        case codes.right: return .key(.right)
        case codes.pageUp: return .key(.pageUp)
        case codes.pageDown: return .key(.pageDown)
        case codes.home: return .key(.home)
        case codes.end: return .key(.end)
        case codes.enter: return .key(.enter)
        case codes.backTab: return .key(.backTab)
        case codes.backspace: return .key(.backspace)
        case codes.delete: return .key(.delete)
        case codes.resize: return .resize
        case codes.mouse: return .mouse
        case codes.functionBase + 1...codes.functionBase + 12: return .key(.function(Int(code - codes.functionBase)))
        default: return .ignored
        }
    }

    static func decodeCharacter(_ code: UInt32) -> RawInput {
        switch code {
        case 9: return .key(.tab)
        case 10, 13: return .key(.enter)
        case 8, 127: return .key(.backspace)
        case 27: return .key(.escape)
        case 1...26:
            // Ctrl-A … Ctrl-Z, except the ones above (Ctrl-H = backspace, Ctrl-I = tab, Ctrl-J/M = enter).
            return .key(.control(Character(Unicode.Scalar(UInt8(96 + code)))))
        case 0..<32, 0x80..<0xA0:
            return .ignored
        default:
            guard let scalar = Unicode.Scalar(code) else { return .ignored }
            return .key(.character(Character(scalar)))
        }
    }
}

/// The ncurses mouse button-state bits the decoder looks at.
struct MouseMasks: Sendable {
    var button1Pressed, button1Released, button1Clicked, button4Pressed, button5Pressed, position: UInt64

    static let ncurses = MouseMasks(
        button1Pressed: UInt64(wl_button1_pressed()), button1Released: UInt64(wl_button1_released()),
        button1Clicked: UInt64(wl_button1_clicked()), button4Pressed: UInt64(wl_button4_pressed()),
        button5Pressed: UInt64(wl_button5_pressed()), position: UInt64(wl_report_mouse_position()))
}

/// ncurses mouse events → `MouseEvent`, tracking whether button 1 is held (so motion becomes a drag).
struct MouseDecoder: Sendable {
    var masks: MouseMasks = .ncurses
    private(set) var button1Held = false

    init(masks: MouseMasks = .ncurses) { self.masks = masks }

    /// The event for one `getmouse` result, or nil for events the workbench ignores (other buttons, motion
    /// without button 1 held).
    mutating func decode(bstate: UInt64, x: Int, y: Int) -> MouseEvent? {
        let has = { (mask: UInt64) in mask != 0 && bstate & mask != 0 }
        if has(masks.position) {
            // Motion. Some terminals/ncurses versions also set the pressed bit of the held button.
            if button1Held || has(masks.button1Pressed) {
                button1Held = true
                return MouseEvent(.drag, x: x, y: y)
            }
            return nil
        }
        if has(masks.button1Pressed) {
            button1Held = true
            return MouseEvent(.press, x: x, y: y)
        }
        if has(masks.button1Released) {
            button1Held = false
            return MouseEvent(.release, x: x, y: y)
        }
        if has(masks.button1Clicked) {
            // Only with click detection on (mouseinterval > 0): report the press; the button is up again.
            button1Held = false
            return MouseEvent(.press, x: x, y: y)
        }
        if has(masks.button4Pressed) { return MouseEvent(.wheelUp, x: x, y: y) }
        if has(masks.button5Pressed) { return MouseEvent(.wheelDown, x: x, y: y) }
        return nil
    }
}
