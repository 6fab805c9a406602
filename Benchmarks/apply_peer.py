"""`weightlab apply` GGUF -> GGUF against its peers, side by side in one run, on one model (see README).

python3 Benchmarks/apply_peer.py MODEL.gguf [--weightlab .build/release/weightlab] [--repeat 3]

For each ggml type (Q8_0, Q4_0), on the same tensors (every 2-D tensor of MODEL):
  weightlab apply            --no-verify, and with its verification (every value read back and compared);
  gguf-py quantize           gguf.quants.quantize of each tensor's float32 values (the tensors already
                             decoded, so only the quantizer is timed), single-threaded numpy;
  gguf-py quantize + write   the same, plus GGUFWriter writing the file (what a Python quantizer does);
  copy                       the input file's bytes copied to a new file and fsynced (cp + sync).
Wall time and CPU time (user + system, children included), of the best of --repeat runs; outputs go beside
MODEL and are removed.
"""
import argparse
import os
import resource
import subprocess
import tempfile
import time

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T

ap = argparse.ArgumentParser()
ap.add_argument("model")
ap.add_argument("--weightlab", default=".build/release/weightlab")
ap.add_argument("--repeat", type=int, default=3)
a = ap.parse_args()
directory = os.path.dirname(os.path.abspath(a.model))


def cpu():
    """CPU seconds (user + system) of this process and its finished children."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best(f):
    """(wall, cpu) of the run with the best wall time."""
    runs = []
    for _ in range(a.repeat):
        t0, c0 = time.perf_counter(), cpu()
        f()
        runs.append((time.perf_counter() - t0, cpu() - c0))
    return min(runs)


def out_path(name):
    return os.path.join(directory, name)


def remove(p):
    if os.path.exists(p):
        os.remove(p)


reader = gguf.GGUFReader(a.model)
weights = [t for t in reader.tensors if len(t.shape) >= 2]
size = os.path.getsize(a.model)
print(f"model: {a.model}, {size / 1e6:.0f} MB, {len(weights)} 2-D tensors")


def apply(kind, verify):
    plan = out_path(f"plan-{kind}.json")
    with open(plan, "w") as f:
        f.write('{"version": 1, "rules": [{"match": "\\\\.weight$", "quantize": {"format": "gguf", "type": "%s"}}, '
                '{"match": "_norm\\\\.weight$", "quantize": {"format": "none"}}]}' % kind.lower())
    out = out_path(f"bench-{kind}.gguf")

    def run():
        remove(out)
        cmd = [a.weightlab, "apply", a.model, "--plan", plan, "-o", out, "--quiet"] + ([] if verify else ["--no-verify"])
        subprocess.run(cmd, check=True)
    t = best(run)
    remove(out)
    remove(plan)
    return t


def gguf_py(kind, write):
    qtype = {"Q8_0": T.Q8_0, "Q4_0": T.Q4_0}[kind]
    floats = [np.asarray(t.data).astype(np.float32).reshape([int(d) for d in reversed(t.shape)]) for t in weights]
    out = out_path(f"bench-py-{kind}.gguf")

    def run():
        quantized = [gguf.quants.quantize(x, qtype) for x in floats]
        if write:
            remove(out)
            w = gguf.GGUFWriter(out, "llama")
            for t, q in zip(weights, quantized):
                w.add_tensor(t.name, q, raw_dtype=qtype)
            w.write_header_to_file()
            w.write_kv_data_to_file()
            w.write_tensors_to_file()
            w.close()
            fd = os.open(out, os.O_RDONLY)
            os.fsync(fd)
            os.close(fd)
    t = best(run)
    remove(out)
    return t


def copy():
    out = out_path("bench-copy.gguf")

    def run():
        remove(out)
        subprocess.run(["cp", a.model, out], check=True)
        fd = os.open(out, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
    t = best(run)
    remove(out)
    return t


rows = []
c = copy()
for kind in ["Q8_0", "Q4_0"]:
    wl = apply(kind, verify=False)
    wv = apply(kind, verify=True)
    py = gguf_py(kind, write=False)
    pw = gguf_py(kind, write=True)
    rows.append((kind, wl, wv, py, pw, c))

print("wall seconds (CPU seconds), best of", a.repeat)
print("| type | weightlab apply --no-verify | weightlab apply (verified) | gguf-py quantize | gguf-py quantize + write | copy (cp + fsync) | gguf-py / weightlab (wall) | weightlab / copy (wall) |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for kind, wl, wv, py, pw, c in rows:
    f = lambda r: f"{r[0]:.2f} ({r[1]:.2f})"
    print(f"| {kind} | {f(wl)} | {f(wv)} | {f(py)} | {f(pw)} | {f(c)} | {pw[0] / wl[0]:.1f}x | {wl[0] / c[0]:.2f}x |")
