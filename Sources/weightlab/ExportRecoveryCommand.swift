import ArgumentParser
import Compression
import Foundation
import WeightFormats

/// `weightlab export-recovery`: for models too big to fine-tune here, the compressed weights, masks, plan
/// and a generated `recover.py` for the user's own PyTorch (`RecoveryExport` does the work).
struct ExportRecovery: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-recovery",
        abstract: "Write what your own PyTorch needs to recover what a plan lost: compressed weights, masks, the plan and a generated recover.py.",
        discussion: """
            DIR gets weights.safetensors (the reconstruction, as `apply --to safetensors` writes it, verified), \
            masks.safetensors (uint8, 1 kept / 0 pruned, for pruned tensors), recovery.json (per-tensor settings), \
            plan.json and recover.py (fine-tuning with fixed masks, QAT for int tensors, distillation from the \
            original). DIR is written whole or not at all. Run `python DIR/recover.py --help`; open its output with \
            `weightlab compare MODEL OUT`. Exit status: 0 written, 1 writing failed (nothing written), 2 bad input.
            """)

    @Argument(help: "A model weightlab reads (safetensors, GGUF, .npy/.npz, PyTorch, a sharded index or a directory).")
    var model: String

    @Option(help: "The plan file (JSON; see Examples/plans).")
    var plan: String

    @Option(name: [.short, .customLong("output")], help: "The directory to write (must not exist, unless --force).")
    var output: String

    @Flag(help: "Replace DIR if it exists (never one holding an input).")
    var force = false

    @Flag(help: "Refuse a plan with a rule that matches no tensor (by default that is a warning).")
    var strict = false

    @Option(help: "Default weight of the distillation term in recover.py (0: plain fine-tuning with fixed masks).")
    var alpha: Double = 0

    @Option(help: "Default distillation temperature in recover.py.")
    var temperature: Double = 4

    func run() throws {
        InterruptCleanup.install()
        signal(SIGXFSZ, SIG_IGN)
        let outcome: RecoveryExport.Outcome
        do {
            outcome = try RecoveryExport.run(modelPath: model, planPath: plan, output: output, overwrite: force, strict: strict,
                                             distillation: .init(alpha: alpha, temperature: temperature))
        } catch let e as ApplyError {
            FileHandle.standardError.write(Data(("weightlab: " + e.message + "\n").utf8))
            Foundation.exit(e.kind == .plan ? 2 : 1)
        } catch {
            Failure.exit(error)
        }
        for w in outcome.warnings {
            FileHandle.standardError.write(Data("weightlab: warning: \(w.description)\n".utf8))
        }
        print("wrote \(DisplayText.escaped(outcome.output)): \(outcome.tensors) tensors (\(outcome.verifiedValues) values verified), "
              + "\(outcome.masked.count) masked, \(outcome.fakeQuantized.count) fake-quantized in recover.py"
              + (outcome.floatTrained.isEmpty ? "" : ", \(outcome.floatTrained.count) trained in float (re-apply the plan after recovery)"))
    }
}
