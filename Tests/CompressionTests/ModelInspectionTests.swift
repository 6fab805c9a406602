import Foundation
import Testing
import TestSupport
import WeightFormats
@testable import Compression

struct ModelInspectionTests {
    /// Counts the reads that reach tensor bytes (and serves zeros).
    final class CountingSource: ByteSource, @unchecked Sendable {
        let path = "counting"
        let size: UInt64
        var reads = 0
        init(size: UInt64) { self.size = size }
        func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws {
            reads += 1
            buffer.initializeMemory(as: UInt8.self, repeating: 0)
        }
    }

    func model(_ source: CountingSource) throws -> Model {
        let w = try Tensor(name: "w", dtype: .float32, shape: [4, 4], data: source)
        return Model(path: "m", format: .safetensors, metadata: [], tensors: [w])
    }

    @Test func listingWithoutStatisticsReadsNoData() throws {
        let source = CountingSource(size: 64)
        let inspection = try ModelInspection(try model(source), statistics: false)
        #expect(inspection.rows.count == 1 && inspection.rows[0].statistics == nil)
        #expect(source.reads == 0)
    }

    @Test func statisticsReadTheData() throws {
        let source = CountingSource(size: 64)
        let inspection = try ModelInspection(try model(source), statistics: true)
        #expect(source.reads > 0)
        #expect(inspection.rows[0].statistics?.zeroFraction == 1)
    }

    /// Issue 12, item 24: progress comes per tensor scanned, ending at (n, n), for a stderr progress line.
    @Test func progressCountsEveryScannedTensor() throws {
        let source = CountingSource(size: 64)
        let w = try Tensor(name: "w", dtype: .float32, shape: [4, 4], data: source)
        let v = try Tensor(name: "v", dtype: .float32, shape: [2, 8], data: source)
        final class Seen: @unchecked Sendable { var calls: [(Int, Int)] = []; let lock = NSLock() }
        let seen = Seen()
        _ = try ModelInspection(Model(path: "m", format: .safetensors, metadata: [], tensors: [w, v]), statistics: true) { done, total in
            seen.lock.withLock { seen.calls.append((done, total)) }
        }
        #expect(seen.calls.count == 2)
        #expect(seen.calls.map(\.0).sorted() == [1, 2] && seen.calls.allSatisfy { $0.1 == 2 })
    }

    @Test func integerTensorsGetNoStatistics() throws {
        let dir = try TemporaryDirectory()
        let path = try dir.write("ids.bin", [1, 0, 0, 0, 2, 0, 0, 0])
        let ids = try Tensor(name: "ids", dtype: .int32, shape: [2], data: try FileSource(path: path))
        let inspection = try ModelInspection(Model(path: path, format: .npy, metadata: [], tensors: [ids]), statistics: true)
        #expect(inspection.rows[0].statistics == nil)
    }
}
