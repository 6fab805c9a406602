import ArgumentParser
import Compression
import Dispatch
import Foundation
import Terminal
import WeightFormats
import Workbench

/// `weightlab [MODEL] [--plan PLAN] [--theme NAME|PATH]`: the interactive workbench.
struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open a model in the workbench (default: the bundled example).")

    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory (default: the bundled example).")
    var model: String?

    @Option(help: "Start from this plan file; `w` saves back to it.")
    var plan: String?

    @Option(help: "A theme name from Themes/ (dark, light, mono) or a path to a .theme file.")
    var theme: String = "dark"

    func run() throws {
        LatencyTrace.launchTime = DispatchTime.now().uptimeNanoseconds
        let path = model ?? BundledExample.path
        let opened: Model
        let settings: [LayerSettings]
        do {
            opened = try ModelFile.open(path)
            if let plan {
                settings = try PlanLoading.settings(plan, for: opened)
            } else {
                settings = Array(repeating: .identity, count: opened.tensors.count)
            }
        } catch {
            Failure.exit(error)
        }
        let (loadedTheme, warnings) = ThemeFiles.load(theme)
        for w in warnings { FileHandle.standardError.write(Data("weightlab: theme: \(w)\n".utf8)) }

        let screen: TerminalScreen
        do {
            screen = try TerminalScreen.open()
        } catch {
            Failure.exit(error)
        }
        let session = WorkbenchSession(model: opened, settings: settings, planPath: plan, theme: loadedTheme, screen: screen)
        session.loop()
        screen.close()
    }
}

/// Finds theme files: a name in the Themes/ folder shipped with weightlab, or a path.
enum ThemeFiles {
    static func load(_ nameOrPath: String) -> (Theme, [String]) {
        let isPath = nameOrPath.contains("/") || nameOrPath.hasSuffix(".theme")
        let candidates = isPath ? [nameOrPath] : BundledExample.roots.map { $0 + "/Themes/" + nameOrPath + ".theme" }
        for p in candidates {
            if let text = try? String(contentsOfFile: p, encoding: .utf8) {
                let (theme, warnings) = Theme.parse(text, name: isPath ? (p as NSString).lastPathComponent : nameOrPath)
                return (theme, warnings)
            }
        }
        if !isPath && nameOrPath == "dark" { return (Theme.dark, []) }
        return (Theme.dark, ["no theme '\(nameOrPath)' (looked for \(candidates.joined(separator: ", "))); using the built-in dark theme"])
    }
}

/// Loads and resolves a plan. Kept out of line: inlining the typed-throws `Plan.load`/`resolve` calls into a
/// `do`/`catch` of untyped errors crashes the Swift 6.3 optimiser (release builds only).
enum PlanLoading {
    @inline(never)
    static func settings(_ path: String, for model: Model) throws -> [LayerSettings] {
        let plan = try Plan.load(path: path)
        return try plan.resolve(for: model.tensors)
    }
}
