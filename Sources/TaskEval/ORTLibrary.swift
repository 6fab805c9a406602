import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// ONNX Runtime's C API, loaded at run time from a `libonnxruntime` shared library (the PyPI `onnxruntime`
/// wheel ships one under `capi/`). There is no link-time dependency and no header: the library exports
/// `OrtGetApiBase`, whose `GetApi(version)` returns the `OrtApi` function table. Members of that table are
/// only ever appended, so the slots below (0-based positions in `OrtApi`, from the C API documentation)
/// stay valid for every library newer than `apiVersion`. `selfTest` pins them: a wrong slot would fail it.
public final class ORTLibrary: @unchecked Sendable {
    /// The `OrtApi` version requested (ONNX Runtime 1.17); every slot used exists since then.
    public static let apiVersion: UInt32 = 17

    /// Slots of `OrtApi` used here.
    enum Slot: Int {
        case getErrorMessage = 2, createEnv = 3, createSession = 7, createSessionFromArray = 8, run = 9
        case createSessionOptions = 10, setIntraOpNumThreads = 24
        case sessionGetInputCount = 30, sessionGetOutputCount = 31, sessionGetInputTypeInfo = 33
        case sessionGetOutputTypeInfo = 34, sessionGetInputName = 36, sessionGetOutputName = 37
        case createTensorWithDataAsOrtValue = 49, getTensorMutableData = 51
        case castTypeInfoToTensorInfo = 55, getOnnxTypeFromTypeInfo = 56, getTensorElementType = 60
        case getDimensionsCount = 61, getDimensions = 62, getTensorTypeAndShape = 65
        case createCpuMemoryInfo = 69, allocatorFree = 76, getAllocatorWithDefaultOptions = 78
        case releaseEnv = 92, releaseStatus = 93, releaseMemoryInfo = 94, releaseSession = 95, releaseValue = 96
        case releaseTypeInfo = 98, releaseTensorTypeAndShapeInfo = 99, releaseSessionOptions = 100
    }

