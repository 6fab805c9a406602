import Foundation
import Evaluation
import WeightFormats

/// `weightlab bench --encoder`: sentence embeddings of a BERT encoder (a Hugging Face model directory with
/// `model.safetensors`, `config.json` and a tokenizer) by weightlab's own kernels, timed in wall-clock and
/// process CPU time (the machine is shared: CPU time is the steadier number). The peer is
/// `Benchmarks/minilm_peer.py`: ONNX Runtime on the same model, sentences and batches.
public enum EncoderBenchmark {
    public struct Result: Sendable {
        public var sentences: Int
        /// Tokens per padded sentence (the longest sentence, at most `maxTokens`) and real tokens in all.
        public var paddedLength: Int
        public var realTokens: Int
        public var kernel: String
        /// Best wall-clock seconds of the runs, and the CPU seconds (user + system) of that run.
        public var seconds: Double
        public var cpuSeconds: Double
        /// Mean-pooled embeddings of the best run (rows of `hidden`), for comparison with the peer's.
        public var embeddings: [Float]
        public var hidden: Int
    }

    /// Encodes `sentencesPath` (one per line, # comments) in batches of `batch`, each batch padded to its
    /// longest sentence, `repeats` times.
    public static func run(modelDirectory dir: String, sentencesPath: String, batch: Int, maxTokens: Int, repeats: Int) throws -> Result {
        let model = try ModelFile.open(dir + "/model.safetensors")
        let tokenizer = try TaskEvaluator.tokenizer(nil, model: model)
        guard let text = FileManager.default.contents(atPath: sentencesPath).flatMap({ String(data: $0, encoding: .utf8) }) else {
            throw EvalError("\(DisplayText.escaped(sentencesPath)): cannot read the sentences")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !lines.isEmpty else { throw EvalError("\(DisplayText.escaped(sentencesPath)): no sentences") }
        guard let configData = FileManager.default.contents(atPath: dir + "/config.json") else {
            throw EvalError("\(DisplayText.escaped(dir)): no config.json")
        }
        let weights = WeightTable(model: model)
        var config: BertConfig
        do {
            config = try BertConfig(huggingFaceConfig: configData)
            if weights.contains("bert.embeddings.word_embeddings.weight") { config.prefix = "bert." }
        } catch let e as EvaluationError { throw EvalError(e.message) }
        let gemm = GEMMSelection.preferred
        let encoder: BertEncoder
        do { encoder = try BertEncoder(config: config, weights: weights, gemm: gemm) } catch let e as EvaluationError { throw EvalError(e.message) }
        let batches = stride(from: 0, to: lines.count, by: batch).map { tokenizer.encodeBatch(Array(lines[$0..<min(lines.count, $0 + batch)]), maxLength: maxTokens) }
        var best = Result(sentences: lines.count, paddedLength: batches.map { $0.ids.first?.count ?? 0 }.max() ?? 0,
                          realTokens: batches.reduce(0) { $0 + $1.mask.reduce(0) { $0 + $1.reduce(0, +) } },
                          kernel: gemm.name, seconds: .infinity, cpuSeconds: 0, embeddings: [], hidden: config.hidden)
        for _ in 0..<max(1, repeats) {
            let cpu0 = cpuSeconds(), t0 = DispatchTime.now().uptimeNanoseconds
            var out: [Float] = []
            out.reserveCapacity(lines.count * config.hidden)
            do {
                for b in batches { out += try encoder.embed(ids: b.ids, mask: b.mask).values }
            } catch let e as EvaluationError { throw EvalError(e.message) }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9, cpu = cpuSeconds() - cpu0
            if seconds < best.seconds { best.seconds = seconds; best.cpuSeconds = cpu; best.embeddings = out }
        }
        return best
    }

    /// User + system CPU seconds of this process so far.
    static func cpuSeconds() -> Double {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6
    }
}
