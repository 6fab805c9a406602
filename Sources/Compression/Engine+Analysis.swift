import WeightFormats

/// Layer analyses (statistics and histograms, `LayerAnalysis.analyse`) through the engine: one layer at a
/// time (each pass already uses every core), in the order asked, with the layer in view able to jump the
/// queue, and cancellable (the scan polls the token between chunks).
extension Engine {
    /// Analyses waiting and the one running. Guarded by the engine's lock.
    struct AnalysisQueue {
        var waiting: [(layer: Int, deliver: @Sendable (Int, Result<LayerAnalysis, EvaluationFailure>) -> Void)] = []
        var running: (layer: Int, token: CancellationToken)?
        var workerActive = false
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
            analysisQueue.workerActive = true
            return true
        }
        if start { scheduler.background { [self] in analysisWork() } }
    }

    /// Drops every waiting analysis and stops the running one at its next chunk; none of them is delivered.
    public func cancelAnalyses() {
        lock.withLock {
            analysisQueue.waiting.removeAll()
            analysisQueue.running?.token.cancel()
        }
    }

    /// Analyses asked and not yet delivered or cancelled.
    public var analysesOutstanding: Int {
        lock.withLock { analysisQueue.waiting.count + (analysisQueue.running == nil ? 0 : 1) }
    }

    private func analysisWork() {
        while true {
            let next: (layer: Int, deliver: @Sendable (Int, Result<LayerAnalysis, EvaluationFailure>) -> Void,
                       token: CancellationToken)? = lock.withLock {
                guard !analysisQueue.waiting.isEmpty else {
                    analysisQueue.workerActive = false
                    return nil
                }
                let (layer, deliver) = analysisQueue.waiting.removeFirst()
                let token = CancellationToken()
                analysisQueue.running = (layer, token)
                return (layer, deliver, token)
            }
            guard let (layer, deliver, token) = next else { return }
            let result: Result<LayerAnalysis, EvaluationFailure>
            do {
                result = .success(try LayerAnalysis.analyse(model.tensors[layer], cancelled: { token.isCancelled }))
            } catch let e as ModelError {
                result = .failure(EvaluationFailure(message: e.reason))
            } catch {
                result = .failure(EvaluationFailure(message: String(describing: error)))
            }
            lock.withLock { analysisQueue.running = nil }
            if token.isCancelled { continue }
            scheduler.deliver { deliver(layer, result) }
        }
    }
}
