/// Where each pane sits for a terminal size. The view draws into these rectangles and the reducer hit-tests
/// mouse events and sizes pages against the same values, so the two always agree.
public struct Layout: Equatable, Sendable {
    public struct Rect: Equatable, Sendable {
        public var x: Int, y: Int, width: Int, height: Int
        public init(x: Int, y: Int, width: Int, height: Int) {
            (self.x, self.y, self.width, self.height) = (x, y, width, height)
        }
        public var maxX: Int { x + width }
        public var maxY: Int { y + height }
        public func contains(x px: Int, y py: Int) -> Bool { px >= x && px < maxX && py >= y && py < maxY }
    }

    public static let minimumWidth = 60
    public static let minimumHeight = 16

    public let width: Int
    public let height: Int
    /// Below the minimum the screen is one message.
    public let isTooSmall: Bool
    /// The layer pane: a title row, a header row, then `tableRows` layer rows.
    public let table: Rect
    public let histogram: Rect
    public let settings: Rect
    /// Totals and progress.
    public let statusRow: Int
    /// Filter prompt, messages or key hints.
    public let hintRow: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
        isTooSmall = width < Self.minimumWidth || height < Self.minimumHeight
        let body = max(0, height - 3)                  // minus the title bar and the two bottom rows
        let tableHeight = max(5, body * 2 / 5)
        table = Rect(x: 0, y: 1, width: width, height: tableHeight)
        let lowerTop = 1 + tableHeight
        let lowerHeight = max(0, height - 2 - lowerTop)
        let settingsWidth = min(40, max(26, width * 3 / 10))
        histogram = Rect(x: 0, y: lowerTop, width: max(0, width - settingsWidth - 1), height: lowerHeight)
        settings = Rect(x: width - settingsWidth, y: lowerTop, width: settingsWidth, height: lowerHeight)
        statusRow = height - 2
        hintRow = height - 1
    }

    /// Layer rows visible in the table (below its title and header rows).
    public var tableRows: Int { max(1, table.height - 2) }
    public var tableFirstRow: Int { table.y + 2 }

    /// The histogram's bar area: below the pane title and the statistics line, above the tick, axis and
    /// legend rows.
    public var bars: Rect {
        Rect(x: histogram.x + 1, y: histogram.y + 2, width: max(1, histogram.width - 2),
             height: max(1, histogram.height - 5))
    }
    public var tickRow: Int { bars.maxY }
    public var axisRow: Int { bars.maxY + 1 }
    public var legendRow: Int { bars.maxY + 2 }
}
