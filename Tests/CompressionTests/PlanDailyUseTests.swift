import Testing
@testable import Compression
import WeightFormats

/// Issue 12's plan findings: saving keeps what the user wrote, plans travel between models, every shape
/// problem is listed at once, and skipped tensors are named.
@Suite struct PlanDailyUseTests {
    typealias T = (name: String, dtype: DType, shape: [Int])

    /// The bundled Silero model's tensors, in file order.
    static let silero: [T] = [
        ("stft_conv.weight", .float32, [258, 1, 256]), ("conv1.weight", .float32, [128, 129, 3]),
        ("conv1.bias", .float32, [128]), ("conv2.weight", .float32, [64, 128, 3]), ("conv2.bias", .float32, [64]),
        ("conv3.weight", .float32, [64, 64, 3]), ("conv3.bias", .float32, [64]), ("conv4.weight", .float32, [128, 64, 3]),
        ("conv4.bias", .float32, [128]), ("lstm_cell.weight_ih", .float32, [512, 128]),
        ("lstm_cell.weight_hh", .float32, [512, 128]), ("lstm_cell.bias_ih", .float32, [512]),
        ("lstm_cell.bias_hh", .float32, [512]), ("final_conv.weight", .float32, [1, 128, 1]), ("final_conv.bias", .float32, [1]),
    ]

    /// A MiniLM-shaped encoder: six layers of attention and feed-forward matrices, norms and biases.
    static let encoder: [T] = (0..<6).flatMap { i -> [T] in
        ["query", "key", "value"].flatMap { m -> [T] in
            [("encoder.layer.\(i).attention.self.\(m).weight", .float32, [384, 384]),
             ("encoder.layer.\(i).attention.self.\(m).bias", .float32, [384])]
        } + [("encoder.layer.\(i).output.LayerNorm.weight", .float32, [384]),
             ("encoder.layer.\(i).intermediate.dense.weight", .float32, [1536, 384])]
    } + [("embeddings.position_ids", .int64, [1, 512])]

    static let handWritten = """
    {"version": 1,
     "note": "int4 groups for the matrices; the convolutions stay int8",
     "default": {"quantize": {"format": "int", "bits": 4, "symmetric": true, "granularity": {"group": 128}, "clip": "minmax"}},
     "rules": [{"match": "^(conv[1-4]|final_conv)\\\\.weight$", "note": "rows of 3 taps", "quantize": {"format": "int", "bits": 8, "symmetric": true, "granularity": "channel", "clip": "minmax"}},
               {"match": "norm|bias$", "prune": {"method": "none"}, "quantize": {"format": "none"}}]}
    """

