import CNcursesw
import Workbench
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The interactive terminal: draws `CellGrid`s and reads keys, mouse and resizes through ncursesw. One screen
/// at a time; use it from one thread (the main queue). Closing (or dropping) it restores the terminal, and so
/// do signals and crashes while it is open (`TerminalRestore`).
public final class TerminalScreen {
    /// The colours in use (after NO_COLOR and the terminal's capabilities).
    public let colorMode: ColorMode
    /// True when the locale's encoding is UTF-8, so box-drawing and block characters can be shown. When false,
    /// views should fall back to ASCII glyphs.
    public let isUnicode: Bool

    private var screen: OpaquePointer?
    private let window: UnsafeMutablePointer<WINDOW>
    private var mouse = MouseDecoder()

    /// Per-theme cache of what each style becomes (attributes + colour pair).
    private var styleCache: [Style: (attributes: attr_t, pair: Int32)] = [:]
    private var cachedTheme: Theme?
    /// Colour pairs are allocated once per distinct (foreground, background) colour numbers, for the life of
    /// the screen (not per frame, not per theme).
    private var pairNumbers: [Int64: Int32] = [:]
    private var nextPair: Int32 = 1
    private let maxPairs: Int32

    /// Scratch storage for one cell: the NUL-terminated wide characters and the `cchar_t`.
    private let characterBuffer: UnsafeMutablePointer<wchar_t>
    private let characterCapacity: Int
    private let cell: UnsafeMutableRawPointer

    /// xterm "button-event tracking": motion is reported while a button is held (drag).
    static let dragReportingOn = Array("\u{1B}[?1002h".utf8)
    static let dragReportingOff = Array("\u{1B}[?1002l".utf8)

    nonisolated(unsafe) private static var isOpen = false

    private init(screen: OpaquePointer, window: UnsafeMutablePointer<WINDOW>, colorMode: ColorMode, isUnicode: Bool) {
        self.screen = screen
        self.window = window
        self.colorMode = colorMode
        self.isUnicode = isUnicode
        maxPairs = colorMode == .none ? 0 : Int32(max(0, wl_color_pairs()))
        characterCapacity = Int(max(2, wl_ccharw_max())) + 1
        characterBuffer = .allocate(capacity: characterCapacity)
        characterBuffer.initialize(repeating: 0, count: characterCapacity)
        cell = .allocate(byteCount: wl_cchar_size(), alignment: 16)
        cell.initializeMemory(as: UInt8.self, repeating: 0, count: wl_cchar_size())
    }

    deinit {
        close()
        characterBuffer.deallocate()
        cell.deallocate()
    }

    /// Takes over the terminal. Fails with a clear message, leaving the process and terminal as they were,
    /// when stdin or stdout is not a terminal or `$TERM` has no usable terminfo entry. `colorMode` forces a
    /// mode (capped at what the terminal can show); nil detects it (NO_COLOR, `has_colors`, COLORS).
    public static func open(colorMode requested: ColorMode? = nil) throws(TerminalError) -> TerminalScreen {
        guard !isOpen else { throw .alreadyOpen }
        guard isatty(0) == 1, isatty(1) == 1 else { throw .notATerminal }
        let environment = Self.environment()
        guard let term = environment["TERM"], !term.isEmpty else { throw .termNotSet }

        setUpLocale(environment: environment)
        // Save the shell's modes and install the handlers before ncurses touches anything. Installing first
        // also keeps ncurses from installing its own SIGINT/SIGTERM handlers (it only does so for handlers
        // still at their default), whose cleanup is not async-signal-safe.
        TerminalRestore.saveTerminalModes()
        TerminalRestore.installHandlers()
        TerminalRestore.installContinueHandler()
        guard let screen = wl_newterm_stdio() else {
            TerminalRestore.uninstallHandlers()
            throw .unusableTerminalType(term)
        }
        _ = wl_set_term(screen)
        // A terminfo entry without cursor addressing (TERM=dumb, hard-copy types) cannot show a screen.
        var probe = [CChar](repeating: 0, count: 256)
        guard let window = wl_stdscr(), wl_tigetstr_copy("cup", &probe, Int32(probe.count)) > 0 else {
            _ = wl_endwin()
            wl_delscreen(screen)
            TerminalRestore.uninstallHandlers()
            throw .cannotAddressCursor(term)
        }
        TerminalRestore.setRestoreSequence(TerminalRestore.restoreSequence())
        TerminalRestore.arm()

        _ = wl_set_escdelay(25)
        _ = wl_cbreak()
        _ = wl_noecho()
        _ = wl_nonl()
        _ = wl_keypad(window, 1)
        _ = wl_curs_set(0)

        let hasColors = wl_has_colors() != 0
        if hasColors {
            _ = wl_start_color()
            _ = wl_use_default_colors()
        }
        let capable = ColorMode.detect(environment: [:], hasColors: hasColors, colors: Int(wl_colors()))
        let mode: ColorMode
        if let requested {
            mode = rank(requested) <= rank(capable) ? requested : capable
        } else {
            mode = ColorMode.detect(environment: environment, hasColors: hasColors, colors: Int(wl_colors()))
        }

        _ = wl_mousemask(wl_all_mouse_events() | wl_report_mouse_position())
        _ = wl_mouseinterval(0)

        let result = TerminalScreen(screen: screen, window: window, colorMode: mode, isUnicode: wl_locale_is_utf8() != 0)
        isOpen = true
        // Flush ncurses' own setup output (alternate screen, keypad, its mouse mode) before ours, so drag
        // reporting is the last mouse mode the terminal hears.
        _ = wl_werase(window)
        _ = wl_wnoutrefresh(window)
        _ = wl_doupdate()
        writeToTerminal(dragReportingOn)
        return result
    }

