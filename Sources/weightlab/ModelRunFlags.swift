import ArgumentParser
import TaskEval

/// How a model is run on task data (`@OptionGroup` of eval, open and solve): weightlab's own kernels from an
/// architecture description, or ONNX Runtime; and the tokenizer for sentence data. One spelling and one help
/// text for the three commands.
struct ModelRunFlags: ParsableArguments {
    @Option(name: .customLong("arch"), help: "An architecture description (JSON: sequential layers or a BERT encoder): run the model's weights with weightlab's own kernels instead of ONNX Runtime.")
    var architecture: String?

    @Option(help: "With sentence data: the tokenizer (vocab.txt or tokenizer.json; default: the one beside the model).")
    var tokenizer: String?

    @Option(name: .customLong("ort-lib"), help: "Path to libonnxruntime.so (else WEIGHTLAB_ORT_LIB, else the onnxruntime Python package's).")
    var ortLib: String?

    /// Whether --tokenizer or --ort-lib was given (they only mean something with task data).
    var tokenizerOrLibraryGiven: Bool { tokenizer != nil || ortLib != nil }

    /// The task evaluation of `data` run this way.
    func setup(data: String) -> TaskSetup {
        TaskSetup(dataPath: data, architecturePath: architecture, ortLibrary: ortLib, tokenizerPath: tokenizer)
    }
}