    typealias P = OpaquePointer
    typealias Status = OpaquePointer?
    typealias GetErrorMessageFn = @convention(c) (P?) -> UnsafePointer<CChar>?
    typealias CreateEnvFn = @convention(c) (Int32, UnsafePointer<CChar>, UnsafeMutablePointer<P?>) -> Status
    typealias CreateSessionFn = @convention(c) (P, UnsafePointer<CChar>, P, UnsafeMutablePointer<P?>) -> Status
    typealias CreateSessionFromArrayFn = @convention(c) (P, UnsafeRawPointer, Int, P, UnsafeMutablePointer<P?>) -> Status
    typealias RunFn = @convention(c) (P, P?, UnsafePointer<UnsafePointer<CChar>?>, UnsafePointer<P?>, Int,
                                      UnsafePointer<UnsafePointer<CChar>?>, Int, UnsafeMutablePointer<P?>) -> Status
    typealias CreateSessionOptionsFn = @convention(c) (UnsafeMutablePointer<P?>) -> Status
    typealias SetIntFn = @convention(c) (P, Int32) -> Status
    typealias CountFn = @convention(c) (P, UnsafeMutablePointer<Int>) -> Status
    typealias TypeInfoFn = @convention(c) (P, Int, UnsafeMutablePointer<P?>) -> Status
    typealias NameFn = @convention(c) (P, Int, P, UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> Status
    typealias CreateTensorFn = @convention(c) (P, UnsafeMutableRawPointer, Int, UnsafePointer<Int64>, Int, Int32,
                                               UnsafeMutablePointer<P?>) -> Status
    typealias GetDataFn = @convention(c) (P, UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> Status
    typealias CastFn = @convention(c) (P, UnsafeMutablePointer<P?>) -> Status
    typealias GetInt32Fn = @convention(c) (P, UnsafeMutablePointer<Int32>) -> Status
    typealias GetDimsFn = @convention(c) (P, UnsafeMutablePointer<Int64>, Int) -> Status
    typealias CreateCpuMemoryInfoFn = @convention(c) (Int32, Int32, UnsafeMutablePointer<P?>) -> Status
    typealias AllocatorFreeFn = @convention(c) (P, UnsafeMutableRawPointer?) -> Status
    typealias GetAllocatorFn = @convention(c) (UnsafeMutablePointer<P?>) -> Status
    typealias ReleaseFn = @convention(c) (P?) -> Void
    typealias GetApiFn = @convention(c) (UInt32) -> UnsafeRawPointer?
    typealias GetVersionFn = @convention(c) () -> UnsafePointer<CChar>?

    /// The library file loaded.
    public let path: String
    /// ONNX Runtime's own version string (`OrtApiBase.GetVersionString`).
    public let version: String
    private let handle: UnsafeMutableRawPointer
    private let table: UnsafePointer<UnsafeRawPointer?>
    let env: P
    let memoryInfo: P
    let allocator: P

    /// How to get the library, for every "not found" message.
    public static let installHint = "install it with `pip install onnxruntime`, or pass --ort-lib PATH (or set WEIGHTLAB_ORT_LIB) to a libonnxruntime.so"

    /// Opens the library at `path`, requests the API table and creates the process's environment.
    public init(path: String) throws {
        guard let h = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "dlopen failed"
            throw EvalError("onnxruntime: cannot load \(path): \(reason); \(Self.installHint)")
        }
        guard let sym = dlsym(h, "OrtGetApiBase") else {
            dlclose(h)
            throw EvalError("onnxruntime: \(path) has no OrtGetApiBase; is it libonnxruntime? \(Self.installHint)")
        }
        typealias GetApiBaseFn = @convention(c) () -> UnsafeRawPointer?
        let getBase = unsafeBitCast(sym, to: GetApiBaseFn.self)
        guard let base = getBase() else { dlclose(h); throw EvalError("onnxruntime: \(path): OrtGetApiBase returned nothing") }
        // struct OrtApiBase { GetApi; GetVersionString }
        let baseFns = base.assumingMemoryBound(to: UnsafeRawPointer?.self)
        guard let getApiRaw = baseFns[0], let versionRaw = baseFns[1] else {
            dlclose(h); throw EvalError("onnxruntime: \(path): OrtApiBase is empty")
        }
        let version = unsafeBitCast(versionRaw, to: GetVersionFn.self)().map { String(cString: $0) } ?? "?"
        guard let api = unsafeBitCast(getApiRaw, to: GetApiFn.self)(Self.apiVersion) else {
            dlclose(h)
            throw EvalError("onnxruntime \(version) at \(path) does not offer C API version \(Self.apiVersion) (need ONNX Runtime 1.17 or newer)")
        }
        self.path = path
        self.version = version
        handle = h
        table = api.assumingMemoryBound(to: UnsafeRawPointer?.self)

        func make<T>(_ what: String, _ body: (UnsafeMutablePointer<P?>) -> Status, _ type: T.Type = T.self) throws -> P {
            var out: P? = nil
            if let s = body(&out) {
                let msg = Self.message(table, s)
                throw EvalError("onnxruntime: \(what): \(msg)")
            }
            guard let out else { throw EvalError("onnxruntime: \(what) returned nothing") }
            return out
        }
        let table = self.table
        env = try make("CreateEnv", { out in
            "weightlab".withCString { Self.fn(table, .createEnv, CreateEnvFn.self)(3, $0, out) }   // ORT_LOGGING_LEVEL_ERROR
        }, Void.self)
        // OrtArenaAllocator = 1, OrtMemTypeDefault = 0
        memoryInfo = try make("CreateCpuMemoryInfo", { Self.fn(table, .createCpuMemoryInfo, CreateCpuMemoryInfoFn.self)(1, 0, $0) }, Void.self)
        allocator = try make("GetAllocatorWithDefaultOptions", { Self.fn(table, .getAllocatorWithDefaultOptions, GetAllocatorFn.self)($0) }, Void.self)
    }

    deinit {
        fn(.releaseMemoryInfo, ReleaseFn.self)(memoryInfo)
        fn(.releaseEnv, ReleaseFn.self)(env)
        // The handle stays open: ONNX Runtime keeps threads and statics that must not be unmapped.
    }

    static func fn<T>(_ table: UnsafePointer<UnsafeRawPointer?>, _ slot: Slot, _ type: T.Type) -> T {
        guard let p = table[slot.rawValue] else { fatalError("onnxruntime: OrtApi slot \(slot) is empty") }
        return unsafeBitCast(p, to: type)
    }

    func fn<T>(_ slot: Slot, _ type: T.Type) -> T { Self.fn(table, slot, type) }

    static func message(_ table: UnsafePointer<UnsafeRawPointer?>, _ status: P) -> String {
        let text = fn(table, .getErrorMessage, GetErrorMessageFn.self)(status).map { String(cString: $0) } ?? "unknown error"
        fn(table, .releaseStatus, ReleaseFn.self)(status)
        return text.split(separator: "\n").joined(separator: " ")
    }

    /// Throws the status's message (and releases it) when `status` is an error.
    func check(_ status: Status, _ what: String) throws {
        if let s = status { throw EvalError("onnxruntime: \(what): \(Self.message(table, s))") }
    }

    // MARK: Finding the library

    /// The library path: `explicit` (a flag), else `WEIGHTLAB_ORT_LIB`, else the `onnxruntime` Python
    /// package's `capi/libonnxruntime.so*`. nil when none is found.
    public static func locate(explicit: String? = nil,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = environment["WEIGHTLAB_ORT_LIB"], !env.isEmpty { return env }
        guard let dir = pythonPackageDirectory() else { return nil }
        let capi = (dir as NSString).appendingPathComponent("capi")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: capi)) ?? []
        let libs = names.filter { $0.hasPrefix("libonnxruntime.so") || $0 == "libonnxruntime.dylib" }.sorted { $0.count > $1.count }
        return libs.first.map { (capi as NSString).appendingPathComponent($0) }
    }

    /// `os.path.dirname(onnxruntime.__file__)` from `python3`, or nil.
    static func pythonPackageDirectory() -> String? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import onnxruntime, os; print(os.path.dirname(onnxruntime.__file__))"]
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? nil : text
    }

    nonisolated(unsafe) private static var shared: [String: ORTLibrary] = [:]
    private static let sharedLock = NSLock()

    /// Locates, loads and self-tests the library (one clear error when absent or broken), once per path per
    /// process (ONNX Runtime keeps one environment per process).
    public static func load(explicit: String? = nil) throws -> ORTLibrary {
        guard let path = locate(explicit: explicit) else {
            throw EvalError("onnxruntime: library not found; \(installHint)")
        }
        sharedLock.lock()
        defer { sharedLock.unlock() }
        if let lib = shared[path] { return lib }
        let lib = try ORTLibrary(path: path)
        try lib.selfTest()
        shared[path] = lib
        return lib
    }
}