    /// The terminal's size in cells.
    public var size: (width: Int, height: Int) {
        var y: Int32 = 0, x: Int32 = 0
        wl_getmaxyx(window, &y, &x)
        return (Int(max(0, x)), Int(max(0, y)))
    }

    /// Copies `grid` to the screen (clipped to the terminal) and updates the terminal once; ncurses sends only
    /// the cells that changed since the last update.
    public func draw(_ grid: CellGrid, theme: Theme) {
        guard screen != nil else { return }
        if cachedTheme != theme {
            styleCache.removeAll(keepingCapacity: true)
            cachedTheme = theme
        }
        let (width, height) = size
        _ = wl_werase(window)
        let rows = min(grid.height, height), columns = min(grid.width, width)
        var lastStyle: Style? = nil
        var look: (attributes: attr_t, pair: Int32) = (wl_a_normal(), 0)
        grid.cells.withUnsafeBufferPointer { cells in
            for y in 0..<rows {
                let row = y * grid.width
                for x in 0..<columns {
                    let c = cells[row + x]
                    if c.isContinuation { continue }
                    if c.style != lastStyle {
                        look = resolve(c.style, theme: theme)
                        lastStyle = c.style
                    }
                    // A wide character that would not fit in the last column is drawn as a space.
                    let fits = x + 1 < width || DisplayWidth.of(c.character) < 2
                    loadCharacter(fits ? c.character : " ")
                    if wl_mvadd_wch(window, Int32(y), Int32(x), cell.assumingMemoryBound(to: cchar_t.self),
                                    characterBuffer, look.attributes, look.pair) == ERR, x + 1 < width || y + 1 < height {
                        // setcchar refused the text (e.g. a lone combining mark): show a placeholder.
                        loadCharacter("?")
                        _ = wl_mvadd_wch(window, Int32(y), Int32(x), cell.assumingMemoryBound(to: cchar_t.self),
                                         characterBuffer, look.attributes, look.pair)
                    }
                }
            }
        }
        _ = wl_wnoutrefresh(window)
        _ = wl_doupdate()
        resumeDragReportingIfContinued()
    }

    /// After a suspend/resume, ncurses has switched the terminal back to its own (press/release only) mouse
    /// mode: turn drag reporting on again.
    private func resumeDragReportingIfContinued() {
        if TerminalRestore.takeContinued() { Self.writeToTerminal(Self.dragReportingOn) }
    }

    /// Forces the next `draw` to repaint every cell (e.g. after something else wrote to the terminal).
    public func invalidate() {
        guard screen != nil else { return }
        _ = wl_clearok(window, 1)
    }

    /// Waits up to `timeoutMilliseconds` (negative: forever, 0: just poll) for input. Returns nil on timeout
    /// and for input the workbench ignores (unknown keys, mouse motion without a button held).
    public func nextEvent(timeoutMilliseconds: Int32) -> InputEvent? {
        guard screen != nil else { return nil }
        resumeDragReportingIfContinued()
        wl_wtimeout(window, timeoutMilliseconds)
        var code: wint_t = 0
        let status = wl_wget_wch(window, &code)
        guard status != ERR else { return nil }
        switch KeyDecoding.decode(code: UInt32(code), isFunctionKey: status == wl_key_code_yes()) {
        case .key(let key):
            return .key(key)
        case .ignored:
            return nil
        case .resize:
            let (width, height) = size
            return .resize(width: width, height: height)
        case .mouse:
            var x: Int32 = 0, y: Int32 = 0
            var bstate: mmask_t = 0
            guard wl_getmouse(&x, &y, &bstate) == OK else { return nil }
            return mouse.decode(bstate: UInt64(bstate), x: Int(x), y: Int(y)).map { .mouse($0) }
        }
    }

