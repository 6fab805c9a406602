import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// The HDF5 subset and the Keras layouts on top of it: fer's real Keras 2.0.5 model, Keras 3 archives and
/// weights files (superblock 0 and, with libver="latest", 3), a TFMOT-pruned `.h5`, split `layer_names`,
/// chunked/deflate/shuffle/Fletcher-32/compact datasets; every value checked against h5py. Hostile HDF5
/// files (cycles, huge dataspaces, dense links, truncation) give one clear error each.
@Suite("Keras and HDF5 readers")
struct KerasReaderTests {
    @Test(arguments: ["fer/emotion_model.hdf5", "generated/keras3.keras", "generated/keras3_latest.weights.h5",
                      "generated/pruned.h5", "generated/legacy_split.h5", "generated/chunked.h5"])
    func readsEveryTensorLikeH5py(_ file: String) throws {
        let model = try ModelFile.open(Fixtures.path("tf/" + file))
        #expect(model.format == (file.hasSuffix(".keras") ? .keras : .kerasH5))
        try TFReference.check(model, against: file)
    }

    @Test func superblockVersionsAreTheOnesH5pyWrote() throws {
        #expect(try HDF5File(FileSource(path: Fixtures.path("tf/fer/emotion_model.hdf5"))).superblockVersion == 0)
        #expect(try HDF5File(FileSource(path: Fixtures.path("tf/generated/keras3_latest.weights.h5"))).superblockVersion == 3)
    }

    @Test func kerasArchivesNameLayersByTheirNameInConfigOrder() throws {
        let model = try ModelFile.open(Fixtures.path("tf/generated/keras3.keras"))
        let layers = model.tensors.map { String($0.name.split(separator: "/")[0]) }
        var order: [String] = []
        for l in layers where order.last != l { order.append(l) }
        #expect(order == (0..<12).map { "fc\($0)" } + ["fc_bf16", "conv"])
        #expect(model.tensors.first { $0.name == "fc_bf16/0" }?.dtype == .bfloat16)
        #expect(model.metadata.first { $0.key == "keras_version" }?.value == .string("3.15.1"))
    }

    @Test func prunedKernelsAreShownMaskedWithHalfTheirWeightsZero() throws {
        let model = try ModelFile.open(Fixtures.path("tf/generated/pruned.h5"))
        #expect(!model.tensors.contains { $0.name.hasSuffix("mask:0") })
        let kernel = try #require(model.tensors.first { $0.name == "prune_low_magnitude_dense/dense/kernel:0" })
        #expect(kernel.storedAs?.contains("pruning mask") == true)
        let values = try FormatReference.decodeAll(kernel)
        #expect(values.filter { $0 == 0 }.count == 24)
    }

    @Test(arguments: [
        ("h5_cycle.h5", "'/a/b': member 'loop' links back to a group containing it (a cycle)"),
        ("h5_btree_cycle.h5", "group B-tree nodes form a cycle"),
        ("h5_huge_dataspace.h5", "U8 [1099511627776, 7] needs 7696581394432 bytes but its storage holds 86415"),
        ("h5_huge_chunked.h5", "declares 7696581394432 bytes, far more than the file (4122 bytes) can hold"),
        ("h5_dense_links.h5", "dense link storage (fractal heap) is not supported"),
        ("h5_truncated.h5", "lie outside the file (290952 bytes)"),
    ])
    func hostileFilesGiveOneClearError(_ file: String, _ fragment: String) throws {
        let path = Fixtures.path("tf/hostile/" + file)
        FormatReference.expectError(fragment, path: path) { _ = try ModelFile.open(path) }
    }

    @Test func everyTruncationOfARealFileIsAnErrorOrAModel() throws {
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tf/generated/keras3_latest.weights.h5"))))
        let dir = try TemporaryDirectory()
        for cut in stride(from: 0, to: whole.count, by: 97) {
            let path = try dir.write("cut.h5", Array(whole.prefix(cut)))
            do {
                let model = try ModelFile.open(path)
                for t in model.tensors { _ = try? FormatReference.decodeAll(t, chunk: 1 << 20) }
            } catch is ModelError {
            }
        }
    }
}
