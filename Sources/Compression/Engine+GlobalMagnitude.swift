import WeightFormats

/// Global magnitude pruning: the layers whose settings say `.globalMagnitude(s)` form one group per `s`, and
/// the group prunes the `floor(s·n)` smallest magnitudes over all its members together (torch
/// `global_unstructured`; ties broken by layer order, then index). This is the one place groups are formed
/// and resolved: for the workbench over the engine's plan, for `report` over the plan it evaluates.
extension Engine {
    /// A group: its target sparsity and its members in layer order.
    struct GlobalGroup: Hashable {
        let sparsity: Double
        let members: [Int]
    }

    /// Resolved groups kept before the cache starts over (a group is a few cuts; resolving one reads its members).
    static let groupsKept = 32

    /// The floating layers of `plan` in the group of sparsity `s`, in layer order.
    func globalMembers(sparsity s: Double, in plan: [LayerSettings]) -> [Int] {
        plan.indices.filter { model.tensors[$0].isFloating && plan[$0].globalSparsity == s }
    }

    /// The cut of `layer` in its group of `plan`. The group is resolved once (its members' values held in
    /// memory while it selects) and kept until the plan changes its membership.
    func globalCut(layer: Int, sparsity: Double, plan: [LayerSettings], token: CancellationToken) throws -> MagnitudeCut {
        let group = GlobalGroup(sparsity: sparsity, members: globalMembers(sparsity: sparsity, in: plan))
        if let cut = lock.withLock({ groupCuts[group]?[layer] }) { return cut }
        resolving.lock()
        defer { resolving.unlock() }
        if let cut = lock.withLock({ groupCuts[group]?[layer] }) { return cut }
        var buffers: [[Float]] = []
        for i in group.members {
            if token.isCancelled { throw CancellationError() }
            buffers.append(try values(of: model.tensors[i]))
        }
        let cuts = withBuffers(buffers) { Pruning.globalMagnitudeCuts($0, sparsity: sparsity) }
        let byLayer = Dictionary(uniqueKeysWithValues: zip(group.members, cuts))
        lock.withLock {
            // Each edit of a member's target makes a new group; keep the few most likely to come back.
            if groupCuts.count >= Self.groupsKept { groupCuts.removeAll() }
            groupCuts[group] = byLayer
        }
        guard let cut = byLayer[layer] else { throw EvaluationFailure(message: "layer \(layer) is not in its global group") }
        return cut
    }

    /// The members of `layer`'s global magnitude group in the engine's plan (empty for other settings).
    public func globalGroup(of layer: Int) -> [Int] {
        lock.withLock {
            guard let s = plan[layer].globalSparsity else { return [] }
            return globalMembers(sparsity: s, in: plan)
        }
    }
}

extension LayerSettings {
    /// The target sparsity of the global magnitude group these settings join, if they join one.
    public var globalSparsity: Double? {
        if case .globalMagnitude(let s) = prune { return s }
        return nil
    }
}
