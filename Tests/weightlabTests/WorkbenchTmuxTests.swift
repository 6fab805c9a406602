import Foundation
import Testing
import TestSupport

/// Drives the real binary in a real terminal: a detached tmux session (its own server socket, so parallel
/// runs cannot meet), keys sent with `send-keys`, the screen read with `capture-pane`.
@Suite(.serialized)
struct WorkbenchTmuxTests {
    final class Tmux {
        let socket = "weightlab-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"

        /// Runs a tmux client with posix_spawn and waitpid. Foundation's Process is not used: the server that
        /// `new-session` starts inherits the client's descriptors, and Process waits on them.
        @discardableResult
        func tmux(_ args: [String]) throws -> String {
            let outPath = NSTemporaryDirectory() + "/\(socket)-\(UInt32.random(in: 0...UInt32.max)).out"
            defer { unlink(outPath) }
            let argv = ["tmux", "-L", socket, "-f", "/dev/null"] + args
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_addopen(&actions, 1, ["capture-pane", "display-message"].contains(args.first) ? outPath : "/dev/null",
                                             O_WRONLY | O_CREAT | O_TRUNC, 0o600)
            posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
            // Default dispositions and an empty mask for the tmux server and everything under it: the test
            // runner's own ignored or blocked signals must not leak into the program under test.
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            var all = sigset_t(), none = sigset_t()
            sigfillset(&all)
            sigemptyset(&none)
            posix_spawnattr_setsigdefault(&attributes, &all)
            posix_spawnattr_setsigmask(&attributes, &none)
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
            var cArgs = argv.map { strdup($0) } + [nil]
            defer { for a in cArgs { free(a) } }
            var pid: pid_t = 0
            let rc = posix_spawnp(&pid, "tmux", &actions, &attributes, &cArgs, environ)
            guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .ENOENT) }
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            return (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        }

        func screen() throws -> String { try tmux(["capture-pane", "-p", "-t", "wl"]) }
        func keys(_ keys: String...) throws { try tmux(["send-keys", "-t", "wl"] + keys) }

        /// Polls the screen until `done` holds (up to `seconds`); returns the last screen either way.
        func wait(_ seconds: Double = 15, until done: (String) -> Bool) throws -> String {
            let deadline = Date().addingTimeInterval(seconds)
            var last = ""
            while Date() < deadline {
                last = try screen()
                if done(last) { return last }
                usleep(50_000)
            }
            return last
        }

        /// Waits until the screen has stopped changing (the same for half a second) and `done` holds: after
        /// a burst of keys, "changed" can be any state along the way, "still" is where the keys led.
        func settle(_ seconds: Double = 15, until done: (String) -> Bool = { _ in true }) throws -> String {
            let deadline = Date().addingTimeInterval(seconds)
            var last = try screen(), since = Date()
            while Date() < deadline {
                usleep(100_000)
                let now = try screen()
                if now != last { last = now; since = Date(); continue }
                if Date().timeIntervalSince(since) >= 0.5 && done(now) { return now }
            }
            return last
        }

