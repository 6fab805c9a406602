"""The numpy peer of `weightlab bench`: the same computations on N(0,1) data, rows of 4096, float32.

python3 Benchmarks/numpy_peer.py [--size 50000000] [--repeat 3] [--json]

Kernels (best of --repeat, in weights per second):
  stats+hist     min, max, mean, std (float64 accumulation) and a 512-bin histogram over [min, max]
  prune-metrics  zero |w| < 0.5, then MSE, SQNR, max error, cosine, sparsity
  int8-channel   symmetric int8, one scale per row, fake-quantize, then the metrics
  int4-g128      symmetric int4, one scale per 128 consecutive values, then the metrics
  q4_0           gguf.quants.quantize + dequantize (gguf-py's numpy code), then the metrics
"""
import argparse, json, time
import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("--size", type=int, default=50_000_000)
ap.add_argument("--repeat", type=int, default=3)
ap.add_argument("--json", action="store_true")
a = ap.parse_args()
cols = 4096
rows = max(1, a.size // cols)
w = np.random.default_rng(0).standard_normal((rows, cols), dtype=np.float32)
n = w.size


def metrics(w, q):
    w64 = w.astype(np.float64)
    e = w64 - q
    se = float((e * e).sum())
    sw = float((w64 * w64).sum())
    return {"mse": se / w.size, "sqnr": 10 * np.log10(sw / se) if se > 0 else float("inf"),
            "max": float(np.abs(e).max()), "cos": float((w64 * q).sum() / np.sqrt(sw * float((q.astype(np.float64) ** 2).sum()))),
            "sparsity": float((q == 0).mean())}


def stats_hist():
    lo, hi = float(w.min()), float(w.max())
    w.mean(dtype=np.float64), w.std(dtype=np.float64)
    np.histogram(w, bins=512, range=(lo, hi))


def prune():
    q = np.where(np.abs(w) < 0.5, np.float32(0), w)
    return metrics(w, q)


def int_sym(bits, group):
    qmax = 2 ** (bits - 1) - 1
    g = w.reshape(-1, group)
    scale = (np.abs(g).max(axis=1, keepdims=True) / np.float32(qmax)).astype(np.float32)
    q = np.clip(np.round(g / scale), -qmax - 1, qmax) * scale
    return metrics(w, q.reshape(w.shape))


def q4_0():
    from gguf import quants, GGMLQuantizationType as T
    q = quants.dequantize(quants.quantize(w, T.Q4_0), T.Q4_0)
    return metrics(w, q)


kernels = {
    "stats+hist": stats_hist,
    "prune-metrics": prune,
    "int8-channel": lambda: int_sym(8, cols),
    "int4-g128": lambda: int_sym(4, 128),
    "q4_0": q4_0,
}
results = {}
for name, f in kernels.items():
    best = float("inf")
    for _ in range(a.repeat):
        t = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t)
    results[name] = {"seconds": best, "weights_per_second": n / best}
if a.json:
    print(json.dumps({"size": n, "results": results}, indent=1))
else:
    print(f"numpy {np.__version__}, {n:,} weights (rows of {cols})")
    for k, v in results.items():
        print(f"{k:15s} {v['seconds']*1000:9.1f} ms  {v['weights_per_second']/1e6:9.1f} M weights/s")
