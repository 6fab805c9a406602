import Foundation

/// Reads one pickle into inert `PickleValue`s, like `torch.load(weights_only=True)` and unlike Python's
/// pickle: nothing is imported, called or instantiated. Globals resolve only through `TorchGlobal`'s closed
/// table (anything else is refused by name at GLOBAL/STACK_GLOBAL); REDUCE applies only the few rebuild
/// functions that table holds; NEWOBJ makes only inert TorchScript objects; BUILD sets state only on those
/// (and attributes of dicts, and is ignored on tensors); APPEND only on lists, SETITEM only on dicts
/// (CVE-2026-24747). INST, OBJ, the extension registry, text persistent ids and out-of-band buffers are
/// refused. Stack, memo and the values made are bounded; every length is checked against the bytes left.
///
/// Lists, dicts and objects are shared by reference (a memo GET sees later APPENDs, as in Python); a hostile
/// pickle can make them contain themselves, so the machine empties every container it made when it goes
/// away, and whoever walks the values must keep the machine alive meanwhile (`withExtendedLifetime`).
final class PickleMachine {
    static let maxStack = 1 << 20
    static let maxMemo = 1 << 20
    /// Values made in one pickle: bounds memory whatever the opcodes.
    static let maxValues = 4 << 20

    let path: String
    /// The member or part being read ("data.pkl"), for messages.
    let what: String
    let torchScript: Bool
    private var input: PickleInput
    private let persistentLoad: (PickleValue) throws -> PickleValue
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private var lists: [PickleList] = []
    private var dicts: [PickleDict] = []
    private var objects: [PickleObject] = []
    private var made = 0

    /// `persistentLoad` turns a BINPERSID id into a value (a storage) or throws a `TorchPickleError`.
    init(_ input: PickleInput, path: String, what: String, torchScript: Bool = false,
         persistentLoad: @escaping (PickleValue) throws -> PickleValue) {
        self.input = input
        self.path = path
        self.what = what
        self.torchScript = torchScript
        self.persistentLoad = persistentLoad
    }

    deinit {
        for l in lists { l.items = [] }
        for d in dicts { d.removeAll() }
        for o in objects { o.state = nil }
    }

    /// Where the input stands: after `run`, the first byte after STOP.
    var position: UInt64 { input.position }

    /// Runs to STOP and returns the pickled value.
    func run() throws -> PickleValue {
        while true {
            let at = input.position
            do {
                if let result = try step() { return result }
            } catch is PickleInput.Truncated {
                throw ModelError(path, "\(what): pickle is truncated (at byte \(at))")
            } catch let e as TorchPickleError {
                throw ModelError(path, "\(what): \(e.reason) (at byte \(at))")
            }
        }
    }

    // MARK: stack

