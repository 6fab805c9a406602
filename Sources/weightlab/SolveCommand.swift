import ArgumentParser
import Compression
import Foundation
import TaskEval
import WeightFormats
import Workbench

/// What `solve` and `sweep` share: the model, its engine (with an importance matrix when given) and the
/// evaluated menu.
struct SolveInputs: ParsableArguments {
    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory.")
    var model: String

    @Option(help: "A menu file: a JSON array of options {\"prune\": …, \"quantize\": …} as in plans (default: integer groups, or ggml types for GGUF).")
    var menu: String?

    @Option(help: "The error traded against size: \(ErrorMeasure.names) (imatrix needs --imatrix).")
    var error: String = ErrorMeasure.mse.rawValue

    @Option(help: "An importance matrix (llama.cpp GGUF imatrix or legacy .dat) for ggml types and the imatrix error.")
    var imatrix: String?

    @Option(help: "A regular expression: matching tensors keep their original weights (repeatable).")
    var pin: [String] = []

    @Flag(help: "Estimate the menu from a seeded sample of rows per layer (a fraction of the time): numbers marked ~ with their intervals; exact is the default.")
    var estimate = false

    func validate() throws {
        guard ErrorMeasure(rawValue: error) != nil else {
            throw ValidationError("--error: unknown measure '\(error)'; measures are \(ErrorMeasure.names)")
        }
    }

    /// A plan holding only the solve section, for `target`.
    func plan(_ target: PlanSolve.Target) -> Plan {
        var plan = Plan()
        plan.imatrix = imatrix
        plan.solve = PlanSolve(target: target, error: ErrorMeasure(rawValue: error)!, pin: pin.map { PlanRule(match: $0) })
        return plan
    }

    /// Opens the model and evaluates the menu on it (progress on a terminal's stderr).
    func problem(_ plan: Plan) throws -> (problem: BudgetProblem, resolution: PlanResolution) {
        let menu = try self.menu.map(Self.loadMenu)
        let importance = try imatrix.map { try ImportanceMatrix.load(path: $0) }
        let model = try ModelFile.open(self.model)
        let engine = Engine(model: model, scheduler: ImmediateScheduler(), importance: importance)
        let showProgress = isatty(2) == 1
        let result = try PlanSolving.problem(plan, model: model, engine: engine, menu: menu,
                                             estimate: estimate ? MenuSampling.sampleElements : nil, progress: { [estimate] done, total in
            guard showProgress else { return }
            FileHandle.standardError.write(Data("\rweightlab: \(estimate ? "estimating" : "evaluating") the menu, layer \(done)/\(total)\u{1b}[K".utf8))
        })
        if showProgress { FileHandle.standardError.write(Data("\r\u{1b}[K".utf8)) }
        return result
    }

    // Out of line: a typed-throws call inlined into an untyped do/catch crashes the Swift 6.3 optimiser.
    @inline(never)
    static func loadMenu(_ path: String) throws -> SolverMenu { try SolverMenu.load(path: path) }
}

struct Solve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Choose each layer's settings from a menu for the least total error within a size, and write them as a plan.",
        discussion: """
            Every menu option is evaluated on every weight matrix; the frontier of (size, error) over the whole \
            model is then exact at each of its points, and a target between two points is filled greedily with \
            a bound on the distance to the optimum. The written plan is an ordinary plan: `report` prints the \
            totals printed here.
            """)

    @OptionGroup var inputs: SolveInputs

    @Option(name: .customLong("target-bpw"), help: "Bits per weight over every parameter of the model.")
    var targetBPW: Double?

    @Option(name: .customLong("target-size"), help: "The model's size, e.g. 3.5GiB, 900MB or a number of bytes.")
    var targetSize: String?

    @Option(name: .shortAndLong, help: "Write the plan here.")
    var output: String

    @Flag(help: "Replace an existing output file.")
    var force = false

    @Option(name: .customLong("eval-data"), help: "Check the plans on the task: an .npz of the model's inputs (and optional 'labels') or a text file of sentences; the target's plan and frontier points below it are run on it (see `weightlab eval`).")
    var evalData: String?

    @OptionGroup var runtime: ModelRunFlags

    @Option(name: .customLong("max-drop"), help: "With --eval-data: write the smallest plan whose task loss stays within this (accuracy points as a fraction, e.g. 0.01; the flip rate without labels; 1 − mean cosine for an embedder).")
    var maxDrop: Double?

    func validate() throws {
        if evalData == nil && (maxDrop != nil || runtime.architecture != nil || runtime.tokenizerOrLibraryGiven) {
            throw ValidationError("--max-drop, --arch, --tokenizer and --ort-lib go with --eval-data")
        }
        if let maxDrop, !(maxDrop >= 0 && maxDrop <= 1) { throw ValidationError("--max-drop: \(maxDrop) is out of range 0…1") }
        switch (targetBPW, targetSize) {
        case (nil, nil), (.some, .some): throw ValidationError("give exactly one of --target-bpw or --target-size")
        case (let b?, nil): if !(b > 0 && b <= 64) { throw ValidationError("--target-bpw: \(b) is out of range 0 < bpw ≤ 64") }
        case (nil, let s?): if (ByteSize.parse(s) ?? 0) <= 0 { throw ValidationError("--target-size: '\(s)' is not a size (e.g. 3.5GiB, 900MB, 123456)") }
        }
    }

    var target: PlanSolve.Target {
        if let targetBPW { return .bitsPerWeight(targetBPW) }
        return .bytes(ByteSize.parse(targetSize!)!)
    }

    func run() throws {
        do {
            let plan = inputs.plan(target)
            let (problem, resolution) = try inputs.problem(plan)
            for w in resolution.warnings { FileHandle.standardError.write(Data("weightlab: warning: \(w.description)\n".utf8)) }
            var solution = try problem.solve(target)
            var checkText = ""
            if let evalData {
                let checked = try check(problem: problem, solution: solution, data: evalData)
                checkText = SolveOutput.check(checked, maxDrop: maxDrop)
                guard let chosen = checked.chosen else {
                    print(checkText, terminator: "")
                    throw EvalError("no plan within --max-drop \(maxDrop!): the target's plan already loses \(EvalOutput.number(checked.points.last { $0.isTarget }?.loss ?? .nan)) on the task; nothing written")
                }
                solution = checked.points[chosen].solution
            }
            var written = solution.plan(note: "solved by weightlab for \(target.text), error \(problem.measure.rawValue)")
            written.imatrix = inputs.imatrix
            try AtomicFile.write(written.jsonText(), to: output, overwrite: force, inputs: problem.model.sourceFiles)
            print(SolveOutput.summary(solution, problem: problem, target: target, output: output) + checkText, terminator: "")
        } catch {
            Failure.exit(error)
        }
    }

    /// The task check of the solution and the frontier below it.
    func check(problem: BudgetProblem, solution: BudgetSolution, data: String) throws -> CheckedSolve.Outcome {
        let setup = runtime.setup(data: data)
        let importance = try inputs.imatrix.map { try ImportanceMatrix.load(path: $0) }
        let evaluator = try TaskEvaluator(model: problem.model, setup: setup)
        return try CheckedSolve.run(problem: problem, solution: solution, evaluator: evaluator,
                                    engine: Engine(model: problem.model, scheduler: ImmediateScheduler(), importance: importance),
                                    maxDrop: maxDrop)
    }
}

