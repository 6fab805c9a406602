#!/usr/bin/env python3
"""Writes the fixtures for task-level evaluation (TaskEvalTests): metric reference values and two small ONNX
models with inputs, labels and the metrics ONNX Runtime gives for a committed plan.

Run from anywhere:  python3 Tests/Fixtures/make_taskmetrics.py
Needs numpy, scipy, onnx and onnxruntime. Deterministic (fixed seeds). Output, under taskeval/:
  metrics.json            small logits/embeddings and numpy/scipy metric values (the pure metric tests)
  classifier.onnx         MLP 256-128-10 (Gemm transB=1, ReLU), random weights; input "x", output "logits"
  classifier_data.npz     x [200, 256] float32, labels [200] int64
  embedder.onnx           Gather(table 500x128) -> ReduceMean over 8 tokens -> Gemm 128->128 -> Tanh;
                          input "input_ids" int64, output "embedding"
  embedder_data.npz       input_ids [100, 8] int64
  plan_int4_g128.json     int4 symmetric, groups of 128 along the last axis, min-max (every rank>=2 tensor)
  plan_empty.json         a plan that changes nothing
  reference.json          ORT outputs of the first rows, the metrics of each model under each plan, and
                          silero-vad's outputs (onnx/silero_vad_16k_op15.onnx) on a fixed tone

The compressed models are built here independently: numpy fake-quantizes each rank>=2 float initializer
following weightlab's int convention (Float32 scale = absmax/7 per group of 128 along the last axis, codes
round-half-even then clipped to [-8, 7]; the same as make_compression.py's quant_int), substituted into a copy
of the model, and run with onnxruntime. Nothing is read back from Swift.
"""
import json
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from scipy.special import log_softmax, softmax
from scipy.stats import entropy

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "taskeval")
f32 = np.float32


# ---------------------------------------------------------------- the plan's convention (int4 sym g128 minmax)

def fake_quant_int4_g128(w):
    L = w.shape[-1]
    flat = w.reshape(-1, L)
    out = np.empty_like(flat)
    for r in range(flat.shape[0]):
        for j in range(0, L, 128):
            x = flat[r, j:j + 128]
            scale = f32(np.max(np.abs(x))) / f32(7)
            if scale == 0:
                out[r, j:j + 128] = 0
                continue
            q = np.clip(np.round(x / scale), -8, 7)
            out[r, j:j + 128] = (q * scale).astype(f32)
    return out.reshape(w.shape)


def compressed(model):
    m = onnx.ModelProto()
    m.CopyFrom(model)
    for init in m.graph.initializer:
        a = numpy_helper.to_array(init)
        if a.ndim >= 2 and a.dtype == np.float32:
            init.CopyFrom(numpy_helper.from_array(fake_quant_int4_g128(a), init.name))
    return m


# ---------------------------------------------------------------- metrics (numpy / scipy)

def metrics(orig, comp, labels, kind):
    o, c = orig.astype(np.float64), comp.astype(np.float64)
    noise = np.sum((o - c) ** 2)
    out = {"sqnr_db": None if noise == 0 else float(10 * np.log10(np.sum(o * o) / noise))}
    if kind == "classifier":
        po, pc = np.argmax(orig, axis=1), np.argmax(comp, axis=1)
        if labels is not None:
            out["accuracy_original"] = float(np.mean(po == labels))
            out["accuracy"] = float(np.mean(pc == labels))
        out["flip_rate"] = float(np.mean(po != pc))
        out["kl_mean"] = float(np.mean(entropy(softmax(o, axis=1), softmax(c, axis=1), axis=1)))
        # the same in log space, as a cross-check of the definition
        lp, lq = log_softmax(o, axis=1), log_softmax(c, axis=1)
        assert abs(np.mean(np.sum(np.exp(lp) * (lp - lq), axis=1)) - out["kl_mean"]) < 1e-12
    else:
        cos = np.sum(o * c, axis=1) / (np.linalg.norm(o, axis=1) * np.linalg.norm(c, axis=1))
        out["cosine_mean"] = float(np.mean(cos))
        out["cosine_min"] = float(np.min(cos))

        def nn(e):
            n = e / np.linalg.norm(e, axis=1, keepdims=True)
            s = n @ n.T
            np.fill_diagonal(s, -np.inf)
            return np.argmax(s, axis=1)
        out["nn_agreement"] = float(np.mean(nn(o) == nn(c)))
    return out


# ---------------------------------------------------------------- pure metric cases

def metric_cases(rng):
    cases = []
    logits_a = rng.normal(0, 2, (12, 5)).astype(f32)
    logits_b = (logits_a + rng.normal(0, 0.8, (12, 5))).astype(f32)
    logits_b[3] = logits_a[3]
    labels = rng.integers(0, 5, 12)
    ties = np.zeros((3, 4), dtype=f32)
    ties[1] = [1, 3, 3, 0]
    cases.append({"name": "classifier", "kind": "classifier", "width": 5,
                  "original": logits_a.ravel().tolist(), "compressed": logits_b.ravel().tolist(),
                  "labels": labels.tolist(), "argmax_original": np.argmax(logits_a, axis=1).tolist(),
                  "metrics": metrics(logits_a, logits_b, labels, "classifier")})
    cases.append({"name": "ties", "kind": "classifier", "width": 4, "original": ties.ravel().tolist(),
                  "compressed": ties.ravel().tolist(), "labels": [0, 1, 2],
                  "argmax_original": np.argmax(ties, axis=1).tolist(), "metrics": metrics(ties, ties, np.array([0, 1, 2]), "classifier")})
    emb_a = rng.normal(0, 1, (10, 16)).astype(f32)
    emb_b = (emb_a + rng.normal(0, 0.6, (10, 16))).astype(f32)
    cases.append({"name": "embedder", "kind": "embedder", "width": 16,
                  "original": emb_a.ravel().tolist(), "compressed": emb_b.ravel().tolist(),
                  "metrics": metrics(emb_a, emb_b, None, "embedder")})
    return cases


