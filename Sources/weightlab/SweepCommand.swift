import ArgumentParser
import Compression
import Foundation
import WeightFormats
import Workbench

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The trade-off curve of a menu on a model: size, bits per weight, total error and SQNR at each point of the frontier, and a plot of it.",
        discussion: "Each row is the least-error choice at its own size (exact); `solve` writes the plan for any size in between.")

    enum OutputFormat: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    @OptionGroup var inputs: SolveInputs

    @Option(help: "table (with a plot), csv or json.")
    var format: OutputFormat = .table

    @Option(help: "Most rows in the table (csv and json list every point).")
    var rows: Int = 24

    func validate() throws {
        guard rows >= 2 else { throw ValidationError("--rows: \(rows) is fewer than 2") }
    }

    func run() throws {
        do {
            let (problem, resolution) = try inputs.problem(inputs.plan(.bitsPerWeight(16)))
            for w in resolution.warnings { FileHandle.standardError.write(Data("weightlab: warning: \(w.description)\n".utf8)) }
            switch format {
            case .table: print(SweepOutput.table(problem, points: problem.sweep(limit: rows)), terminator: "")
            case .csv: print(SweepOutput.csv(problem.sweep()), terminator: "")
            case .json: print(SweepOutput.json(problem, points: problem.sweep()).text())
            }
        } catch {
            Failure.exit(error)
        }
    }
}

enum SweepOutput {
    static func table(_ problem: BudgetProblem, points: [SweepPoint]) -> String {
        let rows = points.map { p in
            [Workbench.Format.bytes(p.totals.bytesCompressed), "\(p.totals.bytesCompressed)", String(format: "%.3f", p.totals.bitsPerWeight),
             TableFormat.g(p.error), MetricText.sqnr(p.totals.metrics.sqnrDB)]
        }
        var out = "\(DisplayText.escaped(problem.model.path)): \(problem.evaluated.layers.count) layers × \(problem.menu.options.count) options, "
            + "\(problem.frontier.count) frontier points (error: \(problem.measure.rawValue))\n\n"
        out += TextTable.render(header: ["size", "bytes", "bits/w", "error", "SQNR dB"], rows: rows, footer: nil,
                                rightAligned: [0, 1, 2, 3, 4])
        out += "\n" + FrontierPlot.lines(points: plotPoints(problem.sweep())).joined(separator: "\n") + "\n"
        return out
    }

    /// Bits per weight against SQNR, for the plot.
    static func plotPoints(_ points: [SweepPoint]) -> [(x: Double, y: Double)] {
        points.map { ($0.totals.bitsPerWeight, $0.totals.metrics.sqnrDB) }
    }

    static func csv(_ points: [SweepPoint]) -> String {
        "bytes,bits_per_weight,error,sqnr_db\n" + points.map { p in
            "\(p.totals.bytesCompressed),\(MetricText.csv(p.totals.bitsPerWeight)),\(MetricText.csv(p.error)),\(MetricText.csv(p.totals.metrics.sqnrDB))"
        }.joined(separator: "\n") + "\n"
    }

    static func json(_ problem: BudgetProblem, points: [SweepPoint]) -> JSONValue {
        .object([
            ("model", .string(problem.model.path)), ("error_measure", .string(problem.measure.rawValue)),
            ("layers_solved", .int(problem.evaluated.layers.count)),
            ("menu", .array(problem.menu.options.map { .string(SettingsText.summary($0)) })),
            ("points", .array(points.map { p in
                .object([("bytes", .int(p.totals.bytesCompressed)), ("bits_per_weight", .double(p.totals.bitsPerWeight)),
                         ("error", .double(p.error)), ("sqnr_db", p.totals.metrics.sqnrDB.isFinite ? .double(p.totals.metrics.sqnrDB) : .null)])
            })),
        ])
    }
}
