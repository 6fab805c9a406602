import ArgumentParser
import Compression
import Foundation
import WeightFormats
import Workbench

struct Sweep: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The trade-off curve of a menu on a model: size, bits per weight, total error and SQNR at each point of the frontier, and a plot of it.",
        discussion: "Each row is the least-error choice at its own size (exact); `solve` writes the plan for any size in between.")


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
            case .csv: print(SweepOutput.csv(problem.sweep(), estimate: problem.isEstimate), terminator: "")
            case .json: print(SweepOutput.json(problem, points: problem.sweep()).text())
            }
        } catch {
            Failure.exit(error)
        }
    }
}

enum SweepOutput {
    static func table(_ problem: BudgetProblem, points: [SweepPoint]) -> String {
        // An estimated frontier (`--estimate`): every number marked ~, the error's ± and the SQNR's interval.
        let mark = problem.isEstimate ? "~" : ""
        let rows = points.map { p in
            [Workbench.Format.bytes(p.totals.bytesCompressed), "\(p.totals.bytesCompressed)", String(format: "%.3f", p.totals.bitsPerWeight),
             mark + TableFormat.g(p.error), mark + MetricText.sqnr(p.totals.metrics.sqnrDB)]
                + (problem.isEstimate ? ["± " + TableFormat.g(p.errorHalfWidth ?? 0), p.sqnrInterval.map(MetricText.sqnrRange) ?? ""] : [])
        }
        var out = "\(DisplayText.escaped(problem.model.path)): \(problem.evaluated.layers.count) layers × \(problem.menu.options.count) options, "
            + "\(problem.frontier.count) frontier points (error: \(problem.measure.rawValue))\n"
        if let s = problem.sampling {
            out += "estimated from \(s.rowsSampled.reduce(0, +)) sampled rows of \(s.rows.reduce(0, +)) (~: estimate; intervals at ±\(String(format: "%.2f", s.z)) standard errors); without --estimate every number is exact\n"
        }
        out += "\n"
        out += TextTable.render(header: ["size", "bytes", "bits/w", "error", "SQNR dB"] + (problem.isEstimate ? ["error ±", "SQNR interval"] : []),
                                rows: rows, footer: nil, rightAligned: [0, 1, 2, 3, 4, 5, 6])
        out += "\n" + FrontierPlot.lines(points: plotPoints(problem.sweep())).joined(separator: "\n") + "\n"
        return out
    }

    /// Bits per weight against SQNR, for the plot.
    static func plotPoints(_ points: [SweepPoint]) -> [(x: Double, y: Double)] {
        points.map { ($0.totals.bitsPerWeight, $0.totals.metrics.sqnrDB) }
    }

    static func csv(_ points: [SweepPoint], estimate: Bool = false) -> String {
        guard estimate else {
            return "bytes,bits_per_weight,error,sqnr_db\n" + points.map { p in
                "\(p.totals.bytesCompressed),\(MetricText.csv(p.totals.bitsPerWeight)),\(MetricText.csv(p.error)),\(MetricText.csv(p.totals.metrics.sqnrDB))"
            }.joined(separator: "\n") + "\n"
        }
        return "bytes,bits_per_weight,error,sqnr_db,error_half_width,sqnr_db_low,sqnr_db_high\n" + points.map { p in
            "\(p.totals.bytesCompressed),\(MetricText.csv(p.totals.bitsPerWeight)),\(MetricText.csv(p.error)),\(MetricText.csv(p.totals.metrics.sqnrDB)),"
                + "\(MetricText.csv(p.errorHalfWidth)),\(MetricText.csv(p.sqnrInterval?.lowerBound)),\(MetricText.csv(p.sqnrInterval?.upperBound))"
        }.joined(separator: "\n") + "\n"
    }

    static func json(_ problem: BudgetProblem, points: [SweepPoint]) -> JSONValue {
        .object([
            ("model", .string(problem.model.path)), ("error_measure", .string(problem.measure.rawValue)),
            ("layers_solved", .int(problem.evaluated.layers.count)), ("estimate", .bool(problem.isEstimate)),
            ("menu", .array(problem.menu.options.map { .string(SettingsText.summary($0)) })),
            ("points", .array(points.map { p in
                .object([("bytes", .int(p.totals.bytesCompressed)), ("bits_per_weight", .double(p.totals.bitsPerWeight)),
                         ("error", .double(p.error)), ("sqnr_db", p.totals.metrics.sqnrDB.isFinite ? .double(p.totals.metrics.sqnrDB) : .null)]
                        + (p.errorHalfWidth.map { h in
                            [("error_half_width", JSONValue.double(h)),
                             ("sqnr_db_interval", .array(p.sqnrInterval.map { [$0.lowerBound, $0.upperBound].map { $0.isFinite ? JSONValue.double($0) : .null } } ?? []))]
                        } ?? []))
            })),
        ])
    }
}
