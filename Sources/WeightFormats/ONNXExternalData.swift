#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// External data of an ONNX tensor (`data_location = EXTERNAL`, keys `location`, `offset`, `length`), opened
/// only inside the model's directory, following onnx's own checks after its path-traversal CVEs
/// (CVE-2022-25882, CVE-2024-27318, CVE-2026-27489, CVE-2026-34446): an empty or absolute location, any `..`
/// component, a location naming ONNX Runtime's in-memory marker `_ORT_MEM_ADDR_` (an address, not a file),
/// a final symlink, a file whose real path leaves the model's directory, a hard-linked or non-regular file,
/// unknown keys and offsets or lengths that are not plain decimals are all refused, and the byte range must
/// lie inside the file. Each data file is opened once per model.
final class ONNXExternalData {
    let modelPath: String
    /// The model's directory, resolved (symlinks followed) once.
    private let directory: String
    private var opened: [String: FileSource] = [:]

    init(modelPath: String) {
        self.modelPath = modelPath
        let dir = (modelPath as NSString).deletingLastPathComponent
        let lexical = dir.isEmpty ? "." : dir
        directory = Self.realPath(lexical) ?? lexical
    }

    static func realPath(_ p: String) -> String? {
        guard let r = realpath(p, nil) else { return nil }
        defer { free(r) }
        return String(cString: r)
    }

    /// The `count` bytes tensor `name` keeps in external data described by `entries`.
    func source(tensor name: String, entries: [(key: String, value: String)], count: Int) throws -> any ByteSource {
        let shown = "tensor '\(DisplayText.escaped(name))'"
        func refuse(_ why: String) -> ModelError { ModelError(modelPath, "\(shown): external data \(why)") }
        var location: String?, offset: UInt64 = 0, length: UInt64?
        for (k, v) in entries {
            switch k {
            case "location":
                guard location == nil else { throw refuse("names 'location' twice") }
                location = v
            case "offset", "length":
                guard !v.isEmpty, v.count <= 19, v.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = UInt64(v) else {
                    throw refuse("\(k) '\(DisplayText.escaped(v))' is not a non-negative integer")
                }
                if k == "offset" { offset = n } else { length = n }
            case "checksum", "basepath":
                continue
            default:
                throw refuse("has an unknown key '\(DisplayText.escaped(k))'")
            }
        }
        guard let location, !location.isEmpty else { throw refuse("has no location") }
        let shownLocation = "'\(DisplayText.escaped(location))'"
        if location.contains("_ORT_MEM_ADDR_") {
            throw refuse("location \(shownLocation) is ONNX Runtime's in-memory marker, not a file; refused")
        }
        if location.hasPrefix("/") || location.hasPrefix("\\") || location.contains(":") && location.first!.isLetter && location.dropFirst().first == ":" {
            throw refuse("location \(shownLocation) is an absolute path; only files beside the model are read")
        }
        if location.hasPrefix("#") { throw refuse("location \(shownLocation) is not a file name") }
        let parts = location.split(whereSeparator: { $0 == "/" || $0 == "\\" })
        if parts.contains("..") {
            throw refuse("location \(shownLocation) leaves the model's directory ('..'); refused")
        }
        if location.utf8.contains(0) { throw refuse("location \(shownLocation) holds a NUL byte") }
        let file = (directory as NSString).appendingPathComponent(location)
        if let f = opened[file] { return try slice(f, offset: offset, length: length, count: count, refuse: refuse) }

        var st = stat()
        guard lstat(file, &st) == 0 else { throw refuse("file \(shownLocation) does not exist beside the model") }
        if (st.st_mode & S_IFMT) == S_IFLNK { throw refuse("file \(shownLocation) is a symbolic link; refused") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw refuse("file \(shownLocation) is not a regular file") }
        if st.st_nlink > 1 { throw refuse("file \(shownLocation) has \(st.st_nlink) hard links; refused") }
        guard let real = Self.realPath(file), real.hasPrefix(directory.hasSuffix("/") ? directory : directory + "/") else {
            throw refuse("file \(shownLocation) resolves outside the model's directory; refused")
        }
        let f = try FileSource(path: real)
        opened[file] = f
        return try slice(f, offset: offset, length: length, count: count, refuse: refuse)
    }

    private func slice(_ f: FileSource, offset: UInt64, length: UInt64?, count: Int,
                       refuse: (String) -> ModelError) throws -> any ByteSource {
        guard offset <= f.size else { throw refuse("offset \(offset) is past the end of '\(DisplayText.escaped(f.path))' (\(f.size) bytes)") }
        let available = length ?? (f.size - offset)
        guard available <= f.size - offset else {
            throw refuse("range \(offset)+\(available) runs past the end of '\(DisplayText.escaped(f.path))' (\(f.size) bytes)")
        }
        guard available >= UInt64(count) else {
            throw refuse("holds \(available) bytes, the tensor needs \(count)")
        }
        return try SliceSource(f, offset: offset, count: UInt64(count))
    }
}