    /// Gives the terminal back: mouse reporting off, `endwin`, the screen freed, signal handlers removed.
    /// Safe to call more than once.
    public func close() {
        guard let screen else { return }
        Self.writeToTerminal(Self.dragReportingOff)
        _ = wl_mousemask(0)
        _ = wl_endwin()
        wl_delscreen(screen)
        self.screen = nil
        TerminalRestore.disarm()
        TerminalRestore.uninstallHandlers()
        Self.isOpen = false
    }

    // MARK: - Drawing helpers

    /// Puts `ch` into the wide-character buffer: its scalars (control characters shown as `?`), at most
    /// CCHARW_MAX of them, NUL-terminated.
    private func loadCharacter(_ ch: Character) {
        var n = 0
        for scalar in ch.unicodeScalars {
            guard n < characterCapacity - 1 else { break }
            let v = scalar.value
            let safe = v < 0x20 || (0x7F...0x9F).contains(v) ? 0x3F : v
            characterBuffer[n] = wchar_t(bitPattern: safe)
            n += 1
        }
        if n == 0 { characterBuffer[0] = 0x20; n = 1 }
        characterBuffer[n] = 0
    }

    private func resolve(_ style: Style, theme: Theme) -> (attributes: attr_t, pair: Int32) {
        if let cached = styleCache[style] { return cached }
        var attributes = wl_a_normal()
        if style.bold { attributes |= wl_a_bold() }
        if style.underline { attributes |= wl_a_underline() }
        var reverse = style.reverse
        var pair: Int32 = 0
        if colorMode == .none {
            // Without colour, selection and the status bar must still stand out.
            if style.background == .selectedBackground || style.foreground == .selectedForeground
                || style.background == .statusBackground {
                reverse = true
            }
        } else if let colors = ColorMapping.pair(foreground: theme[style.foreground],
                                                 background: theme[style.background], mode: colorMode) {
            pair = pairNumber(foreground: colors.fg, background: colors.bg)
            // Coarse palettes can merge e.g. the selection background into the main background.
            if style.background != .mainBackground,
               ColorMapping.backgroundCollapses(theme[style.background], into: theme[.mainBackground], mode: colorMode) {
                reverse = true
            }
        }
        if reverse { attributes |= wl_a_reverse() }
        styleCache[style] = (attributes, pair)
        return (attributes, pair)
    }

    /// The colour pair for two terminal colour numbers, defined on first use; pair 0 (the terminal's default
    /// colours) when the terminal has no pairs left.
    private func pairNumber(foreground: Int, background: Int) -> Int32 {
        let key = Int64(foreground) << 32 | Int64(background)
        if let existing = pairNumbers[key] { return existing }
        guard nextPair < maxPairs, wl_init_pair(nextPair, Int32(foreground), Int32(background)) != ERR else {
            pairNumbers[key] = 0
            return 0
        }
        let pair = nextPair
        nextPair += 1
        pairNumbers[key] = pair
        return pair
    }

    // MARK: - Setup helpers

    private static func rank(_ mode: ColorMode) -> Int {
        switch mode {
        case .none: 0
        case .ansi8: 1
        case .ansi16: 2
        case .indexed256: 3
        case .direct: 4
        }
    }

    private static func environment() -> [String: String] {
        var result: [String: String] = [:]
        for name in ["TERM", "NO_COLOR", "LANG", "LC_ALL", "LC_CTYPE"] {
            if let value = getenv(name) { result[name] = String(cString: value) }
        }
        return result
    }

    /// The locale from the environment; when the environment names none at all (a bare container shell), a
    /// UTF-8 C locale so wide characters work.
    private static func setUpLocale(environment: [String: String]) {
        _ = setlocale(LC_ALL, "")
        let named = ["LC_ALL", "LC_CTYPE", "LANG"].contains { !(environment[$0] ?? "").isEmpty }
        if wl_locale_is_utf8() == 0 && !named {
            if setlocale(LC_CTYPE, "C.UTF-8") == nil { _ = setlocale(LC_CTYPE, "C.utf8") }
        }
    }

    /// Writes bytes straight to stdout's file descriptor (after ncurses has flushed its own buffer).
    static func writeToTerminal(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0, failures = 0
            while offset < buffer.count && failures < 4 {
                let n = write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n > 0 { offset += n } else { failures += 1 }
            }
        }
    }
}
