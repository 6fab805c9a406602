import ArgumentParser
import Training

/// The training options `recover` and `distill` share (`@OptionGroup`), parsed and checked in one place.
struct TrainingFlags: ParsableArguments {
    @Option(help: "Epochs.")
    var epochs = 1

    @Option(help: "Samples per mini-batch.")
    var batch = 32

    @Option(name: .customLong("lr"), help: "Adam's learning rate (default: recover 2e-3, distill 1e-3).")
    var learningRate: Float?

    @Option(help: "Seed of the sample order (and of distill's initial student weights).")
    var seed: UInt64 = 0

    @Option(help: "Train on the first N samples only.")
    var limit: Int?

    func validate() throws {
        guard epochs >= 1, epochs <= 1000 else { throw ValidationError("--epochs must be 1…1000") }
        guard batch >= 1, batch <= 1 << 16 else { throw ValidationError("--batch must be 1…65536") }
        if let learningRate, !(learningRate > 0 && learningRate.isFinite) { throw ValidationError("--lr must be a positive number") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1") }
    }

    /// The options for `Training`, with the command's own learning rate when --lr is not given.
    func options(defaultLearningRate: Float) -> TrainingOptions {
        TrainingOptions(epochs: epochs, batchSize: batch, learningRate: learningRate ?? defaultLearningRate, seed: seed)
    }
}
