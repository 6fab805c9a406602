import Foundation
import Testing
@testable import Compression
import WeightFormats
import TestSupport

/// The budget solver (issue 11): hulls, the frontier from one sort, the exact byte-grid program, and both
/// against brute force over every combination of small random menus.
@Suite struct SolverTests {
    typealias Seeded = SplitMix64

    /// Random layers: 1…6 layers of 1…4 options, sizes 1…40 bytes, errors 0…10 (some options missing).
    static func menu(_ rng: inout Seeded) -> [[SolverPoint?]] {
        (0..<Int.random(in: 1...6, using: &rng)).map { _ in
            var layer: [SolverPoint?] = (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                Int.random(in: 0..<8, using: &rng) == 0 ? nil
                    : SolverPoint(bytes: Int.random(in: 1...40, using: &rng), error: Double(Int.random(in: 0...1000, using: &rng)) / 100)
            }
            if layer.allSatisfy({ $0 == nil }) { layer[0] = SolverPoint(bytes: 5, error: 1) }
            return layer
        }
    }

    /// The least error within `budget` over every combination, or nil when none fits.
    static func bruteForce(_ layers: [[SolverPoint?]], budget: Int) -> Double? {
        var best: Double? = nil
        func go(_ i: Int, _ bytes: Int, _ error: Double) {
            if bytes > budget { return }
            if i == layers.count { best = min(best ?? .infinity, error); return }
            for case let p? in layers[i] { go(i + 1, bytes + p.bytes, error + p.error) }
        }
        go(0, 0, 0)
        return best
    }

    static func close(_ a: Double, _ b: Double) -> Bool { abs(a - b) <= 1e-9 * max(1, abs(a), abs(b)) }

    /// Each frontier vertex's error is the sum of its own layers' errors, not the cheapest vertex's total minus
    /// the savings since: at the near-exact end (every layer lossless but one with a tiny error) the total is that
    /// tiny error, not a residue of rounding the large totals before (which showed as an SQNR of ~160 dB).
    @Test func frontierErrorsAreSumsOfTheLayersOwn() throws {
        let layers: [[SolverPoint?]] = (0..<200).map { (k: Int) -> [SolverPoint?] in
            let cheap: Double = 1e6 / Double(k + 3), middle: Double = 0.1 * Double(k % 7 + 1) / 3
            let best: Double = k == 17 ? 1e-12 : 0
            return [SolverPoint(bytes: 10, error: cheap), SolverPoint(bytes: 20, error: middle), SolverPoint(bytes: 40, error: best)]
        }
        let f = BudgetFrontier(options: layers)
        for t in 0..<f.count {
            let choice = f.choice(prefix: t)
            let exact = choice.indices.map { layers[$0][choice[$0]]!.error }.reduce(0, +)
            #expect(Self.close(f.errors[t], exact), "vertex \(t): \(f.errors[t]) vs \(exact)")
        }
        #expect(f.errors[f.count - 1] == 1e-12)
        let top = try #require(f.solve(budget: f.largestBytes))
        #expect(top.error == 1e-12)
    }

    @Test func hullDropsDominatedAndNonConvexOptions() {
        let options: [SolverPoint?] = [
            SolverPoint(bytes: 10, error: 10),   // 0: cheapest
            SolverPoint(bytes: 20, error: 9.5),  // 1: above the chord 0→2 (saves little for its bytes)
            SolverPoint(bytes: 30, error: 2),    // 2
            SolverPoint(bytes: 30, error: 3),    // 3: same bytes, more error
            nil,                                 // 4: does not fit
            SolverPoint(bytes: 40, error: 2),    // 5: more bytes, no less error
            SolverPoint(bytes: 60, error: 0),    // 6
        ]
        #expect(LayerHull(options).vertices == [0, 2, 6])
    }

