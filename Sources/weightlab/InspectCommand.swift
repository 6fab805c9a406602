import ArgumentParser
import Foundation
import WeightFormats

struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List a model's tensors: dtype, shape, parameters, bytes and value statistics.")

    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory.")
    var model: String

    @Flag(help: "Print JSON instead of a table.")
    var json = false

    @Flag(name: .customLong("no-stats"), help: "List tensors without reading their data.")
    var noStats = false

    func run() throws {
        if json {
            InspectOutput.printJSON(for: model, withStatistics: !noStats)
        } else {
            InspectOutput.printTable(for: model, withStatistics: !noStats)
        }
    }
}
