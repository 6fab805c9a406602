import Foundation
import Testing
import TestSupport
import WeightFormats
import TaskEval

/// The IDX(+gzip) reader on the committed Fashion-MNIST subset, and hostile files: one clear error each.
@Suite struct IDXDataTests {
    static let dir = Fixtures.path("fashion_mnist")

    @Test func readsTheSubset() throws {
        let test = try IDXData.load(Self.dir)   // the test split by default
        #expect(test.samples == 500)
        #expect(test.inputs["images"]?.shape == [500, 1, 28, 28])
        #expect(test.labels?.prefix(5) == [9, 2, 1, 1, 6])   // Fashion-MNIST's first test labels
        let train = try IDXData.load(Self.dir, split: "train")
        #expect(train.samples == 2000)
        #expect(train.labels?.prefix(5) == [9, 0, 0, 3, 0])
        guard case .float(let v) = test.inputs["images"]!.values else { Issue.record("not float"); return }
        #expect(v.allSatisfy { $0 >= 0 && $0 <= 1 })
        // `eval --data DIR` goes through EvalData.load.
        #expect(try EvalData.load(Self.dir).samples == 500)
        #expect(try EvalData.load(Self.dir + "/t10k-images-idx3-ubyte.gz").samples == 500)
    }

    /// Hostile files live in one temporary directory per test value, removed with it.
    let scratchDirectory = try! TemporaryDirectory()

    func scratch(_ name: String, _ bytes: [UInt8]) throws -> String {
        try scratchDirectory.write(name, bytes)
    }

    func expectOneLine(_ path: String, contains: String) {
        do {
            _ = try IDXData.array(path)
            Issue.record("\(path) was accepted")
        } catch let e as EvalError {
            #expect(!e.message.contains("\n"))
            #expect(e.message.contains(contains), "\(e.message)")
        } catch {
            Issue.record("not an EvalError: \(error)")
        }
    }

    @Test func hostileFilesAreOneError() throws {
        let good = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Self.dir + "/t10k-labels-idx1-ubyte.gz")))
        expectOneLine(try scratch("a-labels-idx1-ubyte.gz", Array(good.prefix(good.count / 2))), contains: "gzip")
        var trailer = good
        trailer[trailer.count - 1] = 0x7F   // ISIZE claims ~2 GB
        expectOneLine(try scratch("b-labels-idx1-ubyte.gz", trailer), contains: "more than")
        expectOneLine(try scratch("c-labels-idx1-ubyte", [0, 0, 8, 1, 0, 0, 0, 9, 1, 2, 3]), contains: "do not match")
        expectOneLine(try scratch("d-labels-idx1-ubyte", [0, 0, 8, 4, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255]), contains: "do not match")
        expectOneLine(try scratch("e-labels-idx1-ubyte", [1, 2, 3]), contains: "not an IDX")
        expectOneLine(try scratch("f-labels-idx1-ubyte", [0, 0, 0x0D, 1, 0, 0, 0, 1, 0, 0, 0, 0]), contains: "unsigned bytes")
        expectOneLine(try scratch("g-labels-idx1-ubyte.gz", [0x1F, 0x8B, 8, 0x08] + [UInt8](repeating: 65, count: 30)), contains: "gzip")
    }
}
