#!/usr/bin/env python3
"""Writes the reference fixtures for the Compression kernel tests (pruning, quantizers, metrics, size model).

Run from anywhere:  python3 Tests/Fixtures/make_compression.py
Needs numpy, gguf==0.19.0 and ml-dtypes (pip install numpy gguf==0.19.0 ml-dtypes). Deterministic (fixed seeds).

Every convention is implemented here independently in numpy (see DESIGN.md §5 and the doc comments of the
Swift kernels for the exact definitions); nothing is read back from Swift. Output, under compression/:
  inputs/<name>.bin     little-endian float32 inputs
  outputs/<case>.bin    reference reconstructions (float32) or GGUF block bytes
  reference.json        shapes, settings, metrics, sizes and k-means reference values
"""
import json
import math
import os

import numpy as np
import ml_dtypes
import gguf
from gguf import GGMLQuantizationType as GQ

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "compression")
f32 = np.float32
f64 = np.float64


# ---------------------------------------------------------------- inputs

def make_inputs():
    rng = np.random.default_rng(20240607)
    inputs = {}
    inputs["normal_16x256"] = rng.normal(0, 0.02, (16, 256)).astype(f32)
    inputs["laplace_7x64"] = rng.laplace(0, 0.05, (7, 64)).astype(f32)
    t = (rng.standard_t(3, 1000) * 0.1).astype(f32)
    idx = rng.choice(1000, 6, replace=False)
    t[idx] = (np.sign(t[idx]) * rng.uniform(3, 8, 6)).astype(f32)      # planted outliers
    inputs["studentt_1000"] = t
    z = rng.normal(0, 0.05, (8, 96)).astype(f32)
    z[2, :] = 0
    inputs["zerorow_8x96"] = z
    inputs["ties_4x32"] = (rng.integers(-4, 5, (4, 32)) / 4).astype(f32)  # many equal magnitudes
    inputs["levels_600"] = rng.choice(np.array([-1.5, -0.25, 0.5, 2.0, 3.75], dtype=f32), 600).astype(f32)
    return inputs


# ---------------------------------------------------------------- layout

def rows_of(shape):
    return shape[0] if len(shape) >= 2 else 1


