import Foundation

/// BERT's tokenizer: basic tokenization (clean control characters, space out CJK ideographs, lowercase and
/// strip accents, split on whitespace and punctuation) followed by greedy longest-match-first WordPiece with
/// the `##` continuation prefix, as Hugging Face's BertTokenizer / `tokenizers` BertNormalizer +
/// BertPreTokenizer + WordPiece do. Works on Unicode scalars, as Python works on code points.
public struct WordPieceTokenizer: Sendable {
    public let vocabulary: [String: Int]
    public let lowercase: Bool
    public let stripAccents: Bool
    public let maxCharactersPerWord: Int
    public let unknownID: Int, classID: Int, separatorID: Int, paddingID: Int

    public init(vocabulary: [String: Int], lowercase: Bool = true, stripAccents: Bool? = nil,
                maxCharactersPerWord: Int = 100) throws {
        func id(_ t: String) throws -> Int {
            guard let i = vocabulary[t] else { throw EvaluationError("tokenizer vocabulary has no \(t) token") }
            return i
        }
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.maxCharactersPerWord = maxCharactersPerWord
        unknownID = try id("[UNK]"); classID = try id("[CLS]"); separatorID = try id("[SEP]"); paddingID = try id("[PAD]")
    }

    /// Reads `vocab.txt` (one token per line, id = line number; a repeated token keeps its last line, as
    /// transformers' `load_vocab` does) or `tokenizer.json` (its WordPiece `model.vocab` and BertNormalizer flags).
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw EvaluationError("\(path): cannot read the tokenizer file")
        }
        do {
            if path.hasSuffix(".json") {
                try self.init(tokenizerJSON: data)
            } else {
                guard let text = String(data: data, encoding: .utf8) else { throw EvaluationError("not UTF-8 text") }
                var vocab: [String: Int] = [:]
                var lines = text.components(separatedBy: "\n")
                if lines.last == "" { lines.removeLast() }
                for (i, line) in lines.enumerated() { vocab[line.hasSuffix("\r") ? String(line.dropLast()) : line] = i }
                try self.init(vocabulary: vocab)
            }
        } catch let e as EvaluationError {
            throw EvaluationError("\(path): \(e.message)")
        }
    }

    private init(tokenizerJSON data: Data) throws {
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let model = root["model"] as? [String: Any], let raw = model["vocab"] as? [String: Any] else {
            throw EvaluationError("tokenizer.json has no model.vocab object")
        }
        if let type = model["type"] as? String, type != "WordPiece" {
            throw EvaluationError("tokenizer.json model is \(type), not WordPiece")
        }
        var vocab: [String: Int] = [:]
        for (token, id) in raw {
            guard let i = id as? Int else { throw EvaluationError("tokenizer.json: id of '\(token)' is not an integer") }
            vocab[token] = i
        }
        let normalizer = root["normalizer"] as? [String: Any]
        try self.init(vocabulary: vocab, lowercase: (normalizer?["lowercase"] as? Bool) ?? true,
                      stripAccents: normalizer?["strip_accents"] as? Bool,
                      maxCharactersPerWord: (model["max_input_chars_per_word"] as? Int) ?? 100)
    }

    // MARK: Basic tokenization

    static func isWhitespace(_ c: Unicode.Scalar) -> Bool {
        c == " " || c == "\t" || c == "\n" || c == "\r" || c.properties.generalCategory == .spaceSeparator
    }

    static func isControl(_ c: Unicode.Scalar) -> Bool {
        if c == "\t" || c == "\n" || c == "\r" { return false }
        switch c.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned: return true
        default: return false
        }
    }

    static func isPunctuation(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        if (33...47).contains(v) || (58...64).contains(v) || (91...96).contains(v) || (123...126).contains(v) { return true }
        switch c.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
             .finalPunctuation, .otherPunctuation: return true
        default: return false
        }
    }

    static func isCJK(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B820...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F: return true
        default: return false
        }
    }

    /// The basic tokenizer's words, before WordPiece.
    public func basicTokens(_ text: String) -> [String] {
        var cleaned = String.UnicodeScalarView()
        for c in text.unicodeScalars {
            if c.value == 0 || c.value == 0xFFFD || Self.isControl(c) { continue }
            if Self.isCJK(c) {
                cleaned.append(" "); cleaned.append(c); cleaned.append(" ")
            } else {
                cleaned.append(Self.isWhitespace(c) ? " " : c)
            }
        }
        var words: [String] = []
        for raw in String(cleaned).unicodeScalars.split(whereSeparator: Self.isWhitespace) {
            var word = String(String.UnicodeScalarView(raw))
            if lowercase { word = word.lowercased() }
            if stripAccents {
                let decomposed = word.decomposedStringWithCanonicalMapping.unicodeScalars
                word = String(String.UnicodeScalarView(decomposed.filter { $0.properties.generalCategory != .nonspacingMark }))
            }
            var current = String.UnicodeScalarView()
            for c in word.unicodeScalars {
                if Self.isPunctuation(c) {
                    if !current.isEmpty { words.append(String(current)); current = String.UnicodeScalarView() }
                    words.append(String(c))
                } else {
                    current.append(c)
                }
            }
            if !current.isEmpty { words.append(String(current)) }
        }
        return words
    }

    // MARK: WordPiece

    /// Greedy longest-match-first pieces of one word; `[UNK]` when the word is too long or cannot be covered.
    public func wordPieces(_ word: String) -> [Int] {
        let chars = Array(word.unicodeScalars)
        if chars.count > maxCharactersPerWord { return [unknownID] }
        var pieces: [Int] = []
        var start = 0
        while start < chars.count {
            var end = chars.count
            var found: Int?
            while start < end {
                var piece = String(String.UnicodeScalarView(chars[start..<end]))
                if start > 0 { piece = "##" + piece }
                if let id = vocabulary[piece] { found = id; break }
                end -= 1
            }
            guard let id = found else { return [unknownID] }
            pieces.append(id)
            start = end
        }
        return pieces
    }

    /// `[CLS] pieces… [SEP]`, the pieces cut so the whole is at most `maxLength` ids.
    public func encode(_ text: String, maxLength: Int = 512) -> [Int] {
        let pieces = basicTokens(text).flatMap(wordPieces)
        return [classID] + pieces.prefix(max(0, maxLength - 2)) + [separatorID]
    }

    /// Encodes sentences and pads them with `[PAD]` to the longest; the mask marks real tokens with 1.
    public func encodeBatch(_ texts: [String], maxLength: Int = 512) -> (ids: [[Int]], mask: [[Int]]) {
        let encoded = texts.map { encode($0, maxLength: maxLength) }
        let width = encoded.map(\.count).max() ?? 0
        return (encoded.map { $0 + [Int](repeating: paddingID, count: width - $0.count) },
                encoded.map { [Int](repeating: 1, count: $0.count) + [Int](repeating: 0, count: width - $0.count) })
    }
}
