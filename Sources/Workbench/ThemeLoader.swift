import Foundation

/// Finding and reading theme files: `--theme NAME` looks up `<themesDirectory>/NAME.theme`, anything that
/// looks like a path (contains `/` or ends in `.theme`) is read directly.
public struct ThemeLoadError: Error, Equatable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension Theme {
    /// Loads a theme and returns it with one warning per problem line (unknown keys, bad colours). Keys the
    /// file leaves out keep `Theme.dark`'s colours. Unknown names and unreadable files are errors that name
    /// the themes available.
    public static func load(nameOrPath: String, themesDirectory: String) throws(ThemeLoadError) -> (theme: Theme, warnings: [String]) {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme")
        let path = isPath ? nameOrPath : (themesDirectory as NSString).appendingPathComponent(nameOrPath + ".theme")
        let name = isPath ? ((nameOrPath as NSString).lastPathComponent as NSString).deletingPathExtension : nameOrPath
        guard FileManager.default.fileExists(atPath: path) else {
            if isPath { throw ThemeLoadError(message: "theme file '\(nameOrPath)' does not exist") }
            let known = available(in: themesDirectory)
            throw ThemeLoadError(message: "unknown theme '\(nameOrPath)'"
                                 + (known.isEmpty ? "" : " (available: " + known.joined(separator: ", ") + ")"))
        }
        // Theme files are tiny; refuse anything that is clearly not one before reading it.
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= 1 << 20 else { throw ThemeLoadError(message: "theme file '\(path)' is too large (\(size) bytes)") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ThemeLoadError(message: "cannot read theme file '\(path)'")
        }
        let parsed = parse(String(decoding: data, as: UTF8.self), name: name)
        return (parsed.theme, parsed.warnings)
    }

    /// Names of the `*.theme` files in a directory, sorted.
    public static func available(in themesDirectory: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: themesDirectory)) ?? []
        return files.filter { $0.hasSuffix(".theme") }.map { String($0.dropLast(6)) }.sorted()
    }

    /// The theme as file text (btop style), so the bundled files and `Theme.dark` can be checked against
    /// each other and users can start a theme from any loaded one.
    public func fileText(header: [String]) -> String {
        var lines = header.map { "# " + $0 }
        lines.append("")
        for role in ThemeRole.allCases {
            lines.append("theme[\(role.rawValue)]=\"\(self[role])\"")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
