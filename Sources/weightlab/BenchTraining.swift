import Dispatch
import Evaluation
import Foundation
import TaskEval
import Training

extension Bench {
    /// One epoch of Adam (batch 64, lr 1e-3, seed 0) for a 784-512-512-10 MLP on the training split of `data`
    /// (Fashion-MNIST's 60,000 images), the peer of Benchmarks/train_epoch_torch.py. Prints wall and user CPU
    /// seconds (the machine is shared: CPU time is the steadier number), the GEMM kernel and the accuracy.
    func trainingTimings(data: String) throws {
        let sets = try TrainingSet.load(data: data, evalPath: nil)
        let gemm = GEMMSelection.preferred
        var trainer = Trainer(network: try TrainableNetwork.mlp(sizes: [784, 512, 512, 10], seed: 0, gemm: gemm),
                              options: TrainingOptions(epochs: 1, batchSize: 64, learningRate: 1e-3, seed: 0))
        let cpu0 = Self.userCPUSeconds()
        let t0 = DispatchTime.now().uptimeNanoseconds
        let loss = try trainer.train(sets.train)
        let wall = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9
        let cpu = Self.userCPUSeconds() - cpu0
        let accuracy = try trainer.accuracy(sets.eval)
        print(String(format: "train-epoch 784-512-512-10: %d samples, %.2f s wall, %.2f s user CPU, loss %.4f, test accuracy %.2f %% (GEMM: %@)",
                     sets.train.count, wall, cpu, loss, accuracy * 100, gemm.name))
    }

    static func userCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    }
}
