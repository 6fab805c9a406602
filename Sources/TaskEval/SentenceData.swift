import Foundation
import Evaluation
import WeightFormats

extension EvalData {
    /// Tokens per sentence at most (`[CLS]` and `[SEP]` included): the length sentence encoders such as
    /// all-MiniLM-L6-v2 are used with for short texts; longer sentences are cut, as their tokenizer cuts them.
    public static let sentenceTokens = 128

    /// Reads `path`: an `.npz` or IDX data as `load(_:)` does, anything else as a text file of sentences for an
    /// encoder. `tokenizer` is only asked for when the file is text.
    public static func load(_ path: String, tokenizer: () throws -> WordPieceTokenizer) throws -> EvalData {
        if path.hasSuffix(".npz") || IDXData.handles(path) { return try load(path) }
        return try sentences(path, tokenizer: try tokenizer())
    }

    /// A text file of sentences, one per line (blank lines and lines starting with `#` — a licence or a
    /// comment — are skipped), encoded with the model's WordPiece tokenizer into the arrays a BERT encoder is
    /// fed (Hugging Face's names): `input_ids`, `attention_mask` and `token_type_ids`, padded to the longest.
    public static func sentences(_ path: String, tokenizer: WordPieceTokenizer, maxTokens: Int = sentenceTokens) throws -> EvalData {
        guard let bytes = FileManager.default.contents(atPath: path) else {
            throw EvalError("\(DisplayText.escaped(path)): cannot read the sentence file")
        }
        guard let text = String(data: bytes, encoding: .utf8) else {
            throw EvalError("\(DisplayText.escaped(path)): not UTF-8 text (expected one sentence per line, or an .npz)")
        }
        let lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        guard !lines.isEmpty else { throw EvalError("\(DisplayText.escaped(path)): no sentences (one per line; # starts a comment)") }
        let batch = tokenizer.encodeBatch(lines, maxLength: maxTokens)
        let width = batch.ids.first?.count ?? 0
        let ids = batch.ids.flatMap { $0.map(Int64.init) }, mask = batch.mask.flatMap { $0.map(Int64.init) }
        return try EvalData(inputs: ["input_ids": EvalTensor(shape: [lines.count, width], int64: ids),
                                     "attention_mask": EvalTensor(shape: [lines.count, width], int64: mask),
                                     "token_type_ids": EvalTensor(shape: [lines.count, width], int64: [Int64](repeating: 0, count: ids.count))],
                            labels: nil)
    }
}
