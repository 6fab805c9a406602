import Compression
import Dispatch
import Foundation

extension Bench {
    /// The solver on a Llama-2-7B-shaped menu: 32 blocks of q, k, v, o (4096 × 4096) and gate, up, down
    /// (11008 × 4096), each with 12 options from 16 down to 2.25 bits per weight; sizes are the bits times
    /// the parameters, errors fall as 4^−bits with a random factor per layer and option (seeded). Times the
    /// frontier (hulls, sort, prefix sums), one budget question, and the exact grid refine at 65 536 cells.
    func solverTimings() {
        let bits = [16, 8.5, 6.5625, 5.5, 5, 4.5, 4.25, 4, 3.4375, 3.25, 2.625, 2.25]
        var rng = SplitMix64(seed: 7)
        var options: [[SolverPoint?]] = []
        for _ in 0..<32 {
            for params in [4096 * 4096, 4096 * 4096, 4096 * 4096, 4096 * 4096, 11008 * 4096, 11008 * 4096, 11008 * 4096] {
                options.append(bits.map { b in
                    let factor = 0.5 + Double(rng.next() % 1000) / 666
                    return SolverPoint(bytes: Int(Double(params) * b / 8), error: Double(params) * factor * Foundation.pow(4, -b))
                })
            }
        }
        let totalParams = 32 * (4 * 4096 * 4096 + 3 * 11008 * 4096)
        func best(_ body: () -> Void) -> Double {
            var t = Double.infinity
            for _ in 0..<repeats {
                let t0 = DispatchTime.now().uptimeNanoseconds
                body()
                t = min(t, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
            }
            return t
        }
        var frontier: BudgetFrontier? = nil
        let build = best { frontier = BudgetFrontier(options: options) }
        let budget = Int(4.5 * Double(totalParams) / 8)
        var solved: BudgetFrontier.Solution? = nil
        let query = best { solved = frontier!.solve(budget: budget) }
        let refine = best { _ = ByteGridSolver.solve(options: options, budget: budget, unit: max(1, budget / (1 << 16))) }
        print("weightlab bench --solver: \(options.count) layers × \(bits.count) options, \(frontier!.count) frontier points, best of \(repeats)")
        print(String(format: "frontier (hulls + sort)   %9.2f ms", build * 1000))
        print(String(format: "budget 4.5 bpw (search)   %9.3f ms  (gap %.4f%%)", query * 1000, 100 * solved!.gap / max(solved!.error, 1e-300)))
        print(String(format: "exact grid refine 64Ki    %9.1f ms", refine * 1000))
    }
}
