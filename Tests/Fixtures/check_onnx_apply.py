#!/usr/bin/env python3
"""Checks an `apply --to onnx` output with the reference tools (run by ONNXWriterTests when python3 has onnx,
onnxruntime, numpy and safetensors): `onnx.checker` on the written model, then ONNX Runtime (CPU) on it and on
the float input model with its initializers replaced by the fake-quant values of `apply --to safetensors`
(the dequantized float model), on the same random input. Prints JSON: the largest absolute difference of the
outputs and the operators of the written graph.

usage: check_onnx_apply.py INPUT.onnx WRITTEN.onnx FAKEQUANT.safetensors
"""
import json, sys
import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper
from safetensors.numpy import load_file

source, written, fake = sys.argv[1:4]
onnx.checker.check_model(written, full_check=True)
model = onnx.load(source)
values = load_file(fake)
for init in model.graph.initializer:
    if init.name in values:
        init.CopyFrom(numpy_helper.from_array(values[init.name].astype(numpy_helper.to_array(init).dtype), init.name))
rng = np.random.default_rng(0)
feeds = {}
for i in model.graph.input:
    shape = [d.dim_value for d in i.type.tensor_type.shape.dim]
    feeds[i.name] = rng.standard_normal(shape).astype(np.float32)
opts = ort.SessionOptions()
opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
a = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"]).run(None, feeds)
b = ort.InferenceSession(written, opts, providers=["CPUExecutionProvider"]).run(None, feeds)
diff = max(float(np.max(np.abs(x - y))) for x, y in zip(a, b))
ops = sorted({n.op_type for n in onnx.load(written).graph.node})
print(json.dumps({"max_abs_diff": diff, "ops": ops, "outputs": len(a)}))
