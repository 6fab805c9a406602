import Compression
import WeightFormats

/// The write-model prompt (`W`): asks for the output path (typed in the hint row, defaulting beside the plan
/// or the model) and the container (Tab), then starts the write as a background job; the UI never waits.
public struct WritePrompt: Equatable, Sendable {
    public var path: String
    public var container: String
    /// False while the path is the default one, which then follows the container's extension.
    public var edited = false

    public init(path: String, container: String, edited: Bool = false) {
        self.path = path
        self.container = container
        self.edited = edited
    }
}

extension Reducer {
    static func writeModel(_ state: inout AppState, _ command: Command) -> [Effect] {
        switch command {
        case .writeModel:
            let model = state.modelPath ?? state.modelName
            let container = model.hasSuffix(".gguf") ? GGUFModelWriter.name
                : model.hasSuffix(".onnx") ? ONNXModelWriter.name : SafetensorsModelWriter.name
            state.writePrompt = WritePrompt(path: defaultOutput(state, container: container), container: container)
        case .nextContainer:
            guard var prompt = state.writePrompt else { return [] }
            let model = state.modelPath ?? state.modelName
            let names = ModelWriters.all.filter { $0.offered(forModelAt: model) }.map { $0.name }
            prompt.container = names[((names.firstIndex(of: prompt.container) ?? -1) + 1) % names.count]
            if !prompt.edited { prompt.path = defaultOutput(state, container: prompt.container) }
            state.writePrompt = prompt
        case .deleteWriteCharacter:
            guard var prompt = state.writePrompt, !prompt.path.isEmpty else { return [] }
            prompt.path.removeLast()
            prompt.edited = true
            state.writePrompt = prompt
        case .cancelWrite:
            state.writePrompt = nil
        case .confirmWrite:
            guard let prompt = state.writePrompt else { return [] }
            guard !prompt.path.isEmpty else {
                state.message = .init("write model: give a file name", isError: true)
                return []
            }
            state.writePrompt = nil
            state.message = .init("writing " + DisplayText.escaped(prompt.path) + " (" + prompt.container + ") in the background")
            return [.job(.writeModel(path: prompt.path, container: prompt.container,
                                     settings: state.records.map(\.settings), planText: state.planText))]
        default:
            break
        }
        return []
    }

    /// Printable characters are typed into the path.
    static func writePromptKey(_ state: inout AppState, _ key: Key) -> [Effect] {
        if let command = Keymap.command(for: key, in: state) { return run(&state, command) }
        if case .character(let ch) = key, !ch.isNewline, var prompt = state.writePrompt {
            prompt.path.append(ch)
            prompt.edited = true
            state.writePrompt = prompt
        }
        return []
    }

    /// `<model>-weightlab.<ext>` beside the plan when there is one, else beside the model.
    static func defaultOutput(_ state: AppState, container: String) -> String {
        let model = state.modelPath ?? state.modelName
        return ModelApply.defaultOutput(model: model, beside: state.planPath ?? model, container: container)
    }
}
