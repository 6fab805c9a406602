/// Reads GGUF v2 and v3 files.
public enum GGUFReader {
    public static func open(_ source: FileSource) throws -> Model {
        throw ModelError(source.path, "GGUF reader not written yet")
    }
}
