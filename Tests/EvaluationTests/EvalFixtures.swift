import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Evaluation

/// Reads the numpy references that Tests/Fixtures/make_evalnet.py wrote (safetensors, read through the
/// project's own reader, so the fixtures travel the same path as user weights).
enum EvalFixtures {
    static func path(_ name: String) -> String { Fixtures.path("evalnet/\(name)") }

    static func table(_ name: String) throws -> WeightTable {
        WeightTable(model: try ModelFile.open(path(name)))
    }

    /// A Float array holding small integers (ids, masks) as rows of Ints.
    static func intRows(_ a: EvalArray) -> [[Int]] {
        let w = a.shape.last ?? 0
        return stride(from: 0, to: a.count, by: max(w, 1)).map { r in a.values[r..<(r + w)].map { Int($0) } }
    }
}

/// `|actual − expected| ≤ atol + rtol·|expected|` element-wise, with equal shapes; reports the worst element.
func expectClose(_ actual: EvalArray, _ expected: EvalArray, atol: Float, rtol: Float = 0, _ what: String,
                 sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(actual.shape == expected.shape, "\(what): shape \(actual.shape) vs \(expected.shape)", sourceLocation: sourceLocation)
    guard actual.shape == expected.shape else { return }
    var worst = (excess: Float(0), index: -1)
    for i in 0..<actual.count {
        let err = abs(actual.values[i] - expected.values[i])
        let excess = err - (atol + rtol * abs(expected.values[i]))
        if excess > worst.excess || err.isNaN { worst = (err.isNaN ? .infinity : excess, i) }
    }
    #expect(worst.index < 0, "\(what): element \(worst.index) is \(worst.index >= 0 ? actual.values[worst.index] : 0), expected \(worst.index >= 0 ? expected.values[worst.index] : 0)",
            sourceLocation: sourceLocation)
}
