import Foundation
import TaskEval

/// `weightlab bench --encoder DIR --sentences FILE`: sentence-encoder speed (TaskEval's `EncoderBenchmark`),
/// the peer of `Benchmarks/minilm_peer.py` (ONNX Runtime on the same model and sentences).
enum BenchEncoder {
    static func run(directory: String, sentences: String, batch: Int, maxTokens: Int, repeats: Int, json: Bool, embeddingsOut: String?) {
        do {
            let r = try EncoderBenchmark.run(modelDirectory: directory, sentencesPath: sentences, batch: batch,
                                             maxTokens: maxTokens, repeats: repeats)
            if let embeddingsOut {
                let data = r.embeddings.withUnsafeBufferPointer { Data(buffer: $0) }
                try data.write(to: URL(fileURLWithPath: embeddingsOut))
            }
            let fields: [(String, String)] = [
                ("sentences", String(r.sentences)), ("batch", String(batch)), ("max_padded_tokens", String(r.paddedLength)),
                ("real_tokens", String(r.realTokens)), ("kernel", r.kernel), ("cores", String(ProcessInfo.processInfo.activeProcessorCount)),
                ("seconds", String(format: "%.3f", r.seconds)), ("cpu_seconds", String(format: "%.3f", r.cpuSeconds)),
                ("sentences_per_second", String(format: "%.1f", Double(r.sentences) / r.seconds)),
            ]
            if json {
                print("{" + fields.map { "\"\($0.0)\": " + (Double($0.1) != nil ? $0.1 : "\"\($0.1)\"") }.joined(separator: ", ") + "}")
            } else {
                for (k, v) in fields { print(k.padding(toLength: 22, withPad: " ", startingAt: 0) + v) }
            }
        } catch {
            Failure.exit(error)
        }
    }
}
