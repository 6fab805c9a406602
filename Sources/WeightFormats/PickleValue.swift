/// A value the pickle machine builds. Only data: nothing here can be called, imported or instantiated.
/// Globals are symbols from a closed table (`TorchGlobal`); objects of TorchScript classes are a class name
/// and the state BUILD gave them; tensors and storages are records that point into the archive.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer longer than 8 bytes (LONG1/LONG4), little-endian two's complement as stored.
    case bigInt([UInt8])
    case float(Double)
    case string(String)
    case bytes([UInt8])
    /// `depth`: how many tuples nest here (a list, dict or object counts 0). Tuples are values, released
    /// recursively, so the machine bounds this depth; shared containers are emptied when it goes away.
    case tuple([PickleValue], depth: Int)
    case list(PickleList)
    case dict(PickleDict)
    case global(TorchGlobal)
    case object(PickleObject)
    case storage(TorchStorageRef)
    case tensor(TorchTensorRecord)

    var tupleDepth: Int {
        if case .tuple(_, let d) = self { return d }
        return 0
    }

    /// In words, for messages ("a string", "a list").
    var kind: String {
        switch self {
        case .none: "None"
        case .bool: "a bool"
        case .int, .bigInt: "an integer"
        case .float: "a float"
        case .string: "a string"
        case .bytes: "bytes"
        case .tuple: "a tuple"
        case .list: "a list"
        case .dict: "a dict"
        case .global(let g): "'\(g.qualifiedName)'"
        case .object(let o): "an object of '\(o.typeName)'"
        case .storage: "a storage"
        case .tensor: "a tensor"
        }
    }
}

/// A list (or set: sets are read as lists), shared by reference as in Python so that APPEND after a
/// memo PUT is seen through every reference.
final class PickleList {
    var items: [PickleValue]
    init(_ items: [PickleValue] = []) { self.items = items }
}

/// A dict or OrderedDict: entries in insertion order, a repeated string or integer key replacing the value
/// in place, as Python does. `attributes` holds what BUILD set on it (OrderedDict's `_metadata`), kept apart
/// from the entries.
final class PickleDict {
    private(set) var entries: [(key: PickleValue, value: PickleValue)] = []
    private var index: [String: Int] = [:]
    var attributes: PickleValue?

    func set(_ key: PickleValue, _ value: PickleValue) {
        let k: String?
        switch key {
        case .string(let s): k = "s" + s
        case .int(let i): k = "i" + String(i)
        default: k = nil
        }
        if let k, let at = index[k] {
            entries[at].value = value
            return
        }
        if let k { index[k] = entries.count }
        entries.append((key, value))
    }

    func removeAll() {
        entries = []
        index = [:]
        attributes = nil
    }
}

/// An instance of a TorchScript class (`__torch__.…`) made by NEWOBJ: its class name and the state BUILD
/// gave it. No class is looked up or run; the state is only walked for tensors.
final class PickleObject {
    let typeName: String
    var state: PickleValue?
    init(typeName: String) { self.typeName = typeName }
}
