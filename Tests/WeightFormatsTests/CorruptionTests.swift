import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

/// Damaged copies of every reference fixture (bytes flipped, runs overwritten, the file cut short) must
/// open and decode, or fail with a ModelError — never trap, hang or allocate by a corrupt number. A fixed
/// seed makes any failure reproducible.
struct CorruptionTests {
    static let files = [
        "safetensors/dtypes.safetensors", "safetensors/shapes.safetensors", "safetensors/bf16_f8.safetensors",
        "gguf/all_types.gguf", "gguf/undecodable.gguf",
        "numpy/f4_v1.npy", "numpy/fortran.npy", "numpy/stored.npz", "numpy/deflated.npz",
    ]

    @Test(arguments: files)
    func damagedCopiesFailCleanly(_ file: String) throws {
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: Fixtures.path(file))))
        let dir = try TemporaryDirectory()
        var rng = SplitMix64(seed: 20261129 &+ UInt64(original.count))
        var opened = 0, refused = 0, decoded = 0, decodeRefused = 0
        for round in 0..<150 {
            var bytes = original
            switch round % 3 {
            case 0:   // flip a few bytes, mostly in the header where the numbers live
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let limit = rng.next() % 4 == 0 ? bytes.count : min(bytes.count, 512)
                    let i = Int(rng.next() % UInt64(limit))
                    bytes[i] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                }
            case 1:   // overwrite a run with 0xFF (huge lengths and counts)
                let i = Int(rng.next() % UInt64(min(bytes.count, 256)))
                for k in i..<min(bytes.count, i + 1 + Int(rng.next() % 8)) { bytes[k] = 0xFF }
            default:  // cut the file short
                bytes.removeLast(1 + Int(rng.next() % UInt64(bytes.count - 1)))
            }
            let ext = (file as NSString).pathExtension
            let path = try dir.write("case\(round).\(ext)", bytes)
            let model: Model
            do {
                model = try ModelFile.open(path)
            } catch let e as ModelError {
                // One readable line naming the damaged file.
                #expect(e.path == path || e.path.hasPrefix(path), "round \(round): error names \(e.path)")
                #expect(!e.reason.isEmpty && !e.reason.contains("\n"), "round \(round): reason '\(e.reason)'")
                refused += 1
                continue
            }
            opened += 1
            var failedHere = 0
            for t in model.tensors where t.isFloating {
                do {
                    _ = try TensorScan.statistics(t)
                    decoded += 1
                } catch let e as ModelError {
                    // Damage the header checks cannot see (a deflate stream) is found while decoding.
                    #expect(!e.reason.isEmpty, "round \(round): decoding '\(t.name)' failed without a reason")
                    decodeRefused += 1
                    failedHere += 1
                }
            }
            // A file cut short may open only when what was cut held no tensor data (trailing padding): the
            // reader checks every tensor's range against the file size, so no read may come up short later.
            if round % 3 == 2 && ext != "npz" {
                #expect(failedHere == 0, "round \(round): \(file) cut to \(bytes.count) of \(original.count) bytes opened, then failed to decode")
            }
        }
        #expect(refused > 0, "no damaged copy of \(file) was refused")
        #expect(decoded > 0 || opened == 0, "no tensor of an opened damaged copy decoded")
    }
}
