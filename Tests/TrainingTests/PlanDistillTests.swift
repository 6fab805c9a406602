import Testing
import Compression

/// The plan's `distill` section: read, bounded, and written back by `jsonText`.
@Suite struct PlanDistillTests {
    @Test func parsesAndRoundTrips() throws {
        let plan = try Plan.parse(#"{"version": 1, "distill": {"alpha": 0.5, "temperature": 2}}"#, path: "p.json")
        #expect(plan.distill == PlanDistillation(alpha: 0.5, temperature: 2))
        let again = try Plan.parse(plan.jsonText(), path: "again.json")
        #expect(again == plan)
        #expect(try Plan.parse(#"{"version": 1, "distill": {}}"#, path: "d.json").distill == PlanDistillation(alpha: 0.7, temperature: 4))
        #expect(try Plan.parse(#"{"version": 1}"#, path: "n.json").distill == nil)
    }

    @Test func rejectsOutOfRange() {
        for (text, field) in [(#"{"version": 1, "distill": {"alpha": 1.5}}"#, "distill.alpha"),
                              (#"{"version": 1, "distill": {"temperature": 0}}"#, "distill.temperature"),
                              (#"{"version": 1, "distill": {"beta": 1}}"#, "distill.beta")] {
            do {
                _ = try Plan.parse(text, path: "bad.json")
                Issue.record("accepted \(text)")
            } catch {
                #expect(error.field == field, "\(error)")
            }
        }
    }
}