    private func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStack else { throw TorchPickleError("pickle stack is deeper than \(Self.maxStack)") }
        made += 1
        guard made <= Self.maxValues else { throw TorchPickleError("pickle makes more than \(Self.maxValues) values") }
        stack.append(v)
    }

    private func pop() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw TorchPickleError("pickle stack underflow") }
        return stack.removeLast()
    }

    private func top() throws -> PickleValue {
        guard stack.count > (marks.last ?? 0) else { throw TorchPickleError("pickle stack underflow") }
        return stack[stack.count - 1]
    }

    /// The values pushed since the last MARK, removing the mark.
    private func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw TorchPickleError("pickle has no MARK to pop to") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }

    static let maxTupleDepth = 256

    /// A tuple, its nesting bounded (a chain of a million TUPLE1s would otherwise be released recursively).
    private func tuple(_ items: [PickleValue]) throws -> PickleValue {
        let depth = 1 + (items.map(\.tupleDepth).max() ?? 0)
        guard depth <= Self.maxTupleDepth else { throw TorchPickleError("tuples nest deeper than \(Self.maxTupleDepth) levels") }
        return .tuple(items, depth: depth)
    }

    private func newList(_ items: [PickleValue] = []) -> PickleValue {
        let l = PickleList(items)
        lists.append(l)
        return .list(l)
    }

    private func newDict() -> PickleDict {
        let d = PickleDict()
        dicts.append(d)
        return d
    }

    // MARK: memo

    private func memoPut(_ index: Int) throws {
        guard index >= 0 else { throw TorchPickleError("negative memo index") }
        if memo[index] == nil, memo.count >= Self.maxMemo { throw TorchPickleError("pickle memo holds more than \(Self.maxMemo) values") }
        memo[index] = try top()
    }

    private func memoGet(_ index: Int) throws {
        guard let v = memo[index] else { throw TorchPickleError("memo entry \(index) is not defined") }
        try push(v)
    }

    // MARK: arguments

    private func text(_ what: String) throws -> String {
        guard let line = try input.line() else { throw TorchPickleError("\(what) argument is too long") }
        var bytes = line
        if bytes.last == 0x0D { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }

    private func textInt(_ what: String) throws -> Int {
        var s = try text(what)
        if s.hasSuffix("L") { s.removeLast() }
        guard let v = Int(s) else { throw TorchPickleError("\(what) argument '\(DisplayText.escaped(s))' is not an integer") }
        return v
    }

    /// A length prefix of `count` bytes, checked against the bytes left.
    private func length(_ count: Int) throws -> Int {
        let n = try input.unsigned(count)
        guard n <= input.remaining else {
            throw TorchPickleError("declared length \(n) exceeds the \(input.remaining) bytes left")
        }
        return Int(n)
    }

    private func string(_ count: Int) throws -> String {
        String(decoding: try input.bytes(try length(count)), as: UTF8.self)
    }

    /// A little-endian two's-complement integer of `n` bytes (LONG1/LONG4).
    private func long(_ n: Int) throws -> PickleValue {
        let b = try input.bytes(n)
        if b.isEmpty { return .int(0) }
        if b.count > 8 { return .bigInt(b) }
        var v: UInt64 = 0
        for (i, x) in b.enumerated() { v |= UInt64(x) << (8 * UInt64(i)) }
        if b.count < 8, b.last! & 0x80 != 0 { v |= ~0 << (8 * UInt64(b.count)) }
        return .int(Int(Int64(bitPattern: v)))
    }

    private func global(module: String, name: String) throws -> PickleValue {
        guard let g = TorchGlobal.resolve(module: module, name: name, torchScript: torchScript) else {
            throw TorchPickleError("global '\(DisplayText.escaped(module)).\(DisplayText.escaped(name))' is not allowed (a weights-only checkpoint names only tensor, storage and container types)")
        }
        return .global(g)
    }

    // MARK: the opcodes

    /// Runs one opcode; the result at STOP.
    private func step() throws -> PickleValue? {
        let code = try input.byte()
        guard let op = PickleOpcode(rawValue: code) else {
            throw TorchPickleError("unknown pickle opcode 0x\(String(code, radix: 16))")
        }
        switch op {
        case .proto:
            let v = try input.byte()
            guard v <= 5 else { throw TorchPickleError("pickle protocol \(v) is not supported (0-5)") }
        case .frame:
            _ = try input.unsigned(8)
        case .stop:
            let v = try pop()
            guard marks.isEmpty else { throw TorchPickleError("pickle ends inside a MARK") }
            return v
        case .mark:
            guard marks.count < Self.maxStack else { throw TorchPickleError("too many MARKs") }
            marks.append(stack.count)
        case .pop:
            if stack.count > (marks.last ?? 0) { _ = try pop() } else { _ = try popMark() }
        case .popMark: _ = try popMark()
        case .dup: try push(try top())
        case .none: try push(.none)
        case .newTrue: try push(.bool(true))
        case .newFalse: try push(.bool(false))
        case .int:
            let s = try text("INT")
            if s == "00" { try push(.bool(false)) } else if s == "01" { try push(.bool(true)) } else {
                guard let v = Int(s) else { throw TorchPickleError("INT argument '\(DisplayText.escaped(s))' is not an integer") }
                try push(.int(v))
            }
        case .long: try push(.int(try textInt("LONG")))
        case .binInt: try push(.int(Int(Int32(bitPattern: UInt32(try input.unsigned(4))))))
        case .binInt1: try push(.int(Int(try input.byte())))
        case .binInt2: try push(.int(Int(try input.unsigned(2))))
        case .long1: try push(try long(Int(try input.byte())))
        case .long4:
            let n = Int32(bitPattern: UInt32(try input.unsigned(4)))
            guard n >= 0, UInt64(n) <= input.remaining else { throw TorchPickleError("LONG4 length \(n) is invalid") }
            try push(try long(Int(n)))
        case .float:
            let s = try text("FLOAT")
            guard let d = Double(s) else { throw TorchPickleError("FLOAT argument '\(DisplayText.escaped(s))' is not a number") }
            try push(.float(d))
        case .binFloat: try push(.float(Double(bitPattern: UInt64(bigEndian: try input.unsigned(8)))))
        case .binString, .binUnicode: try push(.string(try string(4)))
        case .shortBinString, .shortBinUnicode: try push(.string(try string(1)))
        case .binUnicode8: try push(.string(try string(8)))
        case .binBytes: try push(.bytes(try input.bytes(try length(4))))
        case .shortBinBytes: try push(.bytes(try input.bytes(try length(1))))
        case .binBytes8, .byteArray8: try push(.bytes(try input.bytes(try length(8))))
        case .emptyTuple: try push(try tuple([]))
        case .tuple: try push(try tuple(try popMark()))
        case .tuple1: let a = try pop(); try push(try tuple([a]))
        case .tuple2: let b = try pop(), a = try pop(); try push(try tuple([a, b]))
        case .tuple3: let c = try pop(), b = try pop(), a = try pop(); try push(try tuple([a, b, c]))
        case .emptyList, .emptySet: try push(newList())
        case .list: try push(newList(try popMark()))
        case .frozenSet: try push(try tuple(try popMark()))
        case .append:
            let v = try pop()
            guard case .list(let l) = try top() else { throw TorchPickleError("APPEND on \(try top().kind) is not allowed (only on lists)") }
            l.items.append(v)
        case .appends, .addItems:
            let items = try popMark()
            guard case .list(let l) = try top() else { throw TorchPickleError("\(op.name) on \(try top().kind) is not allowed (only on lists)") }
            l.items.append(contentsOf: items)
        case .emptyDict: try push(.dict(newDict()))
        case .dict:
            let items = try popMark()
            guard items.count % 2 == 0 else { throw TorchPickleError("DICT with an odd number of items") }
            let d = newDict()
            for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
            try push(.dict(d))
        case .setItem:
            let v = try pop(), k = try pop()
            guard case .dict(let d) = try top() else { throw TorchPickleError("SETITEM on \(try top().kind) is not allowed (only on dicts)") }
            d.set(k, v)
        case .setItems:
            let items = try popMark()
            guard items.count % 2 == 0 else { throw TorchPickleError("SETITEMS with an odd number of items") }
            guard case .dict(let d) = try top() else { throw TorchPickleError("SETITEMS on \(try top().kind) is not allowed (only on dicts)") }
            for i in stride(from: 0, to: items.count, by: 2) { d.set(items[i], items[i + 1]) }
        case .get: try memoGet(try textInt("GET"))
        case .binGet: try memoGet(Int(try input.byte()))
        case .longBinGet: try memoGet(Int(try input.unsigned(4)))
        case .put: try memoPut(try textInt("PUT"))
        case .binPut: try memoPut(Int(try input.byte()))
        case .longBinPut: try memoPut(Int(try input.unsigned(4)))
        case .memoize: try memoPut(memo.count)
        case .global:
            let module = try text("GLOBAL module"), name = try text("GLOBAL name")
            try push(try global(module: module, name: name))
        case .stackGlobal:
            let name = try pop(), module = try pop()
            guard case .string(let n) = name, case .string(let m) = module else {
                throw TorchPickleError("STACK_GLOBAL needs two strings, got \(module.kind) and \(name.kind)")
            }
            try push(try global(module: m, name: n))
        case .inst:
            let module = try text("INST module"), name = try text("INST name")
            throw TorchPickleError("INST '\(DisplayText.escaped(module)).\(DisplayText.escaped(name))' is not allowed (pickles may not create objects)")
        case .obj:
            let items = try popMark()
            let cls = items.first.map { $0.kind } ?? "nothing"
            throw TorchPickleError("OBJ of \(cls) is not allowed (pickles may not create objects)")
        case .ext1, .ext2, .ext4:
            throw TorchPickleError("\(op.name) (the copyreg extension registry) is not allowed")
        case .persID:
            throw TorchPickleError("PERSID (a text persistent id) is not allowed")
        case .nextBuffer, .readonlyBuffer:
            throw TorchPickleError("\(op.name) (out-of-band buffers) is not allowed")
        case .string, .unicode:
            throw TorchPickleError("\(op.name) (protocol-0 quoted text) is not supported")
        case .binPersID:
            let pid = try pop()
            try push(try persistentLoad(pid))
        case .reduce:
            let args = try pop(), callable = try pop()
            try push(try reduce(callable, args))
        case .newObj, .newObjEx:
            if op == .newObjEx { _ = try pop() }
            let args = try pop(), cls = try pop()
            guard case .tuple = args else { throw TorchPickleError("\(op.name) arguments are \(args.kind), not a tuple") }
            guard case .global(.scriptClass(let name)) = cls else {
                throw TorchPickleError("\(op.name) of \(cls.kind) is not allowed")
            }
            let o = PickleObject(typeName: name)
            objects.append(o)
            try push(.object(o))
        case .build:
            let state = try pop()
            switch try top() {
            case .object(let o): o.state = state
            case .dict(let d): d.attributes = state
            case .tensor: break
            default: throw TorchPickleError("BUILD on \(try top().kind) is not allowed")
            }
        }
        return nil
    }

    /// REDUCE: only the allowed callables, each turned into the value it would make.
    private func reduce(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
        guard case .global(let g) = callable else { throw TorchPickleError("REDUCE on \(callable.kind) is not allowed") }
        guard case .tuple(let args, _) = argsValue else { throw TorchPickleError("REDUCE arguments of '\(g.qualifiedName)' are \(argsValue.kind), not a tuple") }
        switch g {
        case .orderedDict:
            let d = newDict()
            if args.count == 1 {
                let pairs: [PickleValue]
                switch args[0] {
                case .list(let l): pairs = l.items
                case .tuple(let t, _): pairs = t
                default: throw TorchPickleError("collections.OrderedDict of \(args[0].kind)")
                }
                for p in pairs {
                    let kv: [PickleValue]
                    switch p {
                    case .list(let l): kv = l.items
                    case .tuple(let t, _): kv = t
                    default: kv = []
                    }
                    guard kv.count == 2 else { throw TorchPickleError("collections.OrderedDict item is not a (key, value) pair") }
                    d.set(kv[0], kv[1])
                }
            } else if !args.isEmpty {
                throw TorchPickleError("collections.OrderedDict called with \(args.count) arguments")
            }
            return .dict(d)
        case .rebuildTensor, .rebuildTensorV2, .rebuildTensorV3, .rebuildParameter, .rebuildParameterWithState, .rebuildQTensor:
            return try TorchTensorRecord.rebuild(g, args)
        case .size:
            guard args.count == 1 else { throw TorchPickleError("torch.Size called with \(args.count) arguments") }
            switch args[0] {
            case .tuple: return args[0]
            case .list(let l): return try tuple(l.items)
            default: throw TorchPickleError("torch.Size of \(args[0].kind)")
            }
        case .device:
            guard let first = args.first, case .string(let s) = first else { throw TorchPickleError("torch.device needs a string") }
            return .string(s)
        case .codecsEncode:
            guard args.count == 2, case .string(let s) = args[0], case .string(let encoding) = args[1] else {
                throw TorchPickleError("_codecs.encode needs (string, encoding)")
            }
            switch encoding.lowercased() {
            case "latin1", "latin-1", "iso-8859-1":
                var out: [UInt8] = []
                for u in s.unicodeScalars {
                    guard u.value < 256 else { throw TorchPickleError("_codecs.encode: text is not latin-1") }
                    out.append(UInt8(u.value))
                }
                return .bytes(out)
            case "utf-8", "utf8": return .bytes(Array(s.utf8))
            default: throw TorchPickleError("_codecs.encode with encoding '\(DisplayText.escaped(encoding))'")
            }
        case .buildIntlist:
            guard args.count == 1, case .list = args[0] else { throw TorchPickleError("build_intlist needs a list") }
            return args[0]
        case .storageType, .dtype, .qscheme, .scriptClass:
            throw TorchPickleError("REDUCE on '\(g.qualifiedName)' is not allowed")
        }
    }
}
