"""Reference numbers for `weightlab report` on the bundled example model with report/plan.json, computed
independently with numpy (float32 quantizer arithmetic as DESIGN.md §5 states it, float64 metrics).

The plan: rank >= 2 tensors are pruned at |w| < 0.05 then quantized int8 symmetric per channel (rows of
dimension 0); the LSTM matrices get asymmetric int4 in groups of 64 instead; biases stay as they are.
Sizes: int8 values 8 bits + an f16 scale per row; asym int4 4 bits + f16 scale + 4-bit zero point per group;
after unstructured pruning the cheaper of dense and a bitmap (1 bit per weight + the non-zero values).
Run: python3 Tests/Fixtures/make_report_reference.py
"""
import json, math, os, re
import numpy as np
from safetensors.numpy import load_file

here = os.path.dirname(os.path.abspath(__file__))
model = os.path.join(here, "..", "..", "Examples", "silero-vad", "silero_vad_16k.safetensors")
f32 = np.float32


def sym_int(w2d, bits):
    qmax = f32(2 ** (bits - 1) - 1)
    out = np.empty_like(w2d)
    for r in range(w2d.shape[0]):
        row = w2d[r]
        scale = f32(np.abs(row).max()) / qmax
        if scale == 0:
            out[r] = 0
            continue
        out[r] = np.rint(np.clip(row / scale, -qmax - 1, qmax)).astype(f32) * scale
    return out


def asym_int(groups, bits):
    levels = f32(2 ** bits - 1)
    out = np.empty_like(groups)
    for g in range(groups.shape[0]):
        x = groups[g]
        lo, hi = min(f32(x.min()), f32(0)), max(f32(x.max()), f32(0))
        scale = f32(hi - lo) / levels
        if scale == 0:
            out[g] = 0
            continue
        zero = np.rint(-lo / scale).astype(f32)
        t = np.clip(x / scale, -zero, levels - zero)
        out[g] = np.rint(t).astype(f32) * scale
    return out


layers, tot = [], {"sw": 0.0, "se": 0.0, "swh": 0.0, "shh": 0.0, "zeros": 0, "n": 0, "maxe": 0.0,
                   "params": 0, "bo": 0, "bc": 0}
for name, w in load_file(model).items():
    n = w.size
    rank2 = w.ndim >= 2
    q = w.copy()
    bits_value, overhead = 32, 0
    encoding_pruned = False
    if rank2 and not re.search(r"bias$", name):
        q = np.where(np.abs(q) < f32(0.05), f32(0), q)
        zeros_after_pruning = int((q == 0).sum())
        if re.search(r"^lstm_cell\.weight", name):
            q = asym_int(q.reshape(-1, 64), 4).reshape(w.shape)
            bits_value, overhead = 4, (n // 64) * (16 + 4)
        else:
            q = sym_int(q.reshape(w.shape[0], -1), 8).reshape(w.shape)
            bits_value, overhead = 8, w.shape[0] * 16
        dense = n * bits_value + overhead
        bitmap = n + (n - zeros_after_pruning) * bits_value + overhead
        bits = min(dense, bitmap)
        compressed = True
    else:
        bits = n * 32
        compressed = False
    w64, q64 = w.astype(np.float64), q.astype(np.float64)
    e = w64 - q64
    sw, se = float((w64 ** 2).sum()), float((e ** 2).sum())
    swh, shh = float((w64 * q64).sum()), float((q64 ** 2).sum())
    layer = {"name": name, "parameters": n, "compressed": compressed, "sparsity": float((q == 0).mean()),
             "mse": se / n, "sqnr_db": (10 * math.log10(sw / se)) if se > 0 else None,
             "max_abs_error": float(np.abs(e).max()),
             "cosine": swh / math.sqrt(sw * shh) if sw > 0 and shh > 0 else 1.0,
             "bytes_original": n * 4, "bytes_compressed": (bits + 7) // 8}
    layers.append(layer)
    for k, v in [("sw", sw), ("se", se), ("swh", swh), ("shh", shh)]:
        tot[k] += v
    tot["zeros"] += int((q == 0).sum()); tot["n"] += n; tot["maxe"] = max(tot["maxe"], layer["max_abs_error"])
    tot["params"] += n; tot["bo"] += n * 4; tot["bc"] += layer["bytes_compressed"]

total = {"parameters": tot["params"], "sparsity": tot["zeros"] / tot["n"], "mse": tot["se"] / tot["n"],
         "sqnr_db": 10 * math.log10(tot["sw"] / tot["se"]), "bytes_original": tot["bo"],
         "bytes_compressed": tot["bc"], "bits_per_weight": tot["bc"] * 8 / tot["params"],
         "compression_ratio": tot["bo"] / tot["bc"]}
with open(os.path.join(here, "report", "expected.json"), "w") as fh:
    json.dump({"layers": layers, "total": total}, fh, indent=1)
