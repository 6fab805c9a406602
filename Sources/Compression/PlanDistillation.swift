/// The plan's `distill` section: how recovery (`weightlab recover`, the training module) mixes the original
/// model's soft outputs into fine-tuning: loss α·T²·KL(softmax(z_t/T) ‖ softmax(z_s/T)) + (1−α)·CE.
/// `{"distill": {"alpha": 0.7, "temperature": 4}}`; without the section recovery fine-tunes on labels alone.
public struct PlanDistillation: Equatable, Sendable {
    /// Weight of the teacher term, 0…1.
    public var alpha: Double
    /// Softmax temperature T > 0 (at most 100).
    public var temperature: Double

    public init(alpha: Double = 0.7, temperature: Double = 4) {
        self.alpha = alpha
        self.temperature = temperature
    }

    /// `{"alpha": 0.7, "temperature": 4}` (every field written).
    var jsonText: String { "{\"alpha\": \(PlanJSON.number(alpha)), \"temperature\": \(PlanJSON.number(temperature))}" }
}

extension PlanReader {
    /// The `distill` section; both keys optional (defaults 0.7 and 4, the values measured in
    /// distillation_options.md §3.5), each bounded.
    func distillation(_ v: Value, at field: String) throws(PlanError) -> PlanDistillation {
        let o = try object(v, at: field)
        try allow(o, at: field, ["alpha", "temperature"])
        var d = PlanDistillation()
        if let a = o["alpha"] {
            d.alpha = try number(a, at: FieldPath.join(field, "alpha"))
            guard (0...1).contains(d.alpha) else { throw fail(FieldPath.join(field, "alpha"), "\(PlanJSON.number(d.alpha)) is outside 0…1") }
        }
        if let t = o["temperature"] {
            d.temperature = try number(t, at: FieldPath.join(field, "temperature"))
            guard d.temperature > 0 && d.temperature <= 100 else {
                throw fail(FieldPath.join(field, "temperature"), "\(PlanJSON.number(d.temperature)) is outside (0, 100]")
            }
        }
        return d
    }
}
