import Foundation
import WeightFormats

/// Labelled images in LeCun's IDX format (MNIST, Fashion-MNIST; Debian's `dataset-fashion-mnist` installs
/// them gzip-compressed in /usr/share/datasets/fashion-mnist). Images become Float32 in [0, 1] (byte/255)
/// with a channel axis, [samples, 1, rows, cols], so a CNN takes them as they are and an MLP starts with
/// `flatten`; labels become `labels`. Every count is checked against the bytes that exist.
public enum IDXData {
    /// The largest IDX payload read (Fashion-MNIST's training images are 47 MB).
    public static let byteLimit = 256 << 20

    /// True for a directory holding IDX files, or a file named as IDX files are (`*-idx3-ubyte[.gz]`).
    public static func handles(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            return files(in: path, split: "t10k") != nil || files(in: path, split: "train") != nil
        }
        return path.hasSuffix("-ubyte") || path.hasSuffix("-ubyte.gz")
    }

    /// The images and labels files of `split` (`train`, `t10k`) in `directory`, gzip or plain.
    static func files(in directory: String, split: String) -> (images: String, labels: String)? {
        for suffix in [".gz", ""] {
            let i = (directory as NSString).appendingPathComponent("\(split)-images-idx3-ubyte\(suffix)")
            let l = (directory as NSString).appendingPathComponent("\(split)-labels-idx1-ubyte\(suffix)")
            if FileManager.default.fileExists(atPath: i) && FileManager.default.fileExists(atPath: l) { return (i, l) }
        }
        return nil
    }

    /// A directory's `split` (the test split `t10k` by default: what `eval` measures on), or an images file
    /// with its labels file beside it (`…-images-idx3-ubyte…` → `…-labels-idx1-ubyte…`).
    public static func load(_ path: String, split: String = "t10k") throws -> EvalData {
        var isDir: ObjCBool = false
        let pair: (images: String, labels: String)
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir), isDir.boolValue {
            guard let p = files(in: path, split: split) else {
                throw EvalError("\(DisplayText.escaped(path)): no \(split)-images-idx3-ubyte[.gz] with its \(split)-labels-idx1-ubyte[.gz] here")
            }
            pair = p
        } else {
            let name = (path as NSString).lastPathComponent
            guard name.contains("images-idx3") else {
                throw EvalError("\(DisplayText.escaped(path)): give the images file (…-images-idx3-ubyte[.gz]) or its directory; the labels are found beside it")
            }
            let labels = (path as NSString).deletingLastPathComponent.isEmpty ? name.replacingOccurrences(of: "images-idx3", with: "labels-idx1")
                : ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(name.replacingOccurrences(of: "images-idx3", with: "labels-idx1"))
            pair = (path, labels)
        }
        let images = try array(pair.images)
        let labels = try array(pair.labels)
        guard images.dims.count == 3 else {
            throw EvalError("\(DisplayText.escaped(pair.images)): IDX images must be 3-D [samples, rows, cols], are \(images.dims)")
        }
        guard labels.dims.count == 1 else {
            throw EvalError("\(DisplayText.escaped(pair.labels)): IDX labels must be 1-D, are \(labels.dims)")
        }
        guard labels.dims[0] == images.dims[0] else {
            throw EvalError("\(DisplayText.escaped(pair.labels)): \(labels.dims[0]) labels for \(images.dims[0]) images in \(DisplayText.escaped(pair.images))")
        }
        let floats = images.bytes.map { Float($0) / 255 }
        let tensor = EvalTensor(shape: [images.dims[0], 1, images.dims[1], images.dims[2]], floats: floats)
        return try EvalData(inputs: ["images": tensor], labels: labels.bytes.map { Int64($0) })
    }

    /// One IDX file of unsigned bytes: its dimensions and its values.
    public static func array(_ path: String) throws -> (dims: [Int], bytes: [UInt8]) {
        let shown = DisplayText.escaped(path)
        let raw: [UInt8]
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            let size = try handle.seekToEnd()
            guard size <= UInt64(byteLimit) else { throw EvalError("\(shown): \(size) bytes, more than the \(byteLimit) an IDX file may have here") }
            try handle.seek(toOffset: 0)
            raw = [UInt8](try handle.readToEnd() ?? Data())
        } catch let e as EvalError {
            throw e
        } catch {
            throw EvalError("\(shown): cannot read the file")
        }
        let bytes: [UInt8]
        do {
            bytes = GzipFile.isGzip(raw) ? try GzipFile.inflate(raw, limit: byteLimit, path: path) : raw
        } catch let e as ModelError {
            throw EvalError(e.description)
        }
        guard bytes.count >= 4, bytes[0] == 0, bytes[1] == 0 else { throw EvalError("\(shown): not an IDX file (bad magic number)") }
        guard bytes[2] == 0x08 else {
            throw EvalError("\(shown): IDX element type 0x\(String(bytes[2], radix: 16)) is not unsigned bytes (0x08), the only type image data sets use")
        }
        let rank = Int(bytes[3])
        guard rank >= 1, rank <= 4, bytes.count >= 4 + 4 * rank else {
            throw EvalError("\(shown): IDX header with \(rank) dimensions is truncated or unsupported (1…4 dimensions)")
        }
        var dims: [Int] = []
        var count = 1
        for d in 0..<rank {
            let o = 4 + 4 * d
            let v = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dims.append(v)
            let (product, overflow) = count.multipliedReportingOverflow(by: v)
            count = overflow ? Int.max : product
        }
        let body = bytes.count - (4 + 4 * rank)
        guard count == body else {
            throw EvalError("\(shown): IDX dimensions \(dims) do not match the \(body) data bytes the file holds (truncated or corrupt)")
        }
        return (dims, Array(bytes[(4 + 4 * rank)...]))
    }
}
