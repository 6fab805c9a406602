"""Reference statistics for Compression.Statistics, computed by numpy (float64) and scipy.

Writes Tests/Fixtures/statistics/<case>.f32 (raw little-endian float32) and expected.json.
Statistics describe the finite values; NaN/Inf are counted separately (weightlab's convention).
Run: python3 Tests/Fixtures/make_statistics.py
"""
import json, os
import numpy as np
from scipy import stats

out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "statistics")
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(20261129)

cases = {
    "normal": rng.standard_normal(40_003).astype(np.float32),
    "offset_mean": (1000.0 + 0.01 * rng.standard_normal(30_001)).astype(np.float32),
    "laplace_sparse": np.where(rng.random(20_000) < 0.3, 0, rng.laplace(0, 0.05, 20_000)).astype(np.float32),
    "heavy_tailed": (rng.standard_t(3, 20_000) * 0.02).astype(np.float32),
    "with_nonfinite": np.concatenate([rng.standard_normal(10_000), [np.nan, np.inf, -np.inf, np.nan, 0.0]]).astype(np.float32),
    "single": np.array([-2.5], dtype=np.float32),
}
expected = {}
for name, a in cases.items():
    a.astype("<f4").tofile(os.path.join(out, name + ".f32"))
    f = a[np.isfinite(a)].astype(np.float64)
    expected[name] = {
        "count": int(f.size),
        "min": float(f.min()), "max": float(f.max()),
        "mean": float(f.mean()), "std": float(f.std()),
        "absmax": float(np.abs(f).max()),
        "kurtosis": float(stats.kurtosis(f, fisher=True, bias=True)) if f.size > 1 else 0.0,
        "zero_fraction": float(np.count_nonzero(a == 0) / a.size),
        "nan": int(np.isnan(a).sum()), "inf": int(np.isinf(a).sum()),
    }
with open(os.path.join(out, "expected.json"), "w") as fh:
    json.dump(expected, fh, indent=1, sort_keys=True)

# Reference statistics of the bundled example model, for `weightlab inspect --json`.
from safetensors.numpy import load_file
example = os.path.join(os.path.dirname(out), "..", "..", "Examples", "silero-vad", "silero_vad_16k.safetensors")
ref = {}
for name, t in load_file(example).items():
    f = t.astype(np.float64)
    ref[name] = {"dtype": str(t.dtype), "shape": list(t.shape), "min": float(f.min()), "max": float(f.max()),
                 "mean": float(f.mean()), "std": float(f.std())}
with open(os.path.join(out, "example_inspect.json"), "w") as fh:
    json.dump(ref, fh, indent=1, sort_keys=True)
