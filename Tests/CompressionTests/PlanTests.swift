import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// Zero bytes of a given size: plan resolution reads names, dtypes and shapes, never values.
private final class ZeroSource: ByteSource {
    let path = "memory"
    let size: UInt64
    init(size: Int) { self.size = UInt64(size) }
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }
}

private func tensor(_ name: String, _ shape: [Int], _ dtype: DType = .float32) throws -> Tensor {
    let n = shape.reduce(1, *)
    return try Tensor(name: name, dtype: dtype, shape: shape, data: ZeroSource(size: dtype.byteCount(elements: n)!))
}

private func parse(_ text: String) throws -> Plan { try Plan.parse(text, path: "plan.json") }

/// The error a plan gives, from parsing or (when it parses) from resolving against `tensors`.
private func planError(_ text: String, tensors: [Tensor] = [], strict: Bool = false) -> PlanError? {
    do {
        let plan = try Plan.parse(text, path: "plan.json")
        _ = try plan.resolve(for: tensors, strict: strict)
        return nil
    } catch {
        return error
    }
}

private let issueExample = """
{"version": 1,
 "default": {"prune": {"method": "magnitude", "threshold": 0.02},
             "quantize": {"format": "int", "bits": 4, "symmetric": true,
                          "granularity": {"group": 128}, "clip": "minmax"}},
 "rules": [{"match": "embeddings", "quantize": {"format": "int", "bits": 8, "granularity": "channel"}},
           {"match": "norm|bias$", "prune": {"method": "none"}, "quantize": {"format": "none"}}]}
"""

private let int4g128 = QuantFormat.int(bits: 4, symmetric: true, granularity: .group(128), clip: .minmax)
private let int8channel = QuantFormat.int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax)

/// The bundled example model's tensors (as listed by safetensors' own reader).
private let sileroTensors: [(name: String, dtype: DType, shape: [Int])] = [
    ("stft_conv.weight", .float32, [258, 1, 256]), ("conv1.weight", .float32, [128, 129, 3]),
    ("conv1.bias", .float32, [128]), ("conv2.weight", .float32, [64, 128, 3]), ("conv2.bias", .float32, [64]),
    ("conv3.weight", .float32, [64, 64, 3]), ("conv3.bias", .float32, [64]), ("conv4.weight", .float32, [128, 64, 3]),
    ("conv4.bias", .float32, [128]), ("lstm_cell.weight_ih", .float32, [512, 128]),
    ("lstm_cell.weight_hh", .float32, [512, 128]), ("lstm_cell.bias_ih", .float32, [512]),
    ("lstm_cell.bias_hh", .float32, [512]), ("final_conv.weight", .float32, [1, 128, 1]), ("final_conv.bias", .float32, [1]),
]

private func examplePlanPath(_ name: String) -> String { Fixtures.repositoryRoot + "/Examples/plans/" + name }

@Suite struct PlanTests {
    // MARK: Resolution

