import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// The HDF5 subset and the Keras layouts on top of it: fer's real Keras 2.0.5 model, Keras 3 archives and
/// weights files (superblock 0 and, with libver="latest", 3), a TFMOT-pruned `.h5`, split `layer_names`,
/// chunked/deflate/shuffle/Fletcher-32/compact datasets; every value checked against h5py. Hostile HDF5
/// files (cycles, huge dataspaces, truncation) give one clear error each. Dense storage (fractal heaps) of
/// links and attributes is read and checked against h5py; a corrupted or cut heap is one clear error.
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
        ("h5_truncated.h5", "lie outside the file (290952 bytes)"),
    ])
    func hostileFilesGiveOneClearError(_ file: String, _ fragment: String) throws {
        let path = Fixtures.path("tf/hostile/" + file)
        FormatReference.expectError(fragment, path: path) { _ = try ModelFile.open(path) }
    }

    /// Every dataset of `dense_links.h5` (groups of 40 and 300 links in fractal heaps) by path, as h5py reads it.
    private static func denseReference() throws -> [(path: String, shape: [Int], values: [Float])] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tf/generated/dense_links.json")))
        let list = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        return try list.map { e in
            (try #require(e["path"] as? String), try #require(e["shape"] as? [Int]),
             try #require(e["values"] as? [Double]).map(Float.init))
        }
    }

    /// Every dataset reachable from `group`, depth first in member (name) order, like h5py's `visititems`.
    private static func datasets(_ group: HDF5Object, prefix: String = "") throws -> [(String, HDF5Object)] {
        var out: [(String, HDF5Object)] = []
        for m in try group.members() {
            let name = prefix.isEmpty ? m.name : prefix + "/" + m.name
            let object = try #require(try group.member(m.name))
            if object.isDataset { out.append((name, object)) } else { out += try datasets(object, prefix: name) }
        }
        return out
    }

    @Test func denseLinkGroupsListEveryDatasetLikeH5py() throws {
        let path = Fixtures.path("tf/generated/dense_links.h5")
        let file = try HDF5File(FileSource(path: path))
        #expect(file.superblockVersion == 3)
        let root = try HDF5Object(file: file, address: file.rootAddress, path: "/")
        let found = try Self.datasets(root)
        let reference = try Self.denseReference()
        #expect(reference.count == 340)
        #expect(found.map(\.0) == reference.map(\.path))
        for ((name, object), expected) in zip(found, reference) {
            let tensor = try HDF5Dataset.tensor(object, name: name)
            #expect(tensor.shape == expected.shape, "\(name)")
            #expect(try FormatReference.decodeAll(tensor) == expected.values, "\(name)")
        }
    }

    @Test func denseAttributesAreReadLikeH5py() throws {
        let file = try HDF5File(FileSource(path: Fixtures.path("tf/generated/dense_links.h5")))
        let root = try HDF5Object(file: file, address: file.rootAddress, path: "/")
        let group = try #require(try root.member("attributes"))
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tf/generated/dense_attributes.json")))
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [[String: Any]])
        #expect(try group.attributes().count == reference.count + 1)
        for e in reference {
            let name = try #require(e["name"] as? String)
            let attribute = try #require(try group.attribute(name))
            let values = stride(from: 0, to: attribute.data.count - 3, by: 4).prefix(attribute.space.elementCount ?? 0).map {
                Int(Int32(bitPattern: UInt32(attribute.data[$0]) | UInt32(attribute.data[$0 + 1]) << 8
                          | UInt32(attribute.data[$0 + 2]) << 16 | UInt32(attribute.data[$0 + 3]) << 24))
            }
            #expect(values == (e["values"] as? [Int]), "\(name)")
        }
        #expect(try group.strings("note") == ["dense"])
    }

    @Test func corruptedOrCutFractalHeapsGiveOneClearError() throws {
        let whole = Array(try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tf/generated/dense_links.h5"))))
        let signature = Array("FHDB".utf8)
        let first = try #require((0..<(whole.count - 4)).first { Array(whole[$0..<($0 + 4)]) == signature })
        let dir = try TemporaryDirectory()
        func members(_ path: String) throws {
            let file = try HDF5File(FileSource(path: path))
            let root = try HDF5Object(file: file, address: file.rootAddress, path: "/")
            for group in ["layers", "many", "attributes"] {
                let g = try root.member(group)
                _ = try g?.members()
                _ = try g?.attributes()
            }
        }
        var bad = whole
        bad.replaceSubrange(first..<(first + 4), with: Array("XXXX".utf8))
        let badPath = try dir.write("bad_block.h5", bad)
        let e = FormatReference.expectError("no fractal heap direct block at address", path: badPath) { try members(badPath) }
        #expect(e.map { !$0.reason.contains("\n") } ?? false)
        let cutPath = try dir.write("cut.h5", Array(whole.prefix(first + 64)))
        FormatReference.expectError("lie outside the file", path: cutPath) { try members(cutPath) }
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
