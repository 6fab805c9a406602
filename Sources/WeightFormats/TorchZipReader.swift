import Foundation

/// Reads a `torch.save` zip archive (PyTorch ≥ 1.6, and Hugging Face's `pytorch_model.bin`): one top
/// folder of any name (`archive/`, or the file's base name) holding `data.pkl` (the pickled state dict),
/// one `data/<key>` record per storage, `version`, and optionally `byteorder` (`little` when absent). The
/// pickle is read by `PickleMachine` (nothing runs); records are usually stored and 64-byte aligned (read in
/// place), ZIP64 is honoured (`ZipArchive`). A TorchScript archive (`constants.pkl`, `code/`) is the same
/// container: its tensors are found the same way (objects' attributes, `constants.pkl`), and its code is
/// never run. This row also takes the legacy pre-1.6 stream (`TorchLegacyReader`), recognised by its magic.
public enum TorchZipReader: ModelReader {
    public static let name = "PyTorch"
    public static let fileExtensions = [".pth", ".pt", ".bin", ".ckpt", ".jit"]

    /// Bound on a pickle held in memory: real state dicts pickle to kilobytes or a few megabytes.
    static let maxPickleBytes: UInt64 = 64 << 20
    /// torch stores records uncompressed; a deflated member that claims to grow more than this is refused
    /// before it is inflated (Keras' "shape bomb" rule).
    static let maxInflationRatio: UInt64 = 100

    /// Record names torch writes under its folder; the first entry of a `torch.save` zip is `data.pkl`, of a
    /// TorchScript archive usually `data/0`.
    static func isTorchRecord(_ name: String) -> Bool {
        guard let slash = name.firstIndex(of: "/") else { return false }
        let record = name[name.index(after: slash)...]
        return record == "data.pkl" || record == "version" || record == "byteorder" || record == "constants.pkl"
            || record.hasPrefix("data/") || record.hasPrefix(".data/")
    }

