import Foundation

/// Files written by the reference libraries (see the generator scripts beside them) and scratch space for
/// files the tests write themselves (malformed inputs).
public enum Fixtures {
    /// `Tests/Fixtures`, found from this source file so tests run from any working directory.
    public static let directory: String = {
        let here = URL(fileURLWithPath: #filePath)          // Tests/TestSupport/Fixtures.swift
        return here.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").path
    }()

    /// The repository root (for Examples/ and Themes/).
    public static let repositoryRoot: String = {
        URL(fileURLWithPath: directory).deletingLastPathComponent().deletingLastPathComponent().path
    }()

    public static func path(_ relative: String) -> String {
        (directory as NSString).appendingPathComponent(relative)
    }

    /// A parsed JSON reference file (reference values the generator script computed).
    public static func json(_ relative: String) throws -> Any {
        let data = try Data(contentsOf: URL(fileURLWithPath: path(relative)))
        return try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
    }
}

/// A fresh directory under the system temporary directory, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init() throws {
        let p = (NSTemporaryDirectory() as NSString).appendingPathComponent("weightlab-test-" + UUID().uuidString)
        try FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        path = p
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Writes `bytes` to `name` inside the directory and returns the full path.
    @discardableResult
    public func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        let p = (path as NSString).appendingPathComponent(name)
        try FileManager.default.createDirectory(atPath: (p as NSString).deletingLastPathComponent,
                                                withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: p))
        return p
    }

    public func write(_ name: String, text: String) throws -> String {
        try write(name, Array(text.utf8))
    }
}

/// Little-endian byte building for hand-made (malformed) files.
public struct ByteWriter {
    public var bytes: [UInt8] = []
    public init() {}
    public mutating func u8(_ v: UInt8) { bytes.append(v) }
    public mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    public mutating func f32(_ v: Float) { u32(v.bitPattern) }
    public mutating func raw(_ b: [UInt8]) { bytes += b }
    public mutating func text(_ s: String) { bytes += Array(s.utf8) }
}