    static let int8ch = QuantFormat.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)

    func layers(_ tensors: [T], _ settings: [LayerSettings]) -> [(tensor: T, settings: LayerSettings)] {
        Array(zip(tensors, settings)).map { (tensor: $0.0, settings: $0.1) }
    }

    // MARK: 1. Saving keeps the user's plan

    @Test func savingWithoutEditsGivesBackTheHandWrittenPlan() throws {
        let base = try Plan.parse(Self.handWritten, path: "mine.json")
        let settings = try base.resolve(for: Self.silero)
        let saved = Plan.saving(layers(Self.silero, settings), over: base)
        #expect(saved == base)
        let text = saved.jsonText()
        #expect(text.contains("rows of 3 taps") && text.contains("int4 groups for the matrices"))
        #expect(text.contains(#"^(conv[1-4]|final_conv)\\.weight$"#) && text.contains(#""norm|bias$""#), "\(text)")
    }

    @Test func editsBecomeFewGeneralRulesAfterTheUsersOwn() throws {
        let base = try Plan.parse(Self.handWritten, path: "mine.json")
        var settings = try base.resolve(for: Self.silero)
        settings[9].quantize = Self.int8ch     // lstm_cell.weight_ih
        settings[10].quantize = Self.int8ch    // lstm_cell.weight_hh
        let saved = Plan.saving(layers(Self.silero, settings), over: base)
        #expect(saved.note == base.note)
        #expect(Array(saved.rules.prefix(2)) == base.rules)
        #expect(saved.rules.count == 3)
        #expect(saved.rules[2].match == #"^lstm_cell\.(weight_ih|weight_hh)$"#)
        #expect(saved.rules[2].prune == nil && saved.rules[2].quantize == Self.int8ch)
        #expect(try Plan.parse(saved.jsonText(), path: "saved.json").resolve(for: Self.silero) == settings)
    }

    @Test func layerIndicesAreGeneralisedWhereNoOtherTensorChanges() throws {
        let int4 = QuantFormat.int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax)
        var settings: [LayerSettings] = Self.encoder.map { $0.shape.count >= 2 && $0.dtype.isFloating ? LayerSettings(quantize: int4) : .identity }
        // Every query matrix to int8: one rule over all six layers.
        for (i, t) in Self.encoder.enumerated() where t.name.hasSuffix("query.weight") { settings[i].quantize = Self.int8ch }
        var saved = Plan.saving(layers(Self.encoder, settings), over: nil)
        #expect(saved.defaultSettings == PlanSection(quantize: int4))
        #expect(saved.rules.map(\.match) == [#"^encoder\.layer\.[0-9]+\.attention\.self\.query\.weight$"#])
        #expect(try saved.resolve(for: Self.encoder) == settings)

        // Only layers 0 and 1: the index cannot be generalised without changing layers 2–5.
        for (i, t) in Self.encoder.enumerated() where t.name.hasSuffix("query.weight") && !t.name.contains("layer.0.") && !t.name.contains("layer.1.") {
            settings[i].quantize = int4
        }
        saved = Plan.saving(layers(Self.encoder, settings), over: nil)
        #expect(saved.rules.map(\.match) == [#"^encoder\.layer\.(0|1)\.attention\.self\.query\.weight$"#])
        #expect(try saved.resolve(for: Self.encoder) == settings)

        // A session that quantized every matrix and nothing else saves a default and no rule (79 rules before).
        let plain: [LayerSettings] = Self.encoder.map { $0.shape.count >= 2 && $0.dtype.isFloating ? LayerSettings(quantize: Self.int8ch) : .identity }
        #expect(Plan.saving(layers(Self.encoder, plain), over: nil).rules.isEmpty)
    }

    @Test func changingMostLayersMovesTheDefaultRatherThanAddingARulePerLayer() throws {
        let base = try Plan.parse(#"{"version": 1, "note": "kept", "default": {"quantize": {"format": "nf4", "group": 64}}}"#, path: "p.json")
        let settings: [LayerSettings] = Self.encoder.map { $0.shape.count >= 2 && $0.dtype.isFloating ? LayerSettings(quantize: Self.int8ch) : .identity }
        let saved = Plan.saving(layers(Self.encoder, settings), over: base)
        #expect(saved.note == "kept")
        #expect(saved.defaultSettings == PlanSection(quantize: Self.int8ch))
        #expect(saved.rules.isEmpty)
    }

    // MARK: 2. Plans travel between models

    @Test func ruleMatchingNothingIsAWarningUnlessStrict() throws {
        let plan = try Plan.parse(#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 8}}, "rules": [{"match": "embeddings", "quantize": {"format": "none"}}]}"#, path: "p.json")
        let r = try plan.resolution(for: Self.silero)
        #expect(r.warnings.map(\.field) == ["rules[0].match"])
        #expect(r.warnings[0].reason.contains("matches no tensor"))
        #expect(r.settings[9].quantize == Self.int8ch)
        #expect(throws: PlanError.self) { try plan.resolve(for: Self.silero, strict: true) }
    }

    @Test func ignoreCaseMatchesNamesOfEitherCase() throws {
        let text = #"{"version": 1, "ignore_case": true, "rules": [{"match": "layernorm", "quantize": {"format": "int", "bits": 8}}]}"#
        let plan = try Plan.parse(text, path: "p.json")
        #expect(plan.ignoreCase)
        let r = try plan.resolution(for: Self.encoder)
        #expect(r.warnings.isEmpty)
        #expect(r.settings.filter { $0.quantize == Self.int8ch }.count == 6)
        #expect(try Plan.parse(plan.jsonText(), path: "again.json") == plan)
        let sensitive = try Plan.parse(#"{"version": 1, "rules": [{"match": "layernorm", "quantize": {"format": "int", "bits": 8}}]}"#, path: "p.json")
        #expect(try sensitive.resolution(for: Self.encoder).warnings.first?.reason.contains("ignore_case") == true)
    }

    // MARK: 3. Every shape error at once

    @Test func everyShapeProblemIsListedInOneError() throws {
        let plan = try Plan.parse(#"{"version": 1, "default": {"prune": {"method": "nm", "n": 2, "m": 4}, "quantize": {"format": "gguf", "type": "q4_0"}}}"#, path: "p.json")
        do {
            _ = try plan.resolve(for: Self.silero)
            Issue.record("accepted")
        } catch {
            #expect(error.field == "default.prune.m")
            for name in ["conv1.weight", "conv2.weight", "conv3.weight", "conv4.weight", "final_conv.weight"] {
                #expect(error.description.contains("'\(name)'"), "\(name) missing: \(error)")
            }
            #expect(error.others.map(\.field) == ["default.quantize.type"])
            #expect(!error.description.contains("\n"))
        }
    }

    // MARK: 4. Skipped tensors are named

    @Test func skippedTensorsAreNamedWithTheReason() throws {
        let plan = try Plan.parse(#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 8}}, "rules": [{"match": "position", "quantize": {"format": "int", "bits": 4}}]}"#, path: "p.json")
        let r = try plan.resolution(for: Self.encoder)
        let biases = r.skipped.filter { $0.by == "default" && $0.tensor.hasSuffix(".bias") }
        #expect(biases.count == 18)
        #expect(biases.allSatisfy { $0.reason == PlanSkip.belowRankTwo })
        #expect(r.skipped.contains(PlanSkip(tensor: "embeddings.position_ids", by: "rules[0]", reason: "an I64 tensor is never compressed")))
        let lines = PlanSkip.summary(r.skipped)
        #expect(lines.first?.hasPrefix("default skipped encoder.layer.0.attention.self.query.bias") == true)
        #expect(lines.first?.contains("(24 tensors)") == true, "\(lines)")
    }
}
