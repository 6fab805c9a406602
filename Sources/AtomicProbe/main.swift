import Foundation
import WeightFormats

// A child process for the AtomicFile test (WeightFormatsTests.AtomicFileTests): it writes a file slowly
// through AtomicFile so the test can SIGKILL it mid-write and check what a reader of the target sees.
//
//   weightlab-atomic-probe <target> <chunks> <delay-ms>
//
// Writes <chunks> chunks of 64 KiB of the byte 0xAB, each flushed to the temporary file, sleeping
// <delay-ms> between them, and prints "started" once the first chunk is in the temporary file.

let arguments = CommandLine.arguments
guard arguments.count == 4, let chunks = Int(arguments[2]), let delay = UInt32(arguments[3]) else {
    FileHandle.standardError.write(Data("usage: weightlab-atomic-probe <target> <chunks> <delay-ms>\n".utf8))
    exit(2)
}
do {
    let chunk = [UInt8](repeating: 0xAB, count: 64 << 10)
    try AtomicFile.write(to: arguments[1], overwrite: true) { sink in
        for i in 0..<chunks {
            try sink.write(chunk)
            try sink.flush()
            if i == 0 {
                FileHandle.standardOutput.write(Data("started\n".utf8))   // unbuffered: the test waits for it
            }
            usleep(delay * 1000)
        }
    }
    FileHandle.standardOutput.write(Data("finished\n".utf8))
} catch {
    FileHandle.standardError.write(Data("weightlab-atomic-probe: \(error)\n".utf8))
    exit(1)
}
