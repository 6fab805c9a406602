import Foundation
import Testing
import TestSupport
@testable import WeightFormats

/// A directory opens as one model made of every model file inside it.
struct ModelDirectoryTests {
    let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    func copy(_ from: String, to dir: TemporaryDirectory, as name: String) throws {
        try FileManager.default.copyItem(atPath: from, toPath: dir.path + "/" + name)
    }

    @Test func everyModelFileBecomesOneModel() throws {
        let dir = try TemporaryDirectory()
        try copy(example, to: dir, as: "vad.safetensors")
        try copy(Fixtures.path("gguf/all_types.gguf"), to: dir, as: "quant.gguf")
        try dir.write("README.txt", text: "not a model")
        let single = try ModelFile.open(example)
        let gguf = try ModelFile.open(Fixtures.path("gguf/all_types.gguf"))
        let model = try ModelFile.open(dir.path)
        #expect(model.format == .directory)
        #expect(model.tensors.count == single.tensors.count + gguf.tensors.count)
        #expect(model.tensors.map(\.name) == gguf.tensors.map(\.name) + single.tensors.map(\.name))
        #expect(model.metadata.contains { $0.key.hasPrefix("quant.gguf:") })
    }

    @Test func repeatedNamesArePrefixedWithTheirFile() throws {
        let dir = try TemporaryDirectory()
        try copy(example, to: dir, as: "a.safetensors")
        try copy(example, to: dir, as: "b.safetensors")
        let model = try ModelFile.open(dir.path)
        #expect(model.tensors.count == 30)
        #expect(model.tensors.first?.name == "a.safetensors:" + (try ModelFile.open(example).tensors.first!.name))
        #expect(Set(model.tensors.map(\.name)).count == 30)
    }

    @Test func emptyDirectoryIsAnError() throws {
        let dir = try TemporaryDirectory()
        #expect(throws: ModelError(dir.path, "directory holds no model file (.safetensors, .gguf, .npy, .pth, .pt, .bin, .ckpt, .jit, .keras, .npz, .onnx, .tflite, .h5, .hdf5, saved_model.pb, .index)")) {
            try ModelFile.open(dir.path)
        }
    }

    /// A bad file inside is named with why; the rest of the directory still opens (issue 12, item 23), and
    /// a directory with nothing readable is an error naming the bad file.
    @Test func aBadFileInsideNamesThatFile() throws {
        let dir = try TemporaryDirectory()
        try copy(example, to: dir, as: "good.safetensors")
        let bad = try dir.write("bad.gguf", Array("GGUF".utf8) + [9, 0, 0, 0])
        let model = try ModelFile.open(dir.path)
        #expect(model.tensors.count == (try ModelFile.open(example)).tensors.count)
        #expect(model.skippedFiles.count == 1)
        #expect(model.skippedFiles.first?.hasPrefix(bad + ": ") == true, "\(model.skippedFiles)")

        let onlyBad = try TemporaryDirectory()
        let alone = try onlyBad.write("bad.gguf", Array("GGUF".utf8) + [9, 0, 0, 0])
        do {
            _ = try ModelFile.open(onlyBad.path)
            Issue.record("expected an error")
        } catch let e as ModelError {
            #expect(e.path == alone)
        }
    }
}
