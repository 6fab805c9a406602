import Runtime
import Workbench

/// A terminal for driving the runtime in tests (as ratatui's TestBackend): input events are scripted with
/// `send`, every drawn frame is recorded, and the size and glyph support are set by the test.
public final class FakeTerminal: TerminalDevice {
    public var size: (width: Int, height: Int)
    public var isUnicode: Bool
    /// Events not yet read by the run loop, in order.
    public private(set) var pending: [InputEvent] = []
    /// Every grid drawn, oldest first.
    public private(set) var frames: [CellGrid] = []
    public private(set) var invalidations = 0

    public init(width: Int = 120, height: Int = 40, unicode: Bool = true) {
        size = (width, height)
        isUnicode = unicode
    }

    /// Queues events for the run loop to read.
    public func send(_ events: InputEvent...) { pending += events }
    public func send(_ events: [InputEvent]) { pending += events }
    /// Queues one key press per character.
    public func type(_ text: String) { pending += text.map { .key(.character($0)) } }

    public func nextEvent(timeoutMilliseconds: Int32) -> InputEvent? {
        pending.isEmpty ? nil : pending.removeFirst()
    }

    public func draw(_ grid: CellGrid, theme: Theme) { frames.append(grid) }
    public func invalidate() { invalidations += 1 }

    /// The last frame drawn, one string per row.
    public var lastLines: [String] { frames.last?.lines ?? [] }
}
