import Foundation
import Testing
@testable import Evaluation

/// The WordPiece tokenizer against the `tokenizers` library's BertWordPieceTokenizer on the same vocab.txt:
/// accents, CJK, control characters, punctuation, over-long words, unknown pieces.
struct TokenizerReferenceTests {
    struct Case: Decodable { let text: String; let ids: [Int] }

    @Test func matchesHuggingFaceTokenizers() throws {
        let cases = try JSONDecoder().decode([Case].self, from: try Data(contentsOf: URL(fileURLWithPath: EvalFixtures.path("tokenizer_cases.json"))))
        #expect(cases.count >= 20)
        // The same vocabulary read from vocab.txt and from the tokenizer.json `tokenizers` saved.
        for file in ["vocab.txt", "tokenizer.json"] {
            let tokenizer = try WordPieceTokenizer(contentsOf: EvalFixtures.path("tiny_bert/\(file)"))
            for c in cases {
                #expect(tokenizer.encode(c.text) == c.ids, "\(file): \(c.text.debugDescription)")
            }
        }
    }

    @Test func truncatesToMaxLengthKeepingSpecialTokens() throws {
        let tokenizer = try WordPieceTokenizer(contentsOf: EvalFixtures.path("tiny_bert/vocab.txt"))
        let ids = tokenizer.encode("the model is small the model is small", maxLength: 5)
        #expect(ids.count == 5 && ids.first == tokenizer.classID && ids.last == tokenizer.separatorID)
    }

    @Test func vocabularyWithoutSpecialTokensIsRefused() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("evalnet-vocab-\(getpid()).txt").path
        try "a\nb\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: EvaluationError.self) { try WordPieceTokenizer(contentsOf: path) }
        #expect(throws: EvaluationError.self) { try WordPieceTokenizer(contentsOf: path + ".missing") }
    }
}
