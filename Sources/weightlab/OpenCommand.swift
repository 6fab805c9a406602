import ArgumentParser
import Foundation
import WeightFormats

/// `weightlab [MODEL]`: opens the workbench. Until the workbench lands it prints the inspect table.
struct Open: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open",
        abstract: "Open a model in the workbench (default: the bundled example).")

    @Argument(help: "A safetensors/GGUF/.npy/.npz file, a sharded index or a directory.")
    var model: String?

    func run() throws {
        let path = model ?? BundledExample.path
        InspectOutput.printTable(for: path, withStatistics: true)
    }
}
