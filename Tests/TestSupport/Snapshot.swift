import Foundation
import Testing

/// Compares rendered text lines with a committed snapshot file, `Snapshots/<name>.txt` beside the calling
/// test file. Trailing spaces are not significant (editors strip them); the line count is.
///
/// When the file is missing, or `WEIGHTLAB_RECORD_SNAPSHOTS=1` is set, the lines are written and an issue is
/// recorded saying so: a new snapshot fails once, visibly, and must be looked at before it is committed.
/// Otherwise the first differing line is reported with both versions.
public func assertSnapshot(lines: [String], named name: String, filePath: String = #filePath,
                           sourceLocation: SourceLocation = #_sourceLocation) {
    let directory = URL(fileURLWithPath: filePath).deletingLastPathComponent().appendingPathComponent("Snapshots")
    let file = directory.appendingPathComponent(name + ".txt")
    let actual = lines.map(trimTrailingSpaces)
    let text = actual.joined(separator: "\n") + "\n"
    let record = ProcessInfo.processInfo.environment["WEIGHTLAB_RECORD_SNAPSHOTS"] == "1"
    if record || !FileManager.default.fileExists(atPath: file.path) {
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Data(text.utf8).write(to: file)
            Issue.record("recorded snapshot \(file.path); check it by eye and run the tests again", sourceLocation: sourceLocation)
        } catch {
            Issue.record("cannot write snapshot \(file.path): \(error)", sourceLocation: sourceLocation)
        }
        return
    }
    guard let data = FileManager.default.contents(atPath: file.path) else {
        Issue.record("cannot read snapshot \(file.path)", sourceLocation: sourceLocation)
        return
    }
    var expected = String(decoding: data, as: UTF8.self).components(separatedBy: "\n")
    if expected.last == "" { expected.removeLast() }
    expected = expected.map(trimTrailingSpaces)
    for k in 0..<max(expected.count, actual.count) {
        let e = k < expected.count ? expected[k] : "<no line>"
        let a = k < actual.count ? actual[k] : "<no line>"
        if e != a {
            Issue.record("""
                snapshot '\(name)' differs at line \(k + 1) of \(expected.count) (actual has \(actual.count)):
                expected: \(e)
                actual:   \(a)
                (set WEIGHTLAB_RECORD_SNAPSHOTS=1 to re-record after checking the new screen)
                """, sourceLocation: sourceLocation)
            return
        }
    }
}

private func trimTrailingSpaces(_ s: String) -> String {
    var s = Substring(s)
    while s.last == " " { s.removeLast() }
    return String(s)
}