def segments(shape, gran):
    """Flat index ranges sharing a scale: ('tensor',), ('channel',), ('group', g)."""
    n = int(np.prod(shape)) if shape else 1
    if gran[0] == "tensor":
        return [(0, n)]
    if gran[0] == "channel":
        r = rows_of(shape)
        L = n // r
        return [(i * L, (i + 1) * L) for i in range(r)]
    g = gran[1]
    L = shape[-1] if shape else 1
    out = []
    for r in range(n // L):
        for j in range(0, L, g):
            out.append((r * L + j, r * L + min(j + g, L)))
    return out


# ---------------------------------------------------------------- pruning

def prune_threshold(w, t):
    w = w.copy()
    w[np.abs(w).astype(f64) < t] = 0
    return w


def prune_count(s, n):
    return min(n, int(math.floor(min(max(s, 0.0), 1.0) * n)))


def prune_sparsity(w, s):
    flat = w.ravel().copy()
    k = prune_count(s, flat.size)
    order = np.argsort(np.abs(flat), kind="stable")
    flat[order[:k]] = 0
    return flat.reshape(w.shape)


def prune_global(ws, s):
    cat = np.concatenate([w.ravel() for w in ws])
    k = prune_count(s, cat.size)
    order = np.argsort(np.abs(cat), kind="stable")
    cat = cat.copy()
    cat[order[:k]] = 0
    out, a = [], 0
    for w in ws:
        out.append(cat[a:a + w.size].reshape(w.shape))
        a += w.size
    return out


def prune_nm(w, n, m):
    g = w.reshape(-1, m).copy()
    for row in g:
        order = np.argsort(-np.abs(row), kind="stable")   # largest first, ties keep the earlier index
        row[order[n:]] = 0
    return g.reshape(w.shape)


def prune_rows(w, norm, s):
    r = rows_of(w.shape)
    m = w.reshape(r, -1).astype(f64)
    norms = np.abs(m).sum(axis=1) if norm == "l1" else np.sqrt((m * m).sum(axis=1))
    k = prune_count(s, r)
    order = np.argsort(norms, kind="stable")
    out = w.reshape(r, -1).copy()
    out[order[:k], :] = 0
    return out.reshape(w.shape), k


# ---------------------------------------------------------------- integer quantization (float32 throughout)

def grid_sym(bits, c):
    qmax = f32(2 ** (bits - 1) - 1)
    return (f32(c) / qmax, f32(0), -qmax - f32(1), qmax)


def grid_asym(bits, lo, hi):
    lo, hi = min(f32(lo), f32(0)), max(f32(hi), f32(0))
    levels = f32(2 ** bits - 1)
    scale = f32((hi - lo) / levels)
    zero = f32(0) if scale == 0 else f32(np.round(f32(-lo) / scale))
    return (scale, zero, f32(0), levels)


def fq_grid(x, grid):
    scale, zero, qmin, qmax = grid
    if scale == 0:
        return np.zeros_like(x)
    q = np.clip(np.round(x / scale) + zero, qmin, qmax)
    return ((q - zero) * scale).astype(f32)


def int_grid(x, bits, sym, clip):
    if clip[0] == "minmax":
        return grid_sym(bits, np.max(np.abs(x))) if sym else grid_asym(bits, np.min(x), np.max(x))
    if clip[0] == "percentile":
        p = clip[1]
        if sym:
            return grid_sym(bits, f32(np.percentile(np.abs(x).astype(f64), p)))
        return grid_asym(bits, f32(np.percentile(x.astype(f64), 100 - p)), f32(np.percentile(x.astype(f64), p)))
    # MSE search: 81 ratios 1.00 … 0.20 in float32, first strictly smallest error wins
    lo, hi = np.min(x), np.max(x)
    absmax = np.max(np.abs(x))
    best, best_err = None, None
    for i in range(81):
        r = f32(100 - i) / f32(100)
        g = grid_sym(bits, r * absmax) if sym else grid_asym(bits, r * min(lo, f32(0)), r * max(hi, f32(0)))
        if i == 0 and g[0] == 0:
            return g
        d = (x - fq_grid(x, g)).astype(f64)
        err = float(np.sum(d * d))
        if best_err is None or err < best_err:
            best, best_err = g, err
    return best


def quant_int(w, bits, sym, gran, clip):
    flat = w.ravel()
    out = np.empty_like(flat)
    for a, b in segments(list(w.shape), gran):
        out[a:b] = fq_grid(flat[a:b], int_grid(flat[a:b], bits, sym, clip))
    return out.reshape(w.shape)


# ---------------------------------------------------------------- NF4

NF4 = np.array([-1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
                -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
                0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
                0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1], dtype=f32)
NF4_MID = ((NF4[:-1] + NF4[1:]) / f32(2)).astype(f32)


def quant_nf4(w, group):
    flat = w.ravel()
    out = np.empty_like(flat)
    for a in range(0, flat.size, group):
        blk = flat[a:a + group]
        absmax = np.max(np.abs(blk))
        if absmax == 0:
            out[a:a + group] = 0
            continue
        x = blk * (f32(1) / absmax)
        idx = np.searchsorted(NF4_MID, x, side="left")   # number of midpoints strictly below x
        out[a:a + group] = NF4[idx] * absmax
    return out.reshape(w.shape)


# ---------------------------------------------------------------- FP8 (ml_dtypes)

FP8 = {"fp8_e4m3": (ml_dtypes.float8_e4m3fn, f32(448)), "fp8_e5m2": (ml_dtypes.float8_e5m2, f32(57344))}


def quant_fp8(w, fmt, gran):
    dt, mx = FP8[fmt]
    flat = w.ravel()
    out = np.empty_like(flat)
    for a, b in segments(list(w.shape), gran):
        x = flat[a:b]
        scale = np.max(np.abs(x)) / mx
        if scale == 0:
            out[a:b] = 0
            continue
        y = np.clip(x / scale, -mx, mx)
        out[a:b] = y.astype(dt).astype(f32) * scale
    return out.reshape(w.shape)


# ---------------------------------------------------------------- GGUF

GGUF_TYPES = {"Q8_0": GQ.Q8_0, "Q4_0": GQ.Q4_0, "Q4_1": GQ.Q4_1, "Q5_0": GQ.Q5_0, "Q5_1": GQ.Q5_1}
GGUF_SIZES = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20, "Q5_0": 22, "Q5_1": 24}


def quant_gguf(w, name):
    raw = gguf.quants.quantize(w, GGUF_TYPES[name])
    rec = gguf.quants.dequantize(raw, GGUF_TYPES[name]).astype(f32).reshape(w.shape)
    return raw.ravel(), rec