    /// A zip whose first entry is a torch record under one folder (`archive/data.pkl`), the legacy stream's
    /// magic, or, when the entry name does not fit in the sniffed bytes, a zip named like a checkpoint.
    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        if TorchLegacyReader.sniff(head: head, name: name) != nil { return .signature }
        guard head.count >= 30, head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else { return nil }
        let nameLength = Int(head[26]) | Int(head[27]) << 8
        let available = head.count - 30
        if nameLength <= available {
            return isTorchRecord(String(decoding: head[30..<(30 + nameLength)], as: UTF8.self)) ? .signature : nil
        }
        return fileExtensions.contains { name.hasSuffix($0) } ? .signature : nil
    }

    public static func open(_ path: String) throws -> Model {
        try open(try FileSource(path: path))
    }

    public static func open(_ file: FileSource) throws -> Model {
        let path = file.path
        let head = try file.bytes(at: 0, count: Int(min(file.size, UInt64(TorchLegacyReader.signature.count))))
        if TorchLegacyReader.sniff(head: head, name: path) != nil { return try TorchLegacyReader.open(file) }
        if file.size >= 8, try file.bytes(at: 0, count: 8) == Array("PYTORCH1".utf8) {
            throw ModelError(path, "a pre-1.0 PyTorch preview archive (PYTORCH1), which is not supported")
        }
        let archive = try ZipArchive.open(file)
        guard let first = archive.entries.first else { throw ModelError(path, "zip archive holds no entries") }
        let folder = first.name.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let prefix = first.name.contains("/") ? folder + "/" : ""
        var records: [String: ZipArchive.Entry] = [:]
        for e in archive.entries {
            guard e.name.hasPrefix(prefix) else {
                throw ModelError(path, "zip entry '\(DisplayText.escaped(e.name))' lies outside the archive's folder '\(DisplayText.escaped(folder))'")
            }
            records[String(e.name.dropFirst(prefix.count))] = e
        }
        guard let pickle = records["data.pkl"], !pickle.isDirectory else {
            throw ModelError(path, "PyTorch archive has no data.pkl")
        }
        var byteOrder = ByteOrder.little
        if let order = records["byteorder"] {
            let text = String(decoding: try order.prefix(16), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            switch text {
            case "little": byteOrder = .little
            case "big": byteOrder = .big
            default: throw ModelError(path, "byteorder record says '\(DisplayText.escaped(text))', not little or big")
            }
        }
        let isScript = records["constants.pkl"] != nil || records.keys.contains { $0.hasPrefix("code/") }
        var storages: [String: any ByteSource] = [:]
        var constantStorages: [String: any ByteSource] = [:]
        for (name, e) in records where !e.isDirectory {
            if let inflated = e.source as? InflatedMemberSource, inflated.size > maxInflationRatio * max(inflated.compressedSize, 1),
               inflated.size > 1 << 20 {
                throw ModelError(path, "member '\(DisplayText.escaped(e.name))' would inflate \(inflated.compressedSize) bytes to \(inflated.size) (a zip bomb?)")
            }
            if name.hasPrefix("data/") { storages[String(name.dropFirst(5))] = e.source }
            if name.hasPrefix("constants/") { constantStorages[String(name.dropFirst(10))] = e.source }
        }
        let checkpoint = TorchCheckpoint(path: path, byteOrder: byteOrder, storages: storages,
                                         describe: { "record '\(DisplayText.escaped(prefix))data/\(DisplayText.escaped($0))'" })
        var found = try tensors(in: pickle, what: prefix + "data.pkl", path: path, torchScript: isScript)
        var metadata: [(key: String, value: MetadataValue)] = [
            ("torch.archive", .string(folder)),
            ("torch.byteorder", .string(byteOrder == .big ? "big" : "little")),
        ]
        if let version = records["version"] ?? records[".data/version"] {
            let text = String(decoding: try version.prefix(32), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            metadata.append(("torch.version", .string(text)))
        }
        var built = try checkpoint.tensors(found)
        if isScript {
            metadata.append(("torchscript", .string("weights only: the archive's code is not run")))
            if let constants = records["constants.pkl"] {
                found = try tensors(in: constants, what: prefix + "constants.pkl", path: path, torchScript: true)
                let c = TorchCheckpoint(path: path, byteOrder: byteOrder, storages: constantStorages,
                                        describe: { "record '\(DisplayText.escaped(prefix))constants/\(DisplayText.escaped($0))'" })
                let more = try c.tensors(found.map { ("constants." + $0.name, $0.record) })
                built.tensors += more.tensors
                built.metadata += more.metadata
            }
        }
        return Model(path: path, format: isScript ? .torchScript : .pytorch, metadata: metadata + built.metadata,
                     tensors: built.tensors)
    }

    /// Runs one pickle record and collects its tensors.
    static func tensors(in entry: ZipArchive.Entry, what: String, path: String,
                        torchScript: Bool) throws -> [(name: String, record: TorchTensorRecord)] {
        guard entry.source.size <= maxPickleBytes else {
            throw ModelError(path, "\(DisplayText.escaped(what)) is \(entry.source.size) bytes (at most \(maxPickleBytes) are read)")
        }
        let machine = PickleMachine(PickleInput(entry.source), path: path, what: DisplayText.escaped(what),
                                    torchScript: torchScript) { pid in .storage(try TorchStorageRef.parse(pid)) }
        return try withExtendedLifetime(machine) {
            let root = try machine.run()
            do {
                return try TorchStateWalk.tensors(in: root)
            } catch let e as TorchPickleError {
                throw ModelError(path, "\(DisplayText.escaped(what)): \(e.reason)")
            }
        }
    }
}

extension ModelFormat {
    public static let pytorch = ModelFormat(rawValue: "pytorch")
    public static let torchScript = ModelFormat(rawValue: "torchscript")
}
