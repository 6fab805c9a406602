"""The taskeval classifier with its weights in an external data file (onnx's own writer), for
`weightlab eval` on a model that keeps initializers beside it. Same weights as taskeval/classifier.onnx,
so the metrics in taskeval/reference.json (Python onnxruntime + numpy) apply unchanged.

    python3 Tests/Fixtures/make_taskeval_external.py
"""
import os
import onnx

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "taskeval_external")
os.makedirs(out, exist_ok=True)
model = onnx.load(os.path.join(here, "taskeval", "classifier.onnx"))
for name in os.listdir(out):
    os.remove(os.path.join(out, name))
onnx.save_model(model, os.path.join(out, "classifier.onnx"), save_as_external_data=True,
                all_tensors_to_one_file=True, location="classifier.weights", size_threshold=0)
check = onnx.load(os.path.join(out, "classifier.onnx"), load_external_data=False)
external = [t.name for t in check.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
assert external, "no initializer was moved to external data"
print("external initializers:", external)
