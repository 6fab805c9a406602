import Foundation
import Testing
@testable import WeightFormats
import TestSupport

/// SavedModel variables: basic-pitch's real bundle and a generated two-shard bundle (F32, F16, BF16, I64, a
/// skipped DT_STRING) written by the generator's table writer, which reproduces basic-pitch's index byte for
/// byte; values checked against a reader written from the format spec in the generator (CRCs included).
/// Tables and entries that lie give one clear error.
@Suite("SavedModel reader")
struct SavedModelReaderTests {
    @Test(arguments: [("basic_pitch/nmp", "basic_pitch/nmp/saved_model.pb"),
                      ("generated/bundle", "generated/bundle/saved_model.pb"),
                      ("generated/bundle", "generated/bundle/variables/variables.index")])
    func readsEveryVariableLikeTheSpecReader(_ reference: String, _ file: String) throws {
        let model = try ModelFile.open(Fixtures.path("tf/" + file))
        #expect(model.format == .savedModel)
        try TFReference.check(model, against: reference)
        #expect(model.metadata.contains { $0.key.hasPrefix("entries without numbers") && $0.value == .uint(1) })
    }

    @Test func aSavedModelDirectoryOpens() throws {
        let model = try ModelFile.open(Fixtures.path("tf/basic_pitch/nmp"))
        #expect(model.tensors.count == (try TFReference.expected("basic_pitch/nmp")).count)
        #expect(model.tensors.contains { $0.name == "layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE" && $0.shape == [3, 39, 8, 8] })
    }

    @Test(arguments: [
        ("bundle_bad_crc", "data block at 0: CRC-32C mismatch (corrupt block)"),
        ("bundle_bad_data_crc", "entry 'w': CRC-32C mismatch (corrupt tensor data)"),
        ("bundle_handle_past_end", "index block: 100 bytes at offset 1099511627776 lie beyond the end of the file"),
        ("bundle_offset_past_shard", "entry 'w': 8 bytes at offset 4096 lie beyond the end of the shard (8 bytes)"),
        ("bundle_shard_out_of_range", "entry 'w': shard 3 is out of range (the bundle has 1)"),
        ("bundle_size_lies", "entry 'w': F32 [1000000] does not match its stored size of 8 bytes"),
        ("bundle_truncated", "bad table magic"),
    ])
    func lyingTablesGiveOneClearError(_ dir: String, _ fragment: String) throws {
        let path = Fixtures.path("tf/hostile/\(dir)/variables.index")
        FormatReference.expectError(fragment) { _ = try ModelFile.open(path) }
    }
}
