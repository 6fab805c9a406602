import Compression
import WeightFormats

/// A small model's tensor list (names, dtypes, shapes) for resolving fuzzed plans against: matrices of
/// several shapes, vectors, a scalar, an integer tensor and a ggml-typed tensor.
let fakeTensors: [(name: String, dtype: DType, shape: [Int])] = [
    ("model.embed_tokens.weight", .float16, [512, 64]),
    ("model.layers.0.self_attn.q_proj.weight", .float32, [64, 64]),
    ("model.layers.0.self_attn.q_proj.bias", .float32, [64]),
    ("model.layers.0.mlp.down_proj.weight", .bfloat16, [64, 256]),
    ("model.layers.1.mlp.up_proj.weight", .ggml(.q4_0), [256, 96]),
    ("model.layers.1.input_layernorm.weight", .float32, [64]),
    ("model.norm.weight", .float32, []),
    ("lm_head.weight", .float32, [512, 64]),
    ("position_ids", .int64, [1, 128]),
    ("model.conv.weight", .float32, [8, 3, 3, 3]),
]

/// libFuzzer entry point: `Plan.parse` on the input, then `resolve` against `fakeTensors`. Only `PlanError`
/// may come out (typed throws guarantees the type; the fuzzer looks for traps, hangs and huge allocations).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = size > 0 ? Array(UnsafeBufferPointer(start: data, count: size)) : []
    exercise(bytes)
    return 0
}

@inline(never)
func exercise(_ bytes: [UInt8]) {
    do {
        let plan = try Plan.parse(bytes, path: "fuzz.json")
        let settings = try plan.resolve(for: fakeTensors)
        precondition(settings.count == fakeTensors.count)
    } catch {
        _ = error.description
    }
}
