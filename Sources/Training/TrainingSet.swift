import Foundation
import Evaluation
import TaskEval

/// Labelled samples held as one Float array: what training and accuracy read. Built from `EvalData` (an
/// `.npz`, or IDX files such as Fashion-MNIST) with exactly one floating input array and `labels`.
public struct TrainingSet: Sendable {
    public let sampleShape: [Int]
    public let values: [Float]
    public let labels: [Int]
    public var count: Int { labels.count }
    var sampleSize: Int { sampleShape.reduce(1, *) }

    public init(sampleShape: [Int], values: [Float], labels: [Int]) {
        precondition(values.count == labels.count * sampleShape.reduce(1, *))
        self.sampleShape = sampleShape; self.values = values; self.labels = labels
    }

    public init(_ data: EvalData, origin: String) throws {
        guard data.inputs.count == 1, let input = data.inputs.values.first, case .float(let v) = input.values else {
            throw EvalError("\(origin): training reads one floating input array and 'labels' (have: \(data.inputs.keys.sorted().joined(separator: ", ")))")
        }
        guard let labels = data.labels else { throw EvalError("\(origin): training needs an integer 'labels' array") }
        if let bad = labels.first(where: { $0 < 0 || $0 > 1 << 20 }) {
            throw EvalError("\(origin): label \(bad) is not a class index")
        }
        self.init(sampleShape: Array(input.shape.dropFirst()), values: v, labels: labels.map { Int($0) })
    }

    /// The samples `indices` as one batch [indices.count] + sampleShape.
    public func batch(_ indices: ArraySlice<Int>) -> (x: EvalArray, labels: ArraySlice<Int>) {
        let s = sampleSize
        var x = [Float](repeating: 0, count: indices.count * s)
        values.withUnsafeBufferPointer { src in
            x.withUnsafeMutableBufferPointer { dst in
                for (k, i) in indices.enumerated() {
                    UnsafeMutableBufferPointer(rebasing: dst[(k * s)..<((k + 1) * s)]).update(fromContentsOf: src[(i * s)..<((i + 1) * s)])
                }
            }
        }
        return (EvalArray(shape: [indices.count] + sampleShape, values: x), ArraySlice(indices.map { labels[$0] }))
    }

    /// The first `n` samples (a fixed subset for quick checks).
    public func prefix(_ n: Int) -> TrainingSet {
        let k = min(n, count)
        return TrainingSet(sampleShape: sampleShape, values: Array(values[0..<(k * sampleSize)]), labels: Array(labels[0..<k]))
    }
}

extension TrainingSet {
    /// The training and evaluation sets of a command: an IDX directory gives its `train` and `t10k` splits;
    /// any other data (an `.npz`, an IDX images file) trains on itself and is evaluated on `evalPath` when
    /// given, else on itself. `limit` keeps the first samples of the training set.
    public static func load(data path: String, evalPath: String?, limit: Int? = nil) throws -> (train: TrainingSet, eval: TrainingSet) {
        var isDir: ObjCBool = false
        let directory = FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
        let train = try TrainingSet(directory ? IDXData.load(path, split: "train") : EvalData.load(path), origin: path)
        let eval: TrainingSet
        if let evalPath {
            eval = try TrainingSet(EvalData.load(evalPath), origin: evalPath)
        } else {
            eval = directory ? try TrainingSet(IDXData.load(path, split: "t10k"), origin: path) : train
        }
        guard train.sampleShape == eval.sampleShape else {
            throw EvalError("the training samples \(train.sampleShape) and the evaluation samples \(eval.sampleShape) differ in shape")
        }
        return (limit.map { train.prefix($0) } ?? train, eval)
    }
}
