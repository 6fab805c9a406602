/// Why the terminal could not be used: one clear line for the user.
public struct TerminalError: Error, CustomStringConvertible, Equatable, Sendable {
    public var message: String

    public init(_ message: String) { self.message = message }

    public var description: String { message }

    static let notATerminal = TerminalError(
        "not a terminal: weightlab's workbench needs an interactive terminal "
            + "(use `weightlab inspect` or `weightlab report` for output to a pipe)")
    static let alreadyOpen = TerminalError("the terminal is already in use by another workbench screen")
    static let termNotSet = TerminalError(
        "TERM is not set: weightlab's workbench needs to know the terminal type (e.g. TERM=xterm-256color)")

    static func cannotAddressCursor(_ term: String) -> TerminalError {
        TerminalError("cannot use terminal type '\(term)': it cannot move the cursor (try TERM=xterm-256color)")
    }

    static func unusableTerminalType(_ term: String) -> TerminalError {
        TerminalError("cannot use terminal type '\(term)' (no terminfo entry)")
    }
}