    @Test func frontierVerticesAreExactOptimaAndBudgetsAreBounded() {
        var rng = Seeded(seed: 11)
        for _ in 0..<300 {
            let layers = Self.menu(&rng)
            let frontier = BudgetFrontier(options: layers)
            // Bytes grow and error falls along the frontier.
            for t in 1..<frontier.count {
                #expect(frontier.bytes[t] > frontier.bytes[t - 1])
                #expect(frontier.errors[t] < frontier.errors[t - 1] + 1e-12)
            }
            // Every vertex is the exact optimum at its own size, and the exact program agrees.
            for t in 0..<frontier.count {
                let opt = Self.bruteForce(layers, budget: frontier.bytes[t])!
                #expect(Self.close(frontier.errors[t], opt), "vertex \(t) of \(layers)")
                let dp = ByteGridSolver.solve(options: layers, budget: frontier.bytes[t])!
                #expect(Self.close(dp.error, frontier.errors[t]))
                #expect(dp.bytes <= frontier.bytes[t])
            }
            // Any budget: the greedy answer fits, is no better than the optimum, and the optimum is no
            // better than the bound; the exact program finds the optimum.
            let total = layers.reduce(0) { $0 + ($1.compactMap { $0?.bytes }.max() ?? 0) }
            for budget in stride(from: 0, through: total + 2, by: 3) {
                let opt = Self.bruteForce(layers, budget: budget)
                let dp = ByteGridSolver.solve(options: layers, budget: budget)
                #expect((dp == nil) == (opt == nil))
                if let dp, let opt { #expect(Self.close(dp.error, opt)) ; #expect(dp.bytes <= budget) }
                guard let s = frontier.solve(budget: budget) else {
                    // Below the cheapest choice: nothing fits.
                    #expect(budget < frontier.smallestBytes)
                    #expect(opt == nil)
                    continue
                }
                let opt2 = opt!
                #expect(s.bytes <= budget)
                let recomputed = zip(layers, s.choice).reduce((0, 0.0)) { acc, lc in
                    (acc.0 + lc.0[lc.1]!.bytes, acc.1 + lc.0[lc.1]!.error)
                }
                #expect(recomputed.0 == s.bytes && Self.close(recomputed.1, s.error))
                #expect(s.error >= opt2 - 1e-9)
                #expect(s.lowerBound <= opt2 + 1e-9)
            }
        }
    }

    @Test func gridUnitKeepsFeasibility() {
        var rng = Seeded(seed: 5)
        for _ in 0..<100 {
            let layers = Self.menu(&rng)
            for budget in [20, 50, 90] {
                guard let coarse = ByteGridSolver.solve(options: layers, budget: budget, unit: 7) else { continue }
                #expect(coarse.bytes <= budget)
                #expect(coarse.error >= Self.bruteForce(layers, budget: budget)! - 1e-9)
            }
        }
    }

    @Test func budgetIsABinarySearchOverVertices() {
        let layers: [[SolverPoint?]] = [
            [SolverPoint(bytes: 10, error: 8), SolverPoint(bytes: 20, error: 2)],
            [SolverPoint(bytes: 10, error: 4), SolverPoint(bytes: 30, error: 0)],
        ]
        let f = BudgetFrontier(options: layers)
        #expect(f.bytes == [20, 30, 50])
        #expect(f.errors == [12, 6, 2])
        #expect(f.prefix(within: 19) == nil)
        #expect(f.prefix(within: 29) == 0)
        #expect(f.prefix(within: 30) == 1)
        #expect(f.prefix(within: 1000) == 2)
        // Between vertices 1 and 2 (slope 0.2 per byte): the bound is linear, the gap at most one step.
        let s = f.solve(budget: 40)!
        #expect(s.choice == [1, 0] && s.error == 6)
        #expect(Self.close(s.lowerBound, 6 - 0.2 * 10))
    }

    @Test func byteSizes() {
        #expect(ByteSize.parse("3.5 GiB") == 3_758_096_384)
        #expect(ByteSize.parse("15MiB") == 15 * 1_048_576)
        #expect(ByteSize.parse("900 MB") == 900_000_000)
        #expect(ByteSize.parse("123") == 123)
        #expect(ByteSize.parse("2 parsecs") == nil)
        #expect(ByteSize.parse("-1 GiB") == nil)
        #expect(ByteSize.parse("") == nil)
    }
}
