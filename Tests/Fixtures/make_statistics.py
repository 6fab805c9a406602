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

# Histogram references: numpy.histogram counts, and pruning cuts |w| < t at thresholds that are bin edges
# of weightlab's log-linear magnitude histogram (IEEE pattern with the low 17 bits cleared: exact there),
# plus the exact count and sum of squares of the floor(s*n) smallest magnitudes.
hist = {}
for name, a in cases.items():
    f = a[np.isfinite(a)]
    if f.size < 100:
        continue
    m = np.abs(f).astype(np.float64)
    edges = []
    for t in [1e-3, 0.01, 0.05, 0.3, 1.0, 3.0, 1000.0]:
        e = (np.array([t], dtype=np.float32).view(np.uint32) >> 17 << 17).view(np.float32)[0]
        edges.append(float(e))
    cuts = [{"threshold": e, "pruned": int((m < e).sum()), "pruned_squares": float((m[m < e] ** 2).sum())} for e in edges]
    order = np.argsort(m, kind="stable")
    sparsity = []
    for s in [0.1, 0.5, 0.9]:
        k = int(np.floor(s * m.size))
        sparsity.append({"sparsity": s, "pruned": k, "pruned_squares": float((m[order[:k]] ** 2).sum())})
    counts, _ = np.histogram(f.astype(np.float64), bins=50, range=(float(f.min()), float(f.max())))
    hist[name] = {"cuts": cuts, "sparsity": sparsity, "bins50": counts.tolist(),
                  "total_squares": float((m ** 2).sum()),
                  "p99": float(np.percentile(m, 99))}
with open(os.path.join(out, "histograms.json"), "w") as fh:
    json.dump(hist, fh, indent=1, sort_keys=True)