        deinit { _ = try? tmux(["kill-server"]) }
    }

    /// The model totals line: "<original> → <compressed> (×ratio) · … · SQNR …".
    static func statusLine(_ screen: String) -> String? {
        screen.split(separator: "\n").map(String.init).last { $0.contains("bits/w") && $0.contains("SQNR") }
    }

    /// The totals once every number is exact: no "~" estimate and no background work named.
    static func settledStatus(_ screen: String) -> String? {
        guard let s = statusLine(screen), !s.contains("~"), !s.contains("evaluating"), !s.contains("analysing") else { return nil }
        return s
    }

    static let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"

    /// Starts the workbench at 120 × 40 on the example with a `--plan` path that does not exist yet; returns the
    /// first screen whose totals are settled.
    static func openExample(_ t: Tmux, newPlan planPath: String) throws -> String {
        try t.tmux(["new-session", "-d", "-s", "wl", "-x", "120", "-y", "40",
                    "LANG=C.UTF-8 '\(CommandRunner.executable)' '\(example)' --plan '\(planPath)'; sleep 60"])
        return try t.wait { $0.contains("new plan") && Self.settledStatus($0) != nil }
    }

    /// `report --format json` of the saved plan gives the SQNR and bits per weight the status line `shown` showed.
    static func expectReport(of planPath: String, on example: String, toShow shown: String) throws {
        let report = try CommandRunner.run(["report", example, "--plan", planPath, "--format", "json"])
        #expect(report.status == 0, "\(report.stderr)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(report.stdout.utf8)) as? [String: Any])
        let total = try #require(json["total"] as? [String: Any])
        let sqnr = try #require(total["sqnr_db"] as? Double)
        let bits = try #require(total["bits_per_weight"] as? Double)
        #expect(shown.contains(String(format: "SQNR %.1f dB", sqnr)), "screen: \(shown), report SQNR \(sqnr)")
        #expect(shown.contains(String(format: "%.2f bits/w", bits)), "screen: \(shown), report \(bits) bits/w")
    }

    @Test func openTuneHelpResizeQuit() throws {
        let t = Tmux()
        let command = "cd '\(Fixtures.repositoryRoot)' && LANG=C.UTF-8 '\(CommandRunner.executable)'; "
            + "echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon -e echo -e -echo | tr '\\n' ' '; echo; sleep 60"
        try t.tmux(["new-session", "-d", "-s", "wl", "-x", "120", "-y", "40", command])

        // Opens on the example, nothing compressed yet.
        var screen = try t.wait { $0.contains("silero_vad_16k.safetensors") && Self.settledStatus($0)?.contains("SQNR exact") == true }
        let initial = try #require(Self.settledStatus(screen), "no status line:\n\(screen)")
        #expect(initial.contains("(×1.00)"))

        // Move down to an LSTM matrix, choose integer quantization: size and SQNR change.
        for _ in 0..<9 { try t.keys("j") }
        try t.keys("f")
        screen = try t.wait { Self.settledStatus($0).map { !$0.contains("SQNR exact") } ?? false }
        let afterInt = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        #expect(afterInt != initial, "status unchanged:\n\(screen)")

        // Fewer bits, then raise them again: each step changes the totals.
        try t.keys("-", "-", "-", "-")
        screen = try t.wait { Self.settledStatus($0).map { $0 != afterInt } ?? false }
        let atFour = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        #expect(atFour != afterInt)
        try t.keys("+")
        screen = try t.wait { Self.settledStatus($0).map { $0 != atFour } ?? false }
        let atFive = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        #expect(atFive != atFour, "raising the bits changed nothing:\n\(screen)")

        // Help is generated from the keymap.
        try t.keys("?")
        screen = try t.wait { $0.contains("generated from the keymap") && $0.contains("save the plan") }
        #expect(screen.contains("generated from the keymap"))
        #expect(screen.contains("save the plan"))
        try t.keys("Escape")

        // Too small, then back.
        try t.tmux(["resize-window", "-t", "wl", "-x", "40", "-y", "12"])
        screen = try t.wait { $0.contains("too small") }
        let size = try t.tmux(["display-message", "-p", "-t", "wl", "#{window_width}x#{window_height}"])
        #expect(screen.contains("terminal too small"), "at \(size):\n\(screen)")
        try t.tmux(["resize-window", "-t", "wl", "-x", "120", "-y", "40"])
        screen = try t.wait { Self.settledStatus($0) != nil }
        #expect(Self.settledStatus(screen) == atFive)

        // Quit: with unsaved edits `q` asks first (issue 12, item 5); a second `q` quits with exit code 0
        // and the shell's terminal modes back.
        try t.keys("q")
        screen = try t.wait { $0.contains("unsaved edits") }
        #expect(screen.contains("q again quits without saving"), "after q:\n\(screen)")
        try t.keys("q")
        screen = try t.wait { $0.contains("EXIT=") && ($0.contains("icanon") ) }
        #expect(screen.contains("EXIT=0"), "after q:\n\(screen)")
        #expect(screen.contains("icanon") && !screen.contains("-icanon"), "terminal modes not restored:\n\(screen)")
        #expect(screen.contains("echo") && !screen.contains("-echo"))
    }

    /// `w` writes the plan (to a new `--plan` path here); `report` on it prints the totals the screen showed.
    @Test func savedPlanReportsWhatTheScreenShowed() throws {
        let t = Tmux()
        let dir = try TemporaryDirectory()
        let planPath = dir.path + "/new-plan.json", example = Self.example
        var screen = try Self.openExample(t, newPlan: planPath)
        #expect(screen.contains("new plan: w saves it to"), "\(screen)")
        for _ in 0..<9 { try t.keys("j") }
        try t.keys("f", "-", "-", "-", "-")    // int4 per channel on lstm_cell.weight_ih
        screen = try t.wait { Self.settledStatus($0).map { !$0.contains("SQNR exact") } ?? false }
        let shown = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        try t.keys("w")
        screen = try t.wait { $0.contains("saved plan") }
        #expect(FileManager.default.fileExists(atPath: planPath))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0 != "new-plan.json" }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")

        try Self.expectReport(of: planPath, on: example, toShow: shown)
    }

    /// Issue 11's budget mode in a real terminal: `T` hands every matrix to the solver, `<` moves the target
    /// down the frontier (the totals follow), `!` pins the focused layer (its setting stays while the target
    /// moves; without the pin these steps change it), and the plan `w` saves gives in `report` the totals the screen showed.
    @Test func budgetModeMovesTheTargetAndSavesTheSolvedPlan() throws {
        let t = Tmux()
        let dir = try TemporaryDirectory()
        let planPath = dir.path + "/budget-plan.json", example = Self.example
        var screen = try Self.openExample(t, newPlan: planPath)
        try t.keys("T")
        screen = try t.wait { $0.contains("budget mode") && $0.contains("point ") }
        let top = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        #expect(top.contains("32.00 bits/w"), "budget mode starts at the exact end of the frontier: \(top)")

        // Down the frontier: the totals change and every matrix gets an integer setting.
        for _ in 0..<25 { try t.keys("<") }
        screen = try t.settle { Self.settledStatus($0) != nil }
        let moved = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        #expect(moved != top, "the target did not move:\n\(screen)")
        func row(_ name: String, in screen: String) -> String? {
            // Its cells, without the padding (the method column widens with the widest setting shown).
            screen.split(separator: "\n").first { $0.dropFirst(2).hasPrefix(name + " ") }
                .map { $0.split(separator: " ").joined(separator: " ") }
        }
        let lstm = try #require(row("lstm_cell.weight_ih", in: screen), "\(screen)")
        #expect(lstm.contains(" int"), "the solver left a matrix uncompressed: \(lstm)")

        // Pin stft_conv.weight (the focused first row, which the next steps down would change), then go
        // further down: its row stays as it was while the totals move.
        try t.keys("!")
        screen = try t.settle { Self.settledStatus($0) != nil }
        let pinned = try #require(row("stft_conv.weight", in: screen), "\(screen)")
        #expect(pinned.contains(" int"), "\(pinned)")
        for _ in 0..<6 { try t.keys("<") }
        screen = try t.settle { Self.settledStatus($0) != nil }
        let shown = try #require(Self.settledStatus(screen), "not settled:\n\(screen)")
        #expect(shown != moved, "the target did not move after pinning:\n\(screen)")
        let stillPinned = try #require(row("stft_conv.weight", in: screen), "\(screen)")
        #expect(stillPinned == pinned, "the pinned row changed: \(pinned) → \(stillPinned)")

        try t.keys("w")
        screen = try t.wait { $0.contains("saved plan") }
        #expect(FileManager.default.fileExists(atPath: planPath), "\(screen)")
        try Self.expectReport(of: planPath, on: example, toShow: shown)
    }

    /// Issue 12, items 2 and 4: a plan opened in the workbench says which tensors its default skipped and why
    /// (and repeats it on stderr after quitting); a rule that matches nothing is a warning, not a refusal.
    @Test func openedPlanNamesSkippedTensors() throws {
        let t = Tmux()
        let dir = try TemporaryDirectory()
        let plan = try dir.write("travel.json", text: #"{"version": 1, "default": {"quantize": {"format": "int", "bits": 8}}, "rules": [{"match": "LayerNorm", "quantize": {"format": "none"}}]}"#)
        let example = Fixtures.repositoryRoot + "/Examples/silero-vad/silero_vad_16k.safetensors"
        try t.tmux(["new-session", "-d", "-s", "wl", "-x", "200", "-y", "40",
                    "LANG=C.UTF-8 '\(CommandRunner.executable)' '\(example)' --plan '\(plan)'; echo EXIT=$?; sleep 60"])
        var screen = try t.wait { $0.contains("warning") }
        #expect(screen.contains("rules[0].match") && screen.contains("matches no tensor"), "\(screen)")
        try t.keys("q")
        screen = try t.wait { $0.contains("EXIT=") }
        #expect(screen.contains("EXIT=0"), "\(screen)")
        #expect(screen.contains("default skipped conv1.bias"), "\(screen)")
    }

    /// SIGINT, SIGTERM and SIGHUP sent to the program (not to the shell around it) restore the terminal.
    @Test(arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalsRestoreTheTerminal(_ signal: Int32) throws {
        let t = Tmux()
        let command = "cd '\(Fixtures.repositoryRoot)' && '\(CommandRunner.executable)'; "
            + "echo EXIT=$?; stty -a | tr ' ;' '\\n\\n' | grep -x -e icanon -e -icanon | tr '\\n' ' '; echo; sleep 60"
        try t.tmux(["new-session", "-d", "-s", "wl", "-x", "100", "-y", "30", command])
        _ = try t.wait { Self.statusLine($0) != nil }
        let shell = try #require(Int32(try t.tmux(["display-message", "-p", "-t", "wl", "#{pane_pid}"])
            .trimmingCharacters(in: .whitespacesAndNewlines)))
        let children = try String(contentsOfFile: "/proc/\(shell)/task/\(shell)/children", encoding: .utf8)
        let app = try #require(children.split(separator: " ").first.flatMap { Int32($0) })
        kill(app, signal)
        let screen = try t.wait { $0.contains("EXIT=") && $0.contains("icanon") }
        #expect(screen.contains("EXIT=\(128 + signal)"), "after signal \(signal):\n\(screen)")
        #expect(screen.contains("icanon") && !screen.contains("-icanon"), "terminal modes not restored:\n\(screen)")
    }

    /// Issue 10: the workbench opens an ONNX model with already-quantized weights (QDQ int4/int8 and
    /// MatMulNBits); left as they are they cost what the file stores, so the totals start at ×1.00, and
    /// quantizing a layer changes them.
    @Test func opensAnONNXModelWithQuantizedWeights() throws {
        let t = Tmux()
        let model = Fixtures.path("onnx/quantized.onnx")
        try t.tmux(["new-session", "-d", "-s", "wl", "-x", "160", "-y", "40",
                    "LANG=C.UTF-8 '\(CommandRunner.executable)' '\(model)'; echo EXIT=$?; sleep 60"])
        var screen = try t.wait { $0.contains("w_int4_block16") && Self.settledStatus($0) != nil }
        let initial = try #require(Self.settledStatus(screen), "no status line:\n\(screen)")
        #expect(initial.contains("(×1.00)"), "\(initial)")
        try t.keys("f")
        screen = try t.wait { Self.settledStatus($0).map { $0 != initial } ?? false }
        #expect(Self.settledStatus(screen) != initial, "quantizing changed nothing:\n\(screen)")
        try t.keys("q")
        screen = try t.wait { $0.contains("unsaved edits") || $0.contains("EXIT=") }
        if !screen.contains("EXIT=") { try t.keys("q") }
        screen = try t.wait { $0.contains("EXIT=") }
        #expect(screen.contains("EXIT=0"), "\(screen)")
    }

    /// The task line (`--eval-data`): the plan the workbench opens with is measured in the background (the
    /// generator's int4 accuracy, taskeval/reference.json), and an edit is measured again with the previous
    /// plan's value kept beside it.
    @Test func taskLineFollowsThePlan() throws {
        let t = Tmux()
        let dir = try TemporaryDirectory()
        let arch = try dir.write("mlp.json", text: #"{"kind": "mlp", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "linear", "name": "fc2"}]}"#)
        let root = try #require(try Fixtures.json("taskeval/reference.json") as? [String: Any])
        let int4 = try #require((root["classifier"] as? [String: Any])?["int4_g128"] as? [String: Any])
        let accuracy = "acc " + String(format: "%.1f%%", (int4["accuracy"] as! Double) * 100)
        try t.tmux(["new-session", "-d", "-s", "wl", "-x", "200", "-y", "40",
                    "LANG=C.UTF-8 '\(CommandRunner.executable)' '\(Fixtures.path("taskeval/classifier.onnx"))' --plan '\(Fixtures.path("taskeval/plan_int4_g128.json"))'"
                    + " --eval-data '\(Fixtures.path("taskeval/classifier_data.npz"))' --arch '\(arch)'; echo EXIT=$?; sleep 60"])
        var screen = try t.wait(30) { Self.statusLine($0)?.contains(accuracy + " (original") == true }
        #expect(Self.statusLine(screen)?.contains(accuracy + " (original") == true, "\(screen)")
        try t.keys("p")
        screen = try t.wait(30) { Self.statusLine($0)?.contains("(was " + accuracy.dropFirst(4)) == true }
        #expect(Self.statusLine(screen)?.contains("(was " + accuracy.dropFirst(4)) == true, "\(screen)")
        try t.keys("q")
        screen = try t.wait { $0.contains("unsaved edits") || $0.contains("EXIT=") }
        if !screen.contains("EXIT=") { try t.keys("q") }
        screen = try t.wait { $0.contains("EXIT=") }
        #expect(screen.contains("EXIT=0"), "\(screen)")
    }
}
