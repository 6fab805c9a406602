// Standalone driver for instruction counts and timings of the K-quant/IQ4 quantizers (issue 9), without a
// package build (see Benchmarks/README.md). The quantizers call the CKernels target's AVX2 kernels, so the C
// files are compiled beside them and the header is imported directly:
//   mkdir -p /tmp/kq; for f in GGMLKQuantizer GGMLScaleSearch GGMLSubBlockLanes KernelDispatch; do
//     sed -e "s/^import WeightFormats//" -e "s/^import CKernels//" Sources/Compression/$f.swift > /tmp/kq/$f.swift; done
//   cp Benchmarks/kquant_driver.swift /tmp/kq/main.swift   # top-level code must be in main.swift with several files
//   for c in Sources/CKernels/*.c; do clang -O2 -c -I Sources/CKernels/include $c -o /tmp/kq/$(basename $c .c).o; done
//   swiftc -Ounchecked -wmo -import-objc-header Sources/CKernels/include/CKernels.h /tmp/kq/*.swift /tmp/kq/*.o -o /tmp/kq/kq
//   /tmp/kq/kq TYPE ROWS KIND IMATRIX(0|1) REPEAT OUT   (REPEAT 0: data generation only, the baseline to subtract)
// WEIGHTLAB_KERNELS=portable runs the Swift paths.
import Foundation
enum GGMLGrids { static let iq4nl: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] }
// args: type rows kind imatrix(0/1) repeat outfile
let a = CommandLine.arguments
let type = a[1], rows = Int(a[2])!, kind = a[3], useIM = a[4] == "1", rep = Int(a[5])!, outPath = a[6]
let n = 4096
var s: UInt64 = 0x9E3779B97F4A7C15 &+ UInt64(kind.hashValue & 0) &+ UInt64(kind.utf8.reduce(0) { $0 &* 31 &+ Int($1) })
func next() -> Double { s ^= s >> 12; s ^= s << 25; s ^= s >> 27; return Double((s &* 2685821657736338717) >> 11) * 0x1p-53 }
func normal() -> Double { let u1 = max(next(), 0x1p-60), u2 = next(); return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2) }
var x = [Float](repeating: 0, count: rows * n)
for i in 0..<x.count {
    let g = normal()
    switch kind {
    case "normal": x[i] = Float(g)
    case "heavy": x[i] = Float(g * g * g * (next() < 0.01 ? 100 : 1))
    case "zeros": x[i] = (i / 256) % 3 == 0 ? 0 : ((i / 16) % 5 == 0 ? 0 : Float(g))
    case "tiny": x[i] = Float(g * 1e-20)
    case "huge": x[i] = Float(g * 1e30)
    case "ties": x[i] = Float((g * 4).rounded()) / 4
    case "ints": x[i] = Float((g * 20).rounded())
    case "pos": x[i] = Float(abs(g)) + 0.5
    case "mixed": let k = (i / 256) % 6; x[i] = k == 0 ? Float(g) : k == 1 ? Float(g * 1e-12) : k == 2 ? Float(g) * 1e20 : k == 3 ? Float((g * 8).rounded()) : k == 4 ? (i % 16 == 0 ? 1 : 0) : Float(g * g)
    default: fatalError()
    }
}
var im = [Float](repeating: 1, count: n)
for i in 0..<n { im[i] = i % 97 == 0 ? 0 : Float(next() * next() * 10) }
let (bs, ts, f): (Int, Int, (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutableRawPointer) -> Void) = {
    switch type {
    case "q2_k": return (256, 84, GGMLKQuantizer.q2K)
    case "q3_k": return (256, 110, GGMLKQuantizer.q3K)
    case "q4_k": return (256, 144, GGMLKQuantizer.q4K)
    case "q5_k": return (256, 176, GGMLKQuantizer.q5K)
    case "q6_k": return (256, 210, GGMLKQuantizer.q6K)
    case "iq4_nl": return (32, 18, GGMLKQuantizer.iq4NL)
    case "iq4_xs": return (256, 136, GGMLKQuantizer.iq4XS)
    default: fatalError()
    }
}()
var out = [UInt8](repeating: 0, count: rows * n / bs * ts)
@inline(never) func run(_ xp: UnsafePointer<Float>, _ ip: UnsafePointer<Float>?, _ op: UnsafeMutableRawPointer, blocks: Int, bs: Int, ts: Int,
                        _ f: (UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutableRawPointer) -> Void) {
    for b in 0..<blocks { f(xp + b * bs, ip.map { $0 + (b * bs) % 4096 }, op + b * ts) }
}
var best = 1e30
for _ in 0..<rep {
    let t0 = Date()
    x.withUnsafeBufferPointer { xp in im.withUnsafeBufferPointer { ip in out.withUnsafeMutableBytes { op in
        run(xp.baseAddress!, useIM ? ip.baseAddress! : nil, op.baseAddress!, blocks: rows * n / bs, bs: bs, ts: ts, f)
    } } }
    best = min(best, Date().timeIntervalSince(t0))
}
FileManager.default.createFile(atPath: outPath, contents: Data(out))
print(String(format: "%@ %.1f M/s", type, Double(rows * n) / best / 1e6))
