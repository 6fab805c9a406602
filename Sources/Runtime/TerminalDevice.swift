import Workbench

/// What the run loop needs of a terminal: its size and glyph support, input events, and drawing a frame.
/// `Terminal.TerminalScreen` is the real one; tests use `TestSupport.FakeTerminal` (scripted input, recorded
/// frames), so the whole runtime runs without ncurses.
public protocol TerminalDevice: AnyObject {
    var size: (width: Int, height: Int) { get }
    /// Whether block glyphs and box drawing can be shown (else ASCII).
    var isUnicode: Bool { get }
    /// The next key, mouse or resize event, waiting at most `timeoutMilliseconds` (0: only what is queued).
    func nextEvent(timeoutMilliseconds: Int32) -> InputEvent?
    /// Shows `grid`, coloured by `theme`.
    func draw(_ grid: CellGrid, theme: Theme)
    /// The next draw repaints every cell (after a resize).
    func invalidate()
}
