/// Reads the pre-1.6 `torch.save` stream (torch/serialization.py `_legacy_save`): five pickles one after the
/// other (the magic number 0x1950a86a20f9469cfc6c, the protocol version 1001, `sys_info`, the object with
/// persistent ids `('storage', type, key, location, numel, view_metadata)`, the sorted list of storage keys),
/// then for each listed key an int64 little-endian element count and that many elements of raw storage.
/// Every pickle is read by `PickleMachine` (nothing runs); big-endian files are refused, as Netron does.
/// Not a row of its own in `ModelReaders.all`: users know one "PyTorch" format, so `TorchZipReader`'s row
/// sniffs both and hands legacy files here.
public enum TorchLegacyReader {
    /// PROTO 2, LONG1 of 10 bytes, the magic number: how `_legacy_save` starts every file.
    static let signature: [UInt8] = [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8, 0x50, 0x19]

    public static func sniff(head: [UInt8], name: String) -> SniffMatch? {
        head.starts(with: signature) ? .signature : nil
    }

    public static func open(_ path: String) throws -> Model {
        try open(try FileSource(path: path))
    }

    public static func open(_ file: FileSource) throws -> Model {
        let path = file.path
        var position: UInt64 = 0
        var declared: [String: TorchStorageRef] = [:]
        func next(_ what: String, _ body: (PickleValue) throws -> Void) throws {
            let machine = PickleMachine(PickleInput(file, start: position), path: path, what: what) { _ in
                throw TorchPickleError("unexpected persistent id")
            }
            try withExtendedLifetime(machine) {
                let value = try machine.run()
                position = machine.position
                do { try body(value) } catch let e as TorchPickleError {
                    throw ModelError(path, "\(what): \(e.reason)")
                }
            }
        }
        try next("magic number") { v in
            guard case .bigInt(let b) = v, b == Array(signature[4...]) else {
                throw TorchPickleError("not a PyTorch file (wrong magic number)")
            }
        }
        try next("protocol version") { v in
            guard case .int(1001) = v else { throw TorchPickleError("protocol version is not 1001") }
        }
        try next("sys_info") { v in
            guard case .dict(let d) = v else { throw TorchPickleError("sys_info is \(v.kind), not a dict") }
            let little = d.entries.first { if case .string("little_endian") = $0.key { true } else { false } }?.value
            guard case .bool(true) = little else { throw TorchPickleError("the file was written on a big-endian machine, which is not supported") }
        }
        var found: [(name: String, record: TorchTensorRecord)] = []
        do {
            // The object's containers must outlive the walk; the storage keys come next.
            let machine = PickleMachine(PickleInput(file, start: position), path: path, what: "pickle") { pid in
                let ref = try TorchStorageRef.parse(pid)
                if let seen = declared[ref.key], seen.element != ref.element {
                    throw TorchPickleError("storage '\(DisplayText.escaped(ref.key))' is declared as both \(seen.element.name) and \(ref.element.name)")
                }
                if (declared[ref.key]?.elementCount ?? -1) < ref.elementCount { declared[ref.key] = ref }
                return .storage(ref)
            }
            try withExtendedLifetime(machine) {
                let root = try machine.run()
                position = machine.position
                do { found = try TorchStateWalk.tensors(in: root) } catch let e as TorchPickleError {
                    throw ModelError(path, "pickle: \(e.reason)")
                }
            }
        }
        var keys: [String] = []
        try next("storage keys") { v in
            guard case .list(let l) = v else { throw TorchPickleError("storage keys are \(v.kind), not a list") }
            for item in l.items {
                guard case .string(let k) = item else { throw TorchPickleError("a storage key is \(item.kind)") }
                keys.append(k)
            }
        }
        var storages: [String: any ByteSource] = [:]
        var starts: [String: UInt64] = [:]
        for key in keys {
            let shown = DisplayText.escaped(key)
            guard let ref = declared[key] else { throw ModelError(path, "storage '\(shown)' is listed but no tensor uses it") }
            guard storages[key] == nil else { throw ModelError(path, "storage '\(shown)' is listed twice") }
            guard file.size - position >= 8 else { throw ModelError(path, "file is truncated: storage '\(shown)' is missing") }
            var countInput = PickleInput(file, start: position)
            let count = try countInput.unsigned(8)
            let (bytes, o) = count.multipliedReportingOverflow(by: UInt64(ref.element.byteSize))
            guard !o, bytes <= file.size - position - 8 else {
                throw ModelError(path, "storage '\(shown)' declares \(count) \(ref.element.name) elements but the file holds only \(file.size - position - 8) more bytes")
            }
            starts[key] = position + 8
            storages[key] = try SliceSource(file, offset: position + 8, count: bytes)
            position += 8 + bytes
        }
        let checkpoint = TorchCheckpoint(path: path, byteOrder: .little, storages: storages,
                                         describe: { key in "the stream's storage '\(DisplayText.escaped(key))' at byte \(starts[key] ?? 0)" })
        let built = try checkpoint.tensors(found)
        return Model(path: path, format: .pytorch, metadata: [("torch.format", .string("legacy (pre-1.6) pickle stream"))] + built.metadata,
                     tensors: built.tensors)
    }
}
