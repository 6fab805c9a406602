"""Reference layer diagnostics for Compression.LayerDiagnostics, computed by numpy in float64.

Writes Tests/Fixtures/diagnostics/model.safetensors (float32 tensors) and expected.json with, per tensor:
- kurtosis: excess kurtosis of the values, m4 / m2**2 - 3 (population moments; scipy's fisher=True, bias=True)
- channel_spread: max over median (numpy's median) of the rows' absolute maxima (rows of dimension 0), null
  for rank < 2
- outliers: values with |x - mean| > 6 * std (population std)
Run: python3 Tests/Fixtures/make_diagnostics.py
"""
import json, os
import numpy as np
from safetensors.numpy import save_file

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "diagnostics")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261130)

normal = rng.standard_normal((64, 128)) * 0.02
# A few planted outliers far beyond 6 sigma, and two rows with a much wider range.
normal[3, 7] = 0.5
normal[40, 100] = -0.4
normal[10, :] *= 6
normal[11, :] *= 3
heavy = rng.standard_t(3, (32, 256)) * 0.01
conv = rng.laplace(0, 0.05, (16, 8, 3))
odd_rows = rng.standard_normal((7, 64)) * np.linspace(0.5, 2, 7)[:, None]
vector = rng.standard_normal(96) * 0.1
tensors = {
    "attn.weight": normal.astype(np.float32),
    "mlp.weight": heavy.astype(np.float32),
    "conv.weight": conv.astype(np.float32),
    "odd.weight": odd_rows.astype(np.float32),
    "norm.weight": vector.astype(np.float32),
}
save_file(tensors, os.path.join(out, "model.safetensors"))

expected = {}
for name, a in tensors.items():
    x = a.astype(np.float64)
    mean, std = x.mean(), x.std()
    m2 = ((x - mean) ** 2).mean()
    m4 = ((x - mean) ** 4).mean()
    entry = {"kurtosis": float(m4 / m2 ** 2 - 3), "outliers": int((np.abs(x - mean) > 6 * std).sum())}
    if x.ndim >= 2:
        row_max = np.abs(x.reshape(x.shape[0], -1)).max(axis=1)
        entry["channel_spread"] = float(row_max.max() / np.median(row_max))
    else:
        entry["channel_spread"] = None
    expected[name] = entry
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
    f.write("\n")
