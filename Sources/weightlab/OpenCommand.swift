import ArgumentParser
import Compression
import Dispatch
import Foundation
import Runtime
import TaskEval
import Terminal
import WeightFormats
import Workbench

/// `weightlab [MODEL] [--plan PLAN] [--eval 'CMD {}' [--eval-metric REGEX]] [--theme NAME|PATH]`: the interactive workbench.
struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open a model in the workbench (default: the bundled example).")

    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory (default: the bundled example).")
    var model: String?

    @Option(help: "Start from this plan file; `w` saves back to it. A path that does not exist yet starts a new plan there.")
    var plan: String?

    @Flag(help: "Refuse a plan with a rule that matches no tensor (by default that is a warning).")
    var strict = false

    @Option(help: "The task metric `E` measures: a shell command with {} for a temporary copy of the model written with the settings on screen (for instance 'llama-perplexity -m {} -f wiki.test.raw'); its last printed number is the metric.")
    var eval: String?

    @Option(name: .customLong("eval-metric"), help: "A regular expression whose last match (its first group, if any) in --eval's output is the metric.")
    var evalMetric: String?

    @Option(name: .customLong("eval-data"), help: "Evaluation data for the task line beside the totals: an .npz of the model's inputs (and optional 'labels'), or a text file of sentences (one per line) for an encoder; recomputed in the background whenever the plan changes (see `weightlab eval`).")
    var evalData: String?

    @OptionGroup var runtime: ModelRunFlags

    @Option(help: "Training data for recovery (F: fine-tune the plan on screen in the background, as `weightlab recover`): an IDX directory (its train split; t10k evaluates unless --eval-data is given) or an .npz. Needs --arch.")
    var data: String?

    @Option(name: .customLong("train-limit"), help: "With --data: train on the first N samples only.")
    var trainLimit: Int?

    @Option(help: "An importance matrix (llama.cpp's GGUF imatrix or legacy .dat; else the plan's \"imatrix\"): ggml types are evaluated with ggml's imatrix quantizers and the importance-weighted SQNR is shown beside SQNR.")
    var imatrix: String?

    @Option(help: "A theme name from Themes/ (dark, light, mono) or a path to a .theme file.")
    var theme: String = "dark"

    func run() throws {
        // Before the terminal's handlers (which chain to it): an interrupt during a background model write
        // removes its temporary file.
        InterruptCleanup.install()
        LatencyTrace.launchTime = DispatchTime.now().uptimeNanoseconds
        let path = model ?? BundledExample.path
        if evalData == nil && (runtime.tokenizerOrLibraryGiven || (runtime.architecture != nil && data == nil)) {
            Failure.exit(ValidationError("--arch, --tokenizer and --ort-lib go with --eval-data (--arch also with --data)"))
        }
        if data == nil && trainLimit != nil { Failure.exit(ValidationError("--train-limit goes with --data")) }
        if let trainLimit, trainLimit < 1 { Failure.exit(ValidationError("--train-limit must be at least 1")) }
        if let data, !FileManager.default.isReadableFile(atPath: data) {
            Failure.exit(ValidationError("--data: cannot read \(data)"))
        }
        if let evalData, !FileManager.default.isReadableFile(atPath: evalData) {
            Failure.exit(ValidationError("--eval-data: cannot read \(evalData)"))
        }
        var taskMetric: TaskMetric? = nil
        do {
            if let eval { taskMetric = try TaskMetric(command: eval, metricPattern: evalMetric) }
            else if evalMetric != nil { throw ValidationError("--eval-metric needs --eval 'CMD {}'") }
        } catch {
            Failure.exit(error)
        }
        let opened: Model
        let settings: [LayerSettings]
        var notice: String? = nil
        var loadedPlan: Plan? = nil
        var importance: ImportanceMatrix? = nil
        do {
            opened = try ModelFile.open(path)
            for f in opened.skippedFiles { FileHandle.standardError.write(Data("weightlab: skipped \(f)\n".utf8)) }
            if let first = opened.skippedFiles.first {
                notice = "skipped \(first)" + (opened.skippedFiles.count > 1 ? " (+\(opened.skippedFiles.count - 1) more)" : "")
            }
            if let plan, !FileManager.default.fileExists(atPath: plan) {
                settings = Array(repeating: .identity, count: opened.tensors.count)
                notice = "new plan: w saves it to \(plan)"
            } else if let plan {
                var loaded = try PlanEvaluation.load(plan)
                if let imatrix { loaded.imatrix = ImportanceMatrix.absolute(imatrix) }   // presets choose (and refuse) as with a matrix
                let resolution = try PlanEvaluation.resolution(loaded, for: opened, strict: strict)
                loadedPlan = loaded
                settings = resolution.settings
                let lines = resolution.warnings.map { "warning: " + $0.description } + PlanSkip.summary(resolution.skipped)
                for line in lines { FileHandle.standardError.write(Data("weightlab: \(line)\n".utf8)) }
                if let first = lines.first {
                    notice = first + (lines.count > 1 ? " (+\(lines.count - 1) more, shown after you quit)" : "")
                }
            } else {
                settings = Array(repeating: .identity, count: opened.tensors.count)
            }
            importance = try ImportanceMatrix.forCommand(override: imatrix, plan: loadedPlan, planPath: plan, model: opened)
            try ImportanceRequirement.checkEntries(settings, model: opened, preset: loadedPlan?.preset, importance: importance)
        } catch {
            Failure.exit(error)
        }
        let loadedTheme: Theme, warnings: [String]
        do {
            (loadedTheme, warnings) = try ThemeFiles.load(theme)
        } catch {
            Failure.exit(error)
        }
        for w in warnings { FileHandle.standardError.write(Data("weightlab: theme: \(w)\n".utf8)) }
        if let first = warnings.first {
            // The screen covers stderr while it is open: say it there too.
            notice = "theme: \(first)" + (warnings.count > 1 ? " (+\(warnings.count - 1) more, shown after you quit)" : "")
        }

        let screen: TerminalScreen
        do {
            screen = try TerminalScreen.open()
        } catch {
            Failure.exit(error)
        }
        let session = WorkbenchSession(model: opened, settings: settings, planPath: plan, theme: loadedTheme,
                                       terminal: screen, plan: loadedPlan, notice: notice, taskMetric: taskMetric,
                                       importance: importance,
                                       taskSetup: evalData.map { runtime.setup(data: $0) },
                                       recoverySetup: data.map { RecoverySetup(dataPath: $0, evalDataPath: evalData,
                                                                               architecturePath: runtime.architecture, limit: trainLimit) })
        session.loop()
        screen.close()
        // The screen covered stderr: repeat what the plan said.
        if let plan, loadedPlan != nil, let r = try? PlanEvaluation.resolution(loadedPlan!, for: opened, strict: false) {
            let lines = r.warnings.map { "warning: " + $0.description } + PlanSkip.summary(r.skipped)
            for line in lines { FileHandle.standardError.write(Data("weightlab: \(DisplayText.escaped(plan)): \(line)\n".utf8)) }
        }

    }
}

/// The ncurses screen is the runtime's terminal.
extension TerminalScreen: TerminalDevice {}

/// Finds the theme: a name in the Themes/ folder shipped with weightlab, or a path to a theme file.
enum ThemeFiles {
    static var directory: String {
        BundledExample.roots.map { $0 + "/Themes" }.first { FileManager.default.fileExists(atPath: $0) } ?? "Themes"
    }

    /// The theme and its warnings; the built-in dark theme when the default is asked for and no Themes/
    /// folder is around (an installed binary). Out of line for the same optimiser bug as `PlanEvaluation.load`.
    @inline(never)
    static func load(_ nameOrPath: String) throws -> (Theme, [String]) {
        do {
            return try Theme.load(nameOrPath: nameOrPath, themesDirectory: directory)
        } catch {
            if nameOrPath == "dark" { return (Theme.dark, []) }
            throw error
        }
    }
}
