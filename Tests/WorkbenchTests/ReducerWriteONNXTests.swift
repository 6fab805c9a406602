import Compression
import Testing
import TestSupport
import WeightFormats
@testable import Workbench

/// The write prompt for ONNX models: an `.onnx` model defaults to the ONNX container (its QDQ rewrite), and
/// other files are not offered it (it rewrites an ONNX input only).
@Suite struct ReducerWriteONNXTests {
    func key(_ s: inout AppState, _ k: Key) -> [Effect] { reduce(&s, .input(.key(k))) }

    @Test func onnxModelsDefaultToONNXAndCycleThroughEveryContainer() {
        var s = FakeModel.loadedState()
        s.modelPath = "/models/tiny.onnx"
        _ = key(&s, .character("W"))
        #expect(s.writePrompt == WritePrompt(path: "/models/tiny-weightlab.onnx", container: "onnx"))
        var seen: [String] = []
        for _ in 0..<4 {
            _ = key(&s, .tab)
            seen.append(s.writePrompt?.container ?? "")
        }
        #expect(seen == ["gguf", "safetensors", "compressed-tensors", "onnx"])
    }
}
