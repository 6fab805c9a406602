import FuzzSupport

/// libFuzzer entry point: `ModelFile.open` on a temporary `*.pth` file holding the input (a `torch.save`
/// zip, a TorchScript archive or a legacy stream), then every tensor decoded. Only `ModelError` may come out.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOne(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    ModelFuzz.run(data, size, suffix: ".pth")
}
