import Dispatch
import Foundation
import WeightFormats

/// Layer analyses (statistics and histograms, `LayerAnalysis.analyse`) through the engine: in the order asked,
/// with the layer in view able to jump the queue, and cancellable (the scan polls the token between chunks).
/// As many layers run at once as there are cores (each split across the cores that are free), so a layer's
/// serial end (its merge and histograms), the last chunk of a layer and small layers never leave a core idle;
/// results are still delivered in the order the layers were taken from the queue.
extension Engine {
    typealias AnalysisDelivery = @Sendable (Int, Result<LayerAnalysis, EvaluationFailure>) -> Void

    /// Analyses waiting, running and finished but waiting for an earlier one to be delivered. Guarded by the
    /// engine's lock.
    struct AnalysisQueue {
        var waiting: [(layer: Int, deliver: AnalysisDelivery)] = []
        /// Layers taken from the queue and not yet handed to the scheduler, by the order they were taken.
        var taken: [(sequence: Int, token: CancellationToken, done: (() -> Void)?)] = []
        var nextSequence = 0
        /// Lanes of the running job that have not yet found the queue empty (0: no job).
        var activeLanes = 0
        /// Whether a lane is handing finished analyses to the scheduler (one at a time keeps their order).
        var handingOut = false
        var workerActive: Bool { activeLanes > 0 }
    }

    /// Analyses `layer` in the background; `deliver` gets the layer and its analysis (or why it could not
    /// be read) on the scheduler's delivery queue. A layer already waiting is not queued twice; `urgent`
    /// moves it to the front.
    public func analyse(layer: Int, urgent: Bool = false,
                        deliver: @escaping @Sendable (Int, Result<LayerAnalysis, EvaluationFailure>) -> Void) {
        let start: Bool = lock.withLock {
            if let k = analysisQueue.waiting.firstIndex(where: { $0.layer == layer }) {
                guard urgent else { return false }
                analysisQueue.waiting.remove(at: k)
            }
            if urgent { analysisQueue.waiting.insert((layer, deliver), at: 0) } else { analysisQueue.waiting.append((layer, deliver)) }
            guard !analysisQueue.workerActive else { return false }
            analysisQueue.activeLanes = Self.analysisLanes
            return true
        }
        if start { scheduler.background { [self] in analysisWork() } }
    }

    /// Layers analysed at once: one per core.
    static var analysisLanes: Int { ProcessInfo.activeCores }

    /// Drops every waiting analysis and stops the running ones at their next chunk; none of them is delivered.
    public func cancelAnalyses() {
        lock.withLock {
            analysisQueue.waiting.removeAll()
            for t in analysisQueue.taken { t.token.cancel() }
        }
    }

    /// Analyses asked and not yet delivered or cancelled.
    public var analysesOutstanding: Int {
        lock.withLock { analysisQueue.waiting.count + analysisQueue.taken.filter { !$0.token.isCancelled }.count }
    }

    /// The lanes run on threads of their own (not `concurrentPerform`, inside which each layer's scan would run
    /// on one core only), and the job returns when all of them have found the queue empty.
    private func analysisWork() {
        let lanes = DispatchGroup()
        for _ in 1..<Self.analysisLanes {
            DispatchQueue.global(qos: .userInitiated).async(group: lanes) { [self] in analysisLane() }
        }
        analysisLane()
        lanes.wait()
    }

    /// One lane: takes the next waiting layer, analyses it, and hands out every finished analysis whose
    /// predecessors are out, until the queue is empty.
    private func analysisLane() {
        while true {
            let next: (layer: Int, deliver: AnalysisDelivery, sequence: Int, token: CancellationToken)? = lock.withLock {
                guard !analysisQueue.waiting.isEmpty else {
                    analysisQueue.activeLanes -= 1
                    return nil
                }
                let (layer, deliver) = analysisQueue.waiting.removeFirst()
                let token = CancellationToken()
                let sequence = analysisQueue.nextSequence
                analysisQueue.nextSequence += 1
                analysisQueue.taken.append((sequence, token, nil))
                return (layer, deliver, sequence, token)
            }
            guard let (layer, deliver, sequence, token) = next else { return }
            let result: Result<LayerAnalysis, EvaluationFailure>
            do {
                result = .success(try LayerAnalysis.analyse(model.tensors[layer], cancelled: { token.isCancelled }))
            } catch let e as ModelError {
                result = .failure(EvaluationFailure(message: e.reason))
            } catch {
                result = .failure(EvaluationFailure(message: String(describing: error)))
            }
            let handOut: Bool = lock.withLock {
                if let k = analysisQueue.taken.firstIndex(where: { $0.sequence == sequence }) {
                    analysisQueue.taken[k].done = { [scheduler] in scheduler.deliver { deliver(layer, result) } }
                }
                guard !analysisQueue.handingOut else { return false }
                analysisQueue.handingOut = true
                return true
            }
            if handOut { handOutFinished() }
        }
    }

    /// Hands the finished analyses at the front of `taken` to the scheduler in order (dropping cancelled ones),
    /// outside the lock; stops at the first one still running.
    private func handOutFinished() {
        while true {
            let done: (() -> Void)?? = lock.withLock {
                guard let first = analysisQueue.taken.first, first.token.isCancelled || first.done != nil else {
                    analysisQueue.handingOut = false
                    return nil
                }
                analysisQueue.taken.removeFirst()
                return .some(first.token.isCancelled ? nil : first.done)
            }
            guard let done else { return }
            done?()
        }
    }
}
