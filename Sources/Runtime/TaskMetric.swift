import Foundation

/// A task metric from the user's own evaluation command (`apply --eval 'CMD {}'`): the command is run by
/// `/bin/sh` with `{}` replaced by the written model's path (shell-quoted), and the metric is the last
/// number it prints on stdout, or the first capture group (else the whole match) of the last match of a
/// regular expression the user gives.
public struct TaskMetric: Equatable, Sendable {
    /// The command as run.
    public let command: String
    public let value: Double
    /// The text the value was read from.
    public let matched: String

    /// Why no metric came out: the command failed or printed no number. `stderrTail` holds its last lines.
    public struct Failure: Error, Equatable, Sendable, CustomStringConvertible {
        public let message: String
        public let stderrTail: String
        public var description: String {
            stderrTail.isEmpty ? message : message + "; its stderr ends with: " + stderrTail
        }
    }

    /// Lines of stderr kept for a failure.
    static let tailLines = 5

    /// The command line with `{}` replaced by `path` quoted for the shell (appended when there is no `{}`).
    public static func commandLine(_ template: String, path: String) -> String {
        let quoted = "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'"
        return template.contains("{}") ? template.replacingOccurrences(of: "{}", with: quoted) : template + " " + quoted
    }

    /// Runs the command and reads the metric.
    public static func run(_ template: String, path: String, metric pattern: String? = nil) throws(Failure) -> TaskMetric {
        var regex: NSRegularExpression? = nil
        if let pattern {
            do { regex = try NSRegularExpression(pattern: pattern) } catch {
                throw Failure(message: "--eval-metric '\(pattern)' is not a valid regular expression", stderrTail: "")
            }
        }
        let command = commandLine(template, path: path)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        do { try p.run() } catch {
            throw Failure(message: "cannot run the evaluation command: \(error)", stderrTail: "")
        }
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        DispatchQueue.global().async(group: group) { outData = out.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { errData = err.fileHandleForReading.readDataToEndOfFile() }
        group.wait()
        p.waitUntilExit()
        let stdout = String(decoding: outData, as: UTF8.self)
        let tail = String(decoding: errData, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: true)
            .suffix(tailLines).joined(separator: " | ")
        guard p.terminationReason == .exit, p.terminationStatus == 0 else {
            let how = p.terminationReason == .exit ? "exit status \(p.terminationStatus)" : "signal \(p.terminationStatus)"
            throw Failure(message: "the evaluation command failed (\(how))", stderrTail: tail)
        }
        let range = NSRange(stdout.startIndex..., in: stdout)
        let expression = regex ?? numberPattern
        guard let m = expression.matches(in: stdout, range: range).last else {
            throw Failure(message: pattern == nil ? "the evaluation command printed no number"
                                                   : "the evaluation command's output has no match for '\(pattern!)'", stderrTail: tail)
        }
        let group1 = m.numberOfRanges > 1 && m.range(at: 1).location != NSNotFound ? m.range(at: 1) : m.range
        let text = Range(group1, in: stdout).map { String(stdout[$0]) } ?? ""
        let number = numberPattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text))
            .flatMap { Range($0.range, in: text) }.flatMap { Double(text[$0]) }
        guard let value = number else {
            throw Failure(message: "the evaluation metric '\(text)' is not a number", stderrTail: tail)
        }
        return TaskMetric(command: command, value: value, matched: text)
    }

    /// A decimal number: sign, digits, fraction, exponent; also `inf` and `nan` as Python prints them.
    nonisolated(unsafe) static let numberPattern = try! NSRegularExpression(
        pattern: "[-+]?(?:(?:\\d+\\.?\\d*|\\.\\d+)(?:[eE][-+]?\\d+)?|inf|nan)")
}
