/// Reads NumPy `.npy` (format 1–3) and `.npz` archives.
public enum NumpyReader {
    public static func openNpy(_ source: FileSource) throws -> Model {
        throw ModelError(source.path, "npy reader not written yet")
    }
    public static func openNpz(_ path: String) throws -> Model {
        throw ModelError(path, "npz reader not written yet")
    }
}
