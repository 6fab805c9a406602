import FuzzSupport

/// libFuzzer entry point: `ModelFile.open` on a temporary `*.h5` file holding the input, then every
/// tensor decoded. Only `ModelError` may come out.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ModelFuzz.run(data, size, suffix: ".h5")
}
