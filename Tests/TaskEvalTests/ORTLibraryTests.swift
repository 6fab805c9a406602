import Testing
import TaskEval

/// ONNX Runtime loaded from the PyPI wheel: skipped when `onnxruntime` is not installed.
struct ORTLibraryTests {
    static var available: Bool { ORTLibrary.locate() != nil }

    @Test(.enabled(if: ORTLibraryTests.available, "needs python3 with onnxruntime (pip install onnxruntime)"))
    func selfTestPassesAndReportsVersion() throws {
        let lib = try ORTLibrary.load()
        #expect(lib.version.split(separator: ".").count >= 2)
    }

    @Test func missingLibraryIsOneClearError() throws {
        #expect(throws: EvalError.self) { try ORTLibrary(path: "/nonexistent/libonnxruntime.so") }
        let e = try? ORTLibrary(path: "/nonexistent/libonnxruntime.so")
        #expect(e == nil)
    }
}