enum SolveOutput {
    /// The plans checked on the task, smallest first; `*` marks the one written.
    static func check(_ o: CheckedSolve.Outcome, maxDrop: Double?) -> String {
        guard let first = o.points.first else { return "" }
        let h = first.report.headline
        var out = "task check (\(first.report.kind.rawValue), \(first.report.samples) samples" + (maxDrop.map { ", max drop \(EvalOutput.number($0))" } ?? "") + "):\n"
        let rows = o.points.enumerated().map { i, p -> [String] in
            [i == o.chosen ? "*" : " ", String(p.bytes), String(format: "%.3f", p.solution.totals.bitsPerWeight),
             MetricText.sqnr(p.solution.totals.metrics.sqnrDB), EvalOutput.number(p.report.headline.value),
             p.loss.map(EvalOutput.number) ?? "-", p.isTarget ? "target" : "frontier"]
        }
        out += TextTable.render(header: [" ", "bytes", "bits/w", "weight SQNR dB", h.name, "loss", "point"], rows: rows, footer: nil, rightAligned: [1, 2, 3, 4, 5])
        return out
    }

    /// The predicted totals, spelt as `report` spells them, and how close to optimal the answer is.
    static func summary(_ s: BudgetSolution, problem: BudgetProblem, target: PlanSolve.Target, output: String) -> String {
        let t = s.totals
        let chosen = Dictionary(grouping: s.choice, by: { $0 }).mapValues(\.count)
        var out = "wrote \(output): \(problem.evaluated.layers.count) layers solved for \(target.text) (budget \(problem.budget(target)) bytes)\n"
        if let sampling = problem.sampling {
            // Estimated from row samples: marked, with the intervals.
            let h = sampling.halfWidth(choice: s.choice), hs = sampling.halfWidth(choice: s.choice, squared: true)
            let sqnr = t.sqnrInterval(squaredErrorHalfWidth: hs)
            out += "estimated from row samples: ~\(Workbench.Format.bytes(t.bytesCompressed)) (~\(t.bytesCompressed) bytes), "
                + String(format: "%.3f", t.bitsPerWeight) + " bits/w, SQNR ~\(MetricText.sqnr(t.metrics.sqnrDB)) dB (interval \(MetricText.sqnrRange(sqnr)) dB)\n"
            out += "\(problem.measure.rawValue) error ~\(TableFormat.g(s.error)) ± \(TableFormat.g(h)); `report` of the plan gives the exact numbers\n"
        } else {
            out += "predicted: \(Workbench.Format.bytes(t.bytesCompressed)) (\(t.bytesCompressed) bytes), "
                + String(format: "%.3f", t.bitsPerWeight) + " bits/w, SQNR \(MetricText.sqnr(t.metrics.sqnrDB)) dB, MSE \(MetricText.mse(t.metrics.mse))\n"
            out += "\(problem.measure.rawValue) error \(TableFormat.g(s.error)), at most "
                + String(format: "%.2f%%", s.gapFraction * 100) + " above the optimum for this budget\n"
        }
        for (j, count) in chosen.sorted(by: { $0.key < $1.key }) {
            out += "  \(count) × \(SettingsText.summary(problem.menu.options[j]))\n"
        }
        return out
    }
}