    @Test func issueExampleResolves() throws {
        let plan = try parse(issueExample)
        #expect(plan.defaultSettings == PlanSection(prune: .threshold(0.02), quantize: int4g128))
        #expect(plan.rules.count == 2)
        let tensors = [
            try tensor("model.embeddings.weight", [1000, 256]),
            try tensor("layers.0.attn.q.weight", [256, 256]),
            try tensor("layers.0.attn.q.bias", [256]),
            try tensor("layers.0.norm.weight", [256]),
            try tensor("layers.0.mlp.up.weight", [512, 256], .bfloat16),
            try tensor("layers.0.norm_proj.weight", [256, 256]),
            try tensor("position_ids", [1, 256], .int64),
            try tensor("scale", []),
        ]
        let settings = try plan.resolve(for: tensors)
        let pruned4 = LayerSettings(prune: .threshold(0.02), quantize: int4g128)
        #expect(settings == [LayerSettings(prune: .threshold(0.02), quantize: int8channel), pruned4,
                             .identity, .identity, pruned4, .identity, .identity, .identity])
    }

    @Test func laterRulesOverrideOnlyTheSectionsTheySet() throws {
        let plan = try parse("""
        {"version": 1,
         "default": {"prune": {"method": "magnitude", "sparsity": 0.5},
                     "quantize": {"format": "int", "bits": 4, "granularity": "tensor", "clip": "mse"}},
         "rules": [{"match": "attn", "prune": {"method": "nm", "n": 2, "m": 4}, "quantize": {"format": "nf4"}},
                   {"match": "attn\\\\.k", "quantize": {"format": "int", "bits": 8}},
                   {"match": "mlp", "prune": {"method": "rows", "norm": "l1", "sparsity": 0.25}}]}
        """)
        let settings = try plan.resolve(for: [
            try tensor("attn.q.weight", [64, 64]),
            try tensor("attn.k.weight", [64, 64]),
            try tensor("mlp.weight", [64, 64]),
        ])
        // The later rule replaces the whole quantize section: clip is minmax and granularity channel (the
        // documented defaults), not inherited from the default's mse/tensor; prune comes from the earlier rule.
        #expect(settings == [
            LayerSettings(prune: .nm(n: 2, m: 4), quantize: .nf4(group: 64)),
            LayerSettings(prune: .nm(n: 2, m: 4), quantize: int8channel),
            LayerSettings(prune: .rows(norm: .l1, sparsity: 0.25),
                          quantize: .int(bits: 4, symmetric: true, granularity: .tensor, clip: .mse)),
        ])
    }

    @Test func aQuantizeSectionWithoutFormatIsRejected() {
        let e = planError(#"{"version": 1, "rules": [{"match": "a", "quantize": {"bits": 8}}]}"#)
        #expect(e?.field == "rules[0].quantize.format")
    }

    @Test func rankOneTensorsAreTouchedOnlyByRules() throws {
        let plan = try parse("""
        {"version": 1, "default": {"quantize": {"format": "fp8_e4m3"}},
         "rules": [{"match": "^b\\\\.bias$", "quantize": {"format": "fp8_e5m2", "granularity": "channel"}}]}
        """)
        let settings = try plan.resolve(for: [
            try tensor("a.bias", [16]), try tensor("b.bias", [16]), try tensor("w", [4, 16]),
        ])
        #expect(settings == [
            .identity,
            LayerSettings(quantize: .fp8(.e5m2, granularity: .channel)),
            LayerSettings(quantize: .fp8(.e4m3, granularity: .tensor)),
        ])
    }

    @Test func integerTensorsAreNeverCompressed() throws {
        let plan = try parse("""
        {"version": 1, "default": {"quantize": {"format": "kmeans", "clusters": 16}},
         "rules": [{"match": "ids|weight", "prune": {"method": "global_magnitude", "sparsity": 0.3}}]}
        """)
        let settings = try plan.resolve(for: [
            try tensor("ids", [4, 32], .int32), try tensor("mask", [4, 32], .bool), try tensor("weight", [4, 32]),
        ])
        #expect(settings == [.identity, .identity,
                             LayerSettings(prune: .globalMagnitude(sparsity: 0.3), quantize: .kmeans(clusters: 16))])

        let onlyIntegers = planError(#"{"version": 1, "rules": [{"match": "ids", "quantize": {"format": "none"}}]}"#,
                                     tensors: [try tensor("ids", [4, 32], .int64), try tensor("w", [4, 32])], strict: true)
        #expect(onlyIntegers?.field == "rules[0].match")
        #expect(onlyIntegers?.reason.contains("integer") == true)
    }

    @Test func ruleOverridingTheDefaultAvoidsItsShapeConstraint() throws {
        let plan = try parse("""
        {"version": 1, "default": {"quantize": {"format": "gguf", "type": "q4_0"}},
         "rules": [{"match": "conv", "quantize": {"format": "int", "bits": 8, "granularity": "channel"}}]}
        """)
        let settings = try plan.resolve(for: [try tensor("conv.weight", [8, 4, 3]), try tensor("fc", [8, 64])])
        #expect(settings == [LayerSettings(quantize: int8channel), LayerSettings(quantize: .gguf(.q4_0))])
    }

    // MARK: Errors

    @Test func errorDescriptionNamesFileAndField() {
        let e = planError("""
        {"version": 1, "rules": [{"match": "a", "quantize": {"format": "none"}},
                                 {"match": "b", "quantize": {"format": "int", "bits": 9}}]}
        """)
        #expect(e?.description == "plan.json: rules[1].quantize.bits: 9 is out of range 2…8")
    }

    /// (plan text, expected field). Each is one class of mistake; the field must be named exactly.
    static let badPlans: [(String, String)] = [
        // Unknown keys, at every level.
        (#"{"version": 1, "defaults": {}}"#, "defaults"),
        (#"{"version": 1, "default": {"prun": {"method": "none"}}}"#, "default.prun"),
        (#"{"version": 1, "rules": [{"match": "w", "matches": "x", "prune": {"method": "none"}}]}"#, "rules[0].matches"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "thresh": 0.1}}}"#, "default.prune.thresh"),
        (#"{"version": 1, "default": {"prune": {"method": "nm", "n": 2, "m": 4, "norm": "l1"}}}"#, "default.prune.norm"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bitz": 4}}}"#, "default.quantize.bitz"),
        (#"{"version": 1, "default": {"quantize": {"format": "nf4", "bits": 4}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "granularity": {"groups": 64}}}}"#, "default.quantize.granularity.groups"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "clip": {"pct": 99}}}}"#, "default.quantize.clip.pct"),
        // Unknown values.
        (#"{"version": 1, "default": {"prune": {"method": "random"}}}"#, "default.prune.method"),
        (#"{"version": 1, "default": {"quantize": {"format": "int3"}}}"#, "default.quantize.format"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "granularity": "row"}}}"#, "default.quantize.granularity"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "clip": "max"}}}"#, "default.quantize.clip"),
        (#"{"version": 1, "default": {"prune": {"method": "rows", "norm": "l3", "sparsity": 0.1}}}"#, "default.prune.norm"),
        (#"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q6_k"}}}"#, "default.quantize.type"),
        (#"{"version": 1, "default": {"quantize": {"format": "fp8_e4m3", "granularity": {"group": 32}}}}"#, "default.quantize.granularity"),
        // Wrong JSON types, and numbers that are not integers where integers are required.
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": "4"}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": true}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4.5}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4.0}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"quantize": {"format": "kmeans", "clusters": 1e2}}}"#, "default.quantize.clusters"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "symmetric": 1}}}"#, "default.quantize.symmetric"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "threshold": "0.1"}}}"#, "default.prune.threshold"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "threshold": false}}}"#, "default.prune.threshold"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "threshold": 1e400}}}"#, "default.prune.threshold"),
        (#"{"version": 1, "default": {"prune": "none"}}"#, "default.prune"),
        (#"{"version": 1, "default": []}"#, "default"),
        (#"{"version": 1, "rules": {}}"#, "rules"),
        (#"{"version": 1, "rules": [{"match": 5, "prune": {"method": "none"}}]}"#, "rules[0].match"),
        (#"{"version": "1"}"#, "version"),
        (#"{"version": 1, "note": 3}"#, "note"),
        // Out of range.
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 1}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "granularity": {"group": 0}}}}"#, "default.quantize.granularity.group"),
        (#"{"version": 1, "default": {"quantize": {"format": "nf4", "group": -64}}}"#, "default.quantize.group"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "clip": {"percentile": 0}}}}"#, "default.quantize.clip.percentile"),
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "clip": {"percentile": 100.5}}}}"#, "default.quantize.clip.percentile"),
        (#"{"version": 1, "default": {"quantize": {"format": "kmeans", "clusters": 257}}}"#, "default.quantize.clusters"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "threshold": -0.1}}}"#, "default.prune.threshold"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "sparsity": 1}}}"#, "default.prune.sparsity"),
        (#"{"version": 1, "default": {"prune": {"method": "global_magnitude", "sparsity": 50}}}"#, "default.prune.sparsity"),
        (#"{"version": 1, "default": {"prune": {"method": "rows", "norm": "l2", "sparsity": -0.5}}}"#, "default.prune.sparsity"),
        (#"{"version": 1, "default": {"prune": {"method": "nm", "n": 4, "m": 4}}}"#, "default.prune.n"),
        (#"{"version": 1, "default": {"prune": {"method": "nm", "n": 2, "m": 64}}}"#, "default.prune.m"),
        // Missing or conflicting fields.
        (#"{"version": 1, "default": {"prune": {"method": "magnitude"}}}"#, "default.prune"),
        (#"{"version": 1, "default": {"prune": {"method": "magnitude", "threshold": 0.1, "sparsity": 0.5}}}"#, "default.prune"),
        (#"{"version": 1, "default": {"prune": {"method": "global_magnitude"}}}"#, "default.prune.sparsity"),
        (#"{"version": 1, "default": {"quantize": {"format": "int"}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "default": {"prune": {"sparsity": 0.5}}}"#, "default.prune.method"),
        (#"{"version": 1, "rules": [{"prune": {"method": "none"}}]}"#, "rules[0].match"),
        (#"{"version": 1, "rules": [{"match": "w"}]}"#, "rules[0]"),
        (#"{"default": {}}"#, "version"),
        (#"{"version": 2}"#, "version"),
        // Duplicate keys, and invalid regular expressions.
        (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "bits": 8}}}"#, "default.quantize.bits"),
        (#"{"version": 1, "rules": [{"match": "(", "prune": {"method": "none"}}]}"#, "rules[0].match"),
        (#"{"version": 1, "rules": [{"match": "w", "prune": {"method": "none"}}, {"match": "a{2,1}", "prune": {"method": "none"}}]}"#, "rules[1].match"),
    ]

    @Test(arguments: badPlans)
    func badPlanNamesTheField(text: String, field: String) throws {
        let e = try #require(planError(text, tensors: [try tensor("w", [4, 64])]))
        #expect(e.field == field, "\(e)")
        #expect(e.description.hasPrefix("plan.json: \(field): "), "\(e)")
        #expect(!e.description.contains("\n"))
    }

    /// Whole-file problems: no field to name, but the message says what is wrong (and where, for syntax).
    static let badFiles: [([UInt8], String)] = [
        (Array(#"{"version": 1,}"#.utf8), "line 1, column 15"),
        (Array("{\"version\": 1,\n \"rules\": [}".utf8), "line 2, column 12"),
        (Array(#"[{"version": 1}]"#.utf8), "JSON object"),
        (Array(#""plan""#.utf8), "JSON object"),
        (Array(#"{"version": 01}"#.utf8), "leading zeros"),
        ([0xEF, 0xBB, 0xBF] + Array(#"{"version": 1}"#.utf8), "byte-order mark"),
        (Array(#"{"version": 1, "note": ""#.utf8) + [0xC3, 0x28] + Array(#""}"#.utf8), "UTF-8"),
        (Array(#"{"version": 1, "note": "\ud800"}"#.utf8), "surrogate"),
        (Array(#"{"version": 1} x"#.utf8), "after the JSON value"),
        (Array("  ".utf8), "empty"),
        (Array(repeating: UInt8(ascii: "["), count: 10_000), "nested deeper"),
    ]

    /// Found while fuzzing: `"match": "(.*)*X"` made `resolve` backtrack for minutes over a dozen short tensor
    /// names (Swift's `Regex` has no step limit). Repeated groups that repeat or alternate inside are refused
    /// at parse time, naming the rule and the group; ordinary patterns, groups included, are still accepted.
    static let exponentialPatterns = ["(.*)*X", "(a+)+$", "^(\\\\w+\\\\.?)*$", "(.|.)*x", "(?:a|b){2,}y", "x(?i:y+)*"]

    @Test(arguments: exponentialPatterns)
    func exponentialPatternIsRefused(pattern: String) throws {
        let text = #"{"version": 1, "rules": [{"match": "\#(pattern)", "prune": {"method": "none"}}]}"#
        let e = try #require(planError(text, tensors: [try tensor("model.layers.0.mlp.down_proj.weight", [4, 64])]))
        #expect(e.field == "rules[0].match", "\(e)")
        #expect(e.reason.contains("exponential time"), "\(e)")
    }

    @Test func ordinaryPatternsAreAccepted() throws {
        for pattern in [#"(q|k|v)_proj"#, #"layers\.(1|2)\."#, #"\(a+\)+"#, #"[(.*)]+"#, #"(?i)norm$"#, #"a{2,3}(b)?"#,
                        #"(\d)+"#, #"(?#note)w"#, #"\Q(a+)+\Ew?"#, #"mlp\.(up|gate)_proj"#] {
            #expect(RegexCheck.problem(pattern) == nil, "\(pattern)")
        }
    }

    @Test(arguments: badFiles)
    func badFileIsRejected(bytes: [UInt8], reason: String) throws {
        do {
            _ = try Plan.parse(bytes, path: "plan.json")
            Issue.record("accepted a bad file")
        } catch {
            #expect(error.field == "")
            #expect(error.description.hasPrefix("plan.json: "))
            #expect(error.reason.contains(reason), "\(error)")
        }
    }

    @Test func shapeConstraintsNameTheFieldAndTensor() throws {
        let conv = try tensor("conv.weight", [8, 4, 3])
        let cases: [(String, String)] = [
            (#"{"version": 1, "default": {"quantize": {"format": "int", "bits": 4, "granularity": {"group": 128}}}}"#, "default.quantize.granularity.group"),
            (#"{"version": 1, "default": {"quantize": {"format": "nf4"}}}"#, "default.quantize.group"),
            (#"{"version": 1, "default": {"quantize": {"format": "gguf", "type": "q8_0"}}}"#, "default.quantize.type"),
            (#"{"version": 1, "default": {"prune": {"method": "nm", "n": 2, "m": 4}}}"#, "default.prune.m"),
            (#"{"version": 1, "rules": [{"match": "conv", "quantize": {"format": "gguf", "type": "q5_1"}}]}"#, "rules[0].quantize.type"),
        ]
        for (text, field) in cases {
            let e = try #require(planError(text, tensors: [try tensor("fc", [4, 256]), conv]))
            #expect(e.field == field)
            #expect(e.reason.contains("'conv.weight'") && e.reason.contains("(3)"), "\(e)")
        }
    }

    @Test func ruleMatchingNoTensorIsAnErrorWhenStrict() throws {
        let e = try #require(planError(#"{"version": 1, "rules": [{"match": "w", "prune": {"method": "none"}}, {"match": "embed|emb", "quantize": {"format": "gguf", "type": "q8_0"}}]}"#,
                                       tensors: [try tensor("w", [4, 64])], strict: true))
        #expect(e.field == "rules[1].match")
        #expect(e.reason.contains("matches no tensor"))
    }

    @Test func missingFileIsAPlanError() {
        #expect(throws: PlanError.self) { try Plan.load(path: "/nonexistent/plan.json") }
    }

    // MARK: Writing

    @Test func jsonTextRoundTrips() throws {
        let everything = Plan(
            defaultSettings: PlanSection(prune: .sparsity(0.375), quantize: .int(bits: 3, symmetric: false, granularity: .group(32), clip: .percentile(99.9))),
            rules: [
                PlanRule(match: "a", prune: PruneMethod.none, quantize: QuantFormat.none, note: "quote \" backslash \\ newline \n tab \t bidi \u{202E} é"),
                PlanRule(match: "b", prune: .threshold(1e-5)),
                PlanRule(match: "c", prune: .globalMagnitude(sparsity: 0.1 + 0.2)),
                PlanRule(match: "d", prune: .nm(n: 1, m: 32), quantize: .nf4(group: 128)),
                PlanRule(match: "e", prune: .rows(norm: .l2, sparsity: 0)),
                PlanRule(match: "f", quantize: .fp8(.e4m3, granularity: .channel)),
                PlanRule(match: "g", quantize: .fp8(.e5m2, granularity: .tensor)),
                PlanRule(match: "h\\.[0-9]+$", quantize: .gguf(.q5_1)),
                PlanRule(match: "i", quantize: .kmeans(clusters: 256)),
                PlanRule(match: "j", quantize: .int(bits: 8, symmetric: true, granularity: .tensor, clip: .mse)),
            ],
            note: "every method and format")
        for plan in [everything, try parse(issueExample), Plan()] {
            let text = plan.jsonText()
            let back = try Plan.parse(text, path: "written.json")
            #expect(back == plan, "\(text)")
            #expect(back.jsonText() == text)
        }
        #expect(try parse(issueExample).jsonText() == """
        {
          "version": 1,
          "default": {
            "prune": {"method": "magnitude", "threshold": 0.02},
            "quantize": {"format": "int", "bits": 4, "symmetric": true, "granularity": {"group": 128}, "clip": "minmax"}
          },
          "rules": [
            {"match": "embeddings", "quantize": {"format": "int", "bits": 8, "symmetric": true, "granularity": "channel", "clip": "minmax"}},
            {"match": "norm|bias$", "prune": {"method": "none"}, "quantize": {"format": "none"}}
          ]
        }

        """)
    }

    @Test func fromSettingsResolvesBackToTheSameSettings() throws {
        let tensors = [
            try tensor("blk.0.attn_q.weight", [64, 64]),
            try tensor("blk.0.attn_k.weight", [64, 64]),
            try tensor("blk.0.ffn(up)+[x].weight", [64, 128]),
            try tensor("blk.0.attn_norm.weight", [64]),
            try tensor("blk.0.bias^$|?*{1}", [64]),
            try tensor("token_ids", [64, 2], .int32),
            try tensor("conv.weight", [8, 4, 3]),
        ]
        let wanted: [LayerSettings] = [
            LayerSettings(prune: .nm(n: 2, m: 4), quantize: int4g128.withGroup(64)),
            LayerSettings(prune: .nm(n: 2, m: 4), quantize: int4g128.withGroup(64)),
            LayerSettings(prune: .nm(n: 2, m: 4), quantize: .gguf(.q8_0)),
            .identity,
            LayerSettings(quantize: .fp8(.e4m3, granularity: .tensor)),
            .identity,
            LayerSettings(quantize: int8channel),
        ]
        let plan = Plan.from(settings: zip(tensors, wanted).map {
            (tensor: (name: $0.0.name, dtype: $0.0.dtype, shape: $0.0.shape), settings: $0.1)
        })
        #expect(plan.defaultSettings == PlanSection(prune: .nm(n: 2, m: 4), quantize: int4g128.withGroup(64)))
        #expect(plan.rules.map(\.match) == ["^blk\\.0\\.ffn\\(up\\)\\+\\[x\\]\\.weight$", "^blk\\.0\\.bias\\^\\$\\|\\?\\*\\{1\\}$", "^conv\\.weight$"])
        let reparsed = try Plan.parse(plan.jsonText(), path: "saved.json")
        #expect(try reparsed.resolve(for: tensors) == wanted)

        // Names only: every tensor is treated as a matrix.
        let named = Plan.from(settings: [(name: "a.weight", settings: LayerSettings(quantize: int8channel)),
                                         (name: "a.bias", settings: .identity)])
        #expect(try named.resolve(for: [try tensor("a.weight", [4, 4]), try tensor("a.bias", [4])])
                == [LayerSettings(quantize: int8channel), .identity])
    }

    // MARK: Example plans

    @Test(arguments: ["int4-group128.json", "2to4-int8.json", "q4_0.json"])
    func examplePlanResolvesForTheExampleModel(name: String) throws {
        let plan = try Plan.load(path: examplePlanPath(name))
        let settings = try plan.resolve(for: sileroTensors)
        #expect(settings.count == sileroTensors.count)
        #expect(settings.contains { !$0.isIdentity })
        for (t, s) in zip(sileroTensors, settings) where t.shape.count == 1 {
            #expect(s == .identity, "\(t.name)")
        }
        #expect(try Plan.parse(plan.jsonText(), path: name) == plan)
    }

    @Test func examplePlansMatchTheBundledModelFile() throws {
        let model = try ModelFile.open(Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors")
        #expect(model.tensors.map(\.name).sorted() == sileroTensors.map(\.name).sorted())
        for name in ["int4-group128.json", "2to4-int8.json", "q4_0.json"] {
            let settings = try Plan.load(path: examplePlanPath(name)).resolve(for: model.tensors)
            #expect(settings.count == model.tensors.count)
        }
    }
}

private extension QuantFormat {
    func withGroup(_ g: Int) -> QuantFormat {
        guard case .int(let b, let s, _, let c) = self else { return self }
        return .int(bits: b, symmetric: s, granularity: .group(g), clip: c)
    }
}