# ---------------------------------------------------------------- metrics and size

def metrics(w, h):
    w64, h64 = w.ravel().astype(f64), h.ravel().astype(f64)
    d = w64 - h64
    sww, see, swh, shh = float(w64 @ w64), float(d @ d), float(w64 @ h64), float(h64 @ h64)
    n = w64.size
    if see == 0:
        sqnr = None   # +inf
    else:
        sqnr = 10 * math.log10(sww / see)
    if sww == 0 and shh == 0:
        cos = 1.0
    elif sww == 0 or shh == 0:
        cos = 0.0
    else:
        cos = swh / (math.sqrt(sww) * math.sqrt(shh))
    return {"mse": see / n, "sqnr_db": sqnr, "max_abs_error": float(np.max(np.abs(d))), "cosine": cos,
            "sparsity": float(np.count_nonzero(h64 == 0)) / n, "sum_squares": sww, "sum_squared_error": see}


def clog2(k):
    return 0 if k <= 1 else int(math.ceil(math.log2(k)))


def n_scales(shape, gran):
    return len(segments(shape, gran))


def size_bits(shape, prune, quant, zeros_after_pruning, pruned_rows):
    n = int(np.prod(shape))
    q = quant["kind"]
    if q == "gguf":
        return n // 32 * GGUF_SIZES[quant["type"]] * 8, "blocks"

    def value_bits():
        return {"none": 32, "int": quant.get("bits"), "nf4": 4, "fp8": 8,
                "kmeans": clog2(quant.get("k", 1))}[q]

    def meta(shape_):
        nn = int(np.prod(shape_))
        if q == "int":
            return n_scales(shape_, gran_of(quant)) * (16 + (0 if quant["symmetric"] else quant["bits"]))
        if q == "nf4":
            return -(-nn // quant["group"]) * 32
        if q == "fp8":
            return n_scales(shape_, gran_of(quant)) * 32
        if q == "kmeans":
            return quant["k"] * 16
        return 0

    vb = value_bits()
    dense = n * vb + meta(shape)
    p = prune["kind"]
    if p == "none":
        return dense, "dense"
    if p in ("threshold", "sparsity", "global"):
        bitmap = n + (n - zeros_after_pruning) * vb + meta(shape)
        return (bitmap, "bitmap") if bitmap < dense else (dense, "dense")
    if p == "nm":
        keep, m = prune["n"], prune["m"]
        return n // m * keep * (vb + clog2(m)) + meta(shape), f"{keep}:{m}"
    if p == "rows":
        r = rows_of(shape)
        kept = r - pruned_rows
        kshape = [kept] + list(shape[1:]) if len(shape) >= 2 else [kept * n]
        return r + int(np.prod(kshape)) * vb + meta(kshape), "row mask"
    raise ValueError(p)


def gran_of(quant):
    g = quant["granularity"]
    return ("group", quant["group"]) if g == "group" else (g,)


# ---------------------------------------------------------------- k-means reference

def kmeans_reference(x, k, iters=300):
    """Plain Lloyd in float64 from quantile seeds; returns its SSE (a quality bar, not an exact match)."""
    x = np.sort(x.astype(f64))
    c = np.quantile(x, (np.arange(k) + 0.5) / k)
    for _ in range(iters):
        a = np.argmin(np.abs(x[:, None] - c[None, :]), axis=1)
        nc = np.array([x[a == i].mean() if np.any(a == i) else c[i] for i in range(k)])
        if np.allclose(nc, c, rtol=0, atol=0):
            break
        c = nc
    a = np.argmin(np.abs(x[:, None] - c[None, :]), axis=1)
    return float(np.sum((x - c[a]) ** 2))


# ---------------------------------------------------------------- cases

def apply_prune(w, prune):
    p = prune["kind"]
    if p == "none":
        return w.copy(), 0
    if p == "threshold":
        return prune_threshold(w, prune["t"]), 0
    if p == "sparsity":
        return prune_sparsity(w, prune["s"]), 0
    if p == "nm":
        return prune_nm(w, prune["n"], prune["m"]), 0
    if p == "rows":
        return prune_rows(w, prune["norm"], prune["s"])
    raise ValueError(p)


def apply_quant(w, quant, pruned):
    q = quant["kind"]
    if q == "none":
        return w
    if q == "int":
        return quant_int(w, quant["bits"], quant["symmetric"], gran_of(quant), clip_of(quant))
    if q == "nf4":
        return quant_nf4(w, quant["group"])
    if q == "fp8":
        return quant_fp8(w, quant["format"], gran_of(quant))
    if q == "gguf":
        return quant_gguf(w, quant["type"])[1]
    raise ValueError(q)


def clip_of(quant):
    c = quant.get("clip", "minmax")
    return ("percentile", quant["p"]) if c == "percentile" else (c,)


def main():
    os.makedirs(os.path.join(OUT, "inputs"), exist_ok=True)
    os.makedirs(os.path.join(OUT, "outputs"), exist_ok=True)
    inputs = make_inputs()
    ref = {"inputs": {}, "cases": [], "global": [], "gguf": [], "kmeans": []}
    for name, w in inputs.items():
        w.astype("<f4").tofile(os.path.join(OUT, "inputs", name + ".bin"))
        ref["inputs"][name] = {"shape": list(w.shape)}

    cases = []
    N = {"kind": "none"}
    # pruning alone
    for inp, prune in [
        ("normal_16x256", {"kind": "threshold", "t": 0.01}),
        ("studentt_1000", {"kind": "threshold", "t": 0.05}),
        ("ties_4x32", {"kind": "threshold", "t": 0.5}),
        ("normal_16x256", {"kind": "sparsity", "s": 0.5}),
        ("laplace_7x64", {"kind": "sparsity", "s": 0.37}),
        ("studentt_1000", {"kind": "sparsity", "s": 0.9}),
        ("ties_4x32", {"kind": "sparsity", "s": 0.5}),
        ("zerorow_8x96", {"kind": "sparsity", "s": 0.3}),
        ("normal_16x256", {"kind": "nm", "n": 2, "m": 4}),
        ("ties_4x32", {"kind": "nm", "n": 2, "m": 4}),
        ("laplace_7x64", {"kind": "nm", "n": 4, "m": 8}),
        ("ties_4x32", {"kind": "nm", "n": 1, "m": 16}),
        ("normal_16x256", {"kind": "rows", "norm": "l1", "s": 0.25}),
        ("laplace_7x64", {"kind": "rows", "norm": "l2", "s": 0.3}),
        ("zerorow_8x96", {"kind": "rows", "norm": "l2", "s": 0.5}),
        ("ties_4x32", {"kind": "rows", "norm": "l1", "s": 0.5}),
        ("studentt_1000", {"kind": "rows", "norm": "l1", "s": 0.5}),
    ]:
        cases.append((inp, prune, N))

    # integer quantization: a product over the small inputs, a sample on the larger one
    for inp in ["laplace_7x64", "studentt_1000", "zerorow_8x96"]:
        for bits in [2, 4, 8]:
            for sym in [True, False]:
                for gran in [("tensor",), ("channel",), ("group", 48)]:
                    for clip in [("minmax",), ("percentile", 99.0), ("mse",)]:
                        q = {"kind": "int", "bits": bits, "symmetric": sym, "granularity": gran[0], "clip": clip[0]}
                        if gran[0] == "group":
                            q["group"] = gran[1]
                        if clip[0] == "percentile":
                            q["p"] = clip[1]
                        cases.append((inp, N, q))
    for bits, sym, gran, clip in [(8, True, "channel", "minmax"), (4, True, "group", "minmax"),
                                  (3, False, "group", "mse"), (5, True, "tensor", "percentile"),
                                  (6, False, "channel", "percentile"), (7, True, "channel", "mse")]:
        q = {"kind": "int", "bits": bits, "symmetric": sym, "granularity": gran, "clip": clip}
        if gran == "group":
            q["group"] = 128
        if clip == "percentile":
            q["p"] = 99.9
        cases.append(("normal_16x256", N, q))
    cases.append(("ties_4x32", N, {"kind": "int", "bits": 3, "symmetric": True, "granularity": "group", "group": 8, "clip": "minmax"}))

    for inp in ["normal_16x256", "studentt_1000", "zerorow_8x96", "laplace_7x64"]:
        for g in [64, 37]:
            cases.append((inp, N, {"kind": "nf4", "group": g}))
        for fmt in ["fp8_e4m3", "fp8_e5m2"]:
            for gran in ["tensor", "channel"]:
                cases.append((inp, N, {"kind": "fp8", "format": fmt, "granularity": gran}))
    for inp in ["normal_16x256", "zerorow_8x96", "laplace_7x64", "ties_4x32"]:
        for t in GGUF_TYPES:
            cases.append((inp, N, {"kind": "gguf", "type": t}))

    # prune then quantize
    cases += [
        ("normal_16x256", {"kind": "sparsity", "s": 0.5}, {"kind": "int", "bits": 4, "symmetric": True, "granularity": "channel", "clip": "minmax"}),
        ("normal_16x256", {"kind": "nm", "n": 2, "m": 4}, {"kind": "int", "bits": 8, "symmetric": False, "granularity": "channel", "clip": "minmax"}),
        ("laplace_7x64", {"kind": "sparsity", "s": 0.6}, {"kind": "int", "bits": 4, "symmetric": False, "granularity": "group", "group": 32, "clip": "mse"}),
        ("zerorow_8x96", {"kind": "rows", "norm": "l2", "s": 0.25}, {"kind": "nf4", "group": 64}),
        ("studentt_1000", {"kind": "threshold", "t": 0.08}, {"kind": "fp8", "format": "fp8_e4m3", "granularity": "tensor"}),
        ("normal_16x256", {"kind": "sparsity", "s": 0.7}, {"kind": "gguf", "type": "Q4_0"}),
        ("laplace_7x64", {"kind": "nm", "n": 2, "m": 4}, {"kind": "gguf", "type": "Q8_0"}),
        ("normal_16x256", {"kind": "sparsity", "s": 0.9}, {"kind": "int", "bits": 2, "symmetric": True, "granularity": "tensor", "clip": "percentile", "p": 99.0}),
    ]

    for i, (inp, prune, quant) in enumerate(cases):
        w = inputs[inp]
        pruned, pruned_rows = apply_prune(w, prune)
        h = apply_quant(pruned, quant, prune["kind"] != "none").astype(f32)
        zeros = int(np.count_nonzero(pruned == 0))
        bits, enc = size_bits(list(w.shape), prune, quant, zeros, pruned_rows)
        cid = f"{i:03d}"
        h.astype("<f4").tofile(os.path.join(OUT, "outputs", cid + ".bin"))
        ref["cases"].append({"id": cid, "input": inp, "prune": prune, "quant": quant, "metrics": metrics(w, h),
                             "zeros_after_pruning": zeros, "pruned_rows": pruned_rows,
                             "size_bits": bits, "encoding_prefix": enc})

    # global magnitude pruning over several tensors
    for names, s in [(["normal_16x256", "laplace_7x64", "studentt_1000"], 0.6),
                     (["ties_4x32", "ties_4x32", "zerorow_8x96"], 0.45)]:
        outs = prune_global([inputs[n] for n in names], s)
        files = []
        for j, o in enumerate(outs):
            fn = f"global{len(ref['global'])}_{j}"
            o.astype("<f4").tofile(os.path.join(OUT, "outputs", fn + ".bin"))
            files.append(fn)
        ref["global"].append({"inputs": names, "sparsity": s, "outputs": files})

    # GGUF bytes
    for inp in ["normal_16x256", "zerorow_8x96", "laplace_7x64", "ties_4x32"]:
        for t in GGUF_TYPES:
            raw, rec = quant_gguf(inputs[inp], t)
            fn = f"gguf_{inp}_{t}"
            raw.astype(np.uint8).tofile(os.path.join(OUT, "outputs", fn + ".bytes"))
            rec.astype("<f4").tofile(os.path.join(OUT, "outputs", fn + ".bin"))
            ref["gguf"].append({"input": inp, "type": t, "bytes": fn + ".bytes", "dequant": fn + ".bin"})

    # k-means quality bars
    for inp, k in [("normal_16x256", 16), ("laplace_7x64", 8), ("studentt_1000", 4), ("zerorow_8x96", 5),
                   ("levels_600", 5), ("levels_600", 3)]:
        ref["kmeans"].append({"input": inp, "k": k, "reference_sse": kmeans_reference(inputs[inp].ravel(), k),
                              "distinct": int(np.unique(inputs[inp]).size)})

    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1, sort_keys=True)
    total = sum(os.path.getsize(os.path.join(dp, fn)) for dp, _, fns in os.walk(OUT) for fn in fns)
    print(f"wrote {len(ref['cases'])} cases, {total} bytes under {OUT}")


if __name__ == "__main__":
    main()