# ---------------------------------------------------------------- models

def classifier(rng):
    w1 = rng.normal(0, 1 / 16, (128, 256)).astype(f32)
    b1 = rng.normal(0, 0.1, 128).astype(f32)
    w2 = rng.normal(0, 1 / 8, (10, 128)).astype(f32)
    b2 = rng.normal(0, 0.1, 10).astype(f32)
    nodes = [helper.make_node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h"], transB=1, name="fc1"),
             helper.make_node("Relu", ["h"], ["r"], name="relu"),
             helper.make_node("Gemm", ["r", "fc2.weight", "fc2.bias"], ["logits"], transB=1, name="fc2")]
    g = helper.make_graph(nodes, "classifier",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 256])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 10])],
                          [numpy_helper.from_array(a, n) for a, n in
                           [(w1, "fc1.weight"), (b1, "fc1.bias"), (w2, "fc2.weight"), (b2, "fc2.bias")]])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_taskmetrics.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def embedder(rng):
    table = rng.normal(0, 1, (500, 128)).astype(f32)
    w = rng.normal(0, 1 / 11, (128, 128)).astype(f32)
    b = rng.normal(0, 0.1, 128).astype(f32)
    nodes = [helper.make_node("Gather", ["embeddings.weight", "input_ids"], ["tok"], axis=0, name="lookup"),
             helper.make_node("ReduceMean", ["tok"], ["pooled"], axes=[1], keepdims=0, name="pool"),
             helper.make_node("Gemm", ["pooled", "proj.weight", "proj.bias"], ["p"], transB=1, name="proj"),
             helper.make_node("Tanh", ["p"], ["embedding"], name="tanh")]
    g = helper.make_graph(nodes, "embedder",
                          [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["N", 8])],
                          [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 128])],
                          [numpy_helper.from_array(a, n) for a, n in
                           [(table, "embeddings.weight"), (w, "proj.weight"), (b, "proj.bias")]])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="make_taskmetrics.py")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def run(model, feeds):
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, feeds)[0]


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20261130)
    with open(os.path.join(OUT, "metrics.json"), "w") as f:
        json.dump({"cases": metric_cases(rng)}, f, indent=1)

    clf = classifier(rng)
    x = rng.normal(0, 1, (200, 256)).astype(f32)
    logits = run(clf, {"x": x})
    labels = np.argmax(logits, axis=1).astype(np.int64)
    noisy = rng.random(200) < 0.2                       # a fifth of the labels disagree with the model
    labels[noisy] = rng.integers(0, 10, int(noisy.sum()))
    onnx.save(clf, os.path.join(OUT, "classifier.onnx"))
    np.savez(os.path.join(OUT, "classifier_data.npz"), x=x, labels=labels)

    emb = embedder(rng)
    ids = rng.integers(0, 500, (100, 8)).astype(np.int64)
    emb_out = run(emb, {"input_ids": ids})
    onnx.save(emb, os.path.join(OUT, "embedder.onnx"))
    np.savez(os.path.join(OUT, "embedder_data.npz"), input_ids=ids)

    plan = {"version": 1, "note": "make_taskmetrics.py: int4 symmetric, groups of 128, min-max",
            "default": {"quantize": {"format": "int", "bits": 4, "symmetric": True,
                                     "granularity": {"group": 128}, "clip": "minmax"}}}
    with open(os.path.join(OUT, "plan_int4_g128.json"), "w") as f:
        json.dump(plan, f, indent=1)
    with open(os.path.join(OUT, "plan_empty.json"), "w") as f:
        json.dump({"version": 1, "note": "make_taskmetrics.py: changes nothing"}, f, indent=1)

    ref = {"classifier": {"logits_first_rows": logits[:4].ravel().tolist(),
                          "int4_g128": metrics(logits, run(compressed(clf), {"x": x}), labels, "classifier"),
                          "empty": metrics(logits, logits, labels, "classifier")},
           "embedder": {"embedding_first_rows": emb_out[:3].ravel().tolist(),
                        "int4_g128": metrics(emb_out, run(compressed(emb), {"input_ids": ids}), None, "embedder")}}
    # silero-vad (committed under onnx/, MIT): one 512-sample chunk of a 440 Hz tone at 16 kHz, zero state
    vad = ort.InferenceSession(os.path.join(HERE, "onnx", "silero_vad_16k_op15.onnx"), providers=["CPUExecutionProvider"])
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(512) / 16000)).astype(f32).reshape(1, 512)
    vad_out, vad_state = vad.run(["output", "stateN"], {"input": tone, "state": np.zeros((2, 1, 128), f32),
                                                         "sr": np.array(16000, dtype=np.int64)})
    ref["silero_vad"] = {"input": "0.3*sin(2*pi*440*n/16000), n=0..511, state zeros, sr 16000",
                         "output": vad_out.ravel().tolist(), "stateN_first": vad_state.ravel()[:16].tolist(),
                         "stateN_shape": list(vad_state.shape)}
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(json.dumps({k: {kk: vv for kk, vv in v.items() if "rows" not in kk} for k, v in ref.items()}, indent=1))


if __name__ == "__main__":
    main()
