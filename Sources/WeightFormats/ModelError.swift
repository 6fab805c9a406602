/// The one error a reader throws: the file it was reading and, in a few words, what is wrong there.
/// The command line prints it as `weightlab: <path>: <reason>` and exits 2.
public struct ModelError: Error, CustomStringConvertible, Equatable, Sendable {
    public let path: String
    public let reason: String

    public init(_ path: String, _ reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(DisplayText.escaped(path)): \(reason)" }
}
