import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// Files written by `np.save`, `np.lib.format.write_array` (versions 1–3), `np.savez` and
/// `np.savez_compressed`, compared against `Tests/Fixtures/numpy/expected.json`.
@Suite("Numpy reader")
struct NumpyReaderTests {
    static let npyFiles: [String] = {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: Fixtures.path("numpy"))) ?? []
        return names.filter { $0.hasSuffix(".npy") }.sorted()
    }()

    @Test("every .npy fixture matches the reference", arguments: npyFiles)
    func npy(_ file: String) throws {
        let expected = try #require(try FormatReference.expected("numpy")[file])
        let model = try NpyReader.open(try FileSource(path: Fixtures.path("numpy/" + file)))
        #expect(model.format == .npy)
        try FormatReference.check(model, against: expected, context: file)
        let ref = try #require(try FormatReference.tensors(expected).first)
        let descr = try #require(ref["descr"] as? String)
        let tensor = try #require(model.tensors.first)
        #expect(tensor.byteOrder == (descr.hasPrefix(">") ? .big : .little), "\(file)")
        #expect(tensor.fortranOrder == (ref["fortran_order"] as? Bool ?? false), "\(file)")
    }

    @Test("the fixtures cover versions 1-3, both byte orders, fortran order, 0-d and bool")
    func coverage() throws {
        let names = Set(Self.npyFiles)
        for f in ["f4_v1.npy", "f4_v2.npy", "f4_v3.npy", "f8_big.npy", "fortran.npy", "fortran_big_3d.npy",
                  "scalar.npy", "bool.npy", "int_i1.npy", "int_le_u8.npy"] {
            #expect(names.contains(f), "\(f)")
        }
        let v2 = try FormatReference.readFile(Fixtures.path("numpy/f4_v2.npy"))
        let v3 = try FormatReference.readFile(Fixtures.path("numpy/f4_v3.npy"))
        #expect(v2[6] == 2 && v3[6] == 3)
    }

    @Test("a 0-d array is one element with shape []")
    func scalar() throws {
        let model = try NpyReader.open(try FileSource(path: Fixtures.path("numpy/scalar.npy")))
        let t = try #require(model.tensors.first)
        #expect(t.name == "scalar")
        #expect(t.shape == [])
        #expect(try FormatReference.decodeAll(t) == [-3.75])
    }

    @Test("npz archives, stored and deflated, match the reference", arguments: ["stored.npz", "deflated.npz"])
    func npz(_ file: String) throws {
        let expected = try #require(try FormatReference.expected("numpy")[file])
        let model = try NpzReader.open(Fixtures.path("numpy/" + file))
        #expect(model.format == .npz)
        try FormatReference.check(model, against: expected, context: file)
    }

    @Test("a deflated member decodes the same in large chunks and is served from its inflated copy")
    func deflatedLargeChunks() throws {
        let model = try NpzReader.open(Fixtures.path("numpy/deflated.npz"))
        let big = try #require(model.tensors.first { $0.name == "big" })
        #expect(big.shape == [300, 100])
        let small = try FormatReference.decodeAll(big, chunk: 7)
        let large = try FormatReference.decodeAll(big, chunk: 1 << 20)
        #expect(small == large)
        #expect(large[29_999] == Float((29_999 % 97)) / 8 - 6)
    }

    @Test("stored npz members are windows into the zip file, not copies")
    func storedIsSlice() throws {
        let model = try NpzReader.open(Fixtures.path("numpy/stored.npz"))
        for t in model.tensors {
            let slice = try #require(t.data as? SliceSource)
            #expect(slice.base is SliceSource || slice.base is FileSource)
        }
    }

    @Test("ModelFile.open dispatches .npy and .npz")
    func dispatch() throws {
        #expect(try ModelFile.open(Fixtures.path("numpy/f4_v1.npy")).format == .npy)
        #expect(try ModelFile.open(Fixtures.path("numpy/stored.npz")).format == .npz)
        #expect(try ModelFile.open(Fixtures.path("numpy/deflated.npz")).tensors.count == 3)
    }

    @Test("bytes after the array are ignored, as numpy.load ignores them")
    func trailingBytes() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("extra.npy", FormatReference.npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                                                                  data: FormatReference.f32Bytes([1, 2, 3])))
        let model = try NpyReader.open(try FileSource(path: path))
        #expect(try FormatReference.decodeAll(model.tensors[0]) == [1, 2])
    }

    @Test("header literal details: (n,) tuples, (n) is not a tuple, old L suffixes, double quotes")
    func headerLiterals() throws {
        func header(_ text: String) throws -> NpyHeader {
            try NpyHeader.parse(Array(text.utf8), utf8: false, dataOffset: 0, path: "x.npy")
        }
        #expect(try header("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }").shape == [3])
        #expect(try header(#"{"descr": ">i2", "fortran_order": True, "shape": (2L, 3L)}"#).shape == [2, 3])
        #expect(try header("{'descr': '|b1', 'fortran_order': False, 'shape': ()}").shape == [])
        FormatReference.expectError("'shape' is not a tuple") {
            _ = try header("{'descr': '<f4', 'fortran_order': False, 'shape': (3)}")
        }
        FormatReference.expectError("must have the keys") {
            _ = try header("{'descr': '<f4', 'shape': (3,)}")
        }
    }
}
