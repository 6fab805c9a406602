"""Writes a large F32 safetensors model of N(0, 0.02) weights for the benchmarks (not committed).

python3 Benchmarks/make_model.py OUT.safetensors [--layers 60] [--rows 2048] [--cols 2048]
60 layers of 2048x2048 F32 is 1.0 GB.
"""
import argparse
import numpy as np
from safetensors.numpy import save_file

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=60)
ap.add_argument("--rows", type=int, default=2048)
ap.add_argument("--cols", type=int, default=2048)
a = ap.parse_args()
rng = np.random.default_rng(0)
tensors = {}
for i in range(a.layers):
    tensors[f"layers.{i:02d}.weight"] = (rng.standard_normal((a.rows, a.cols), dtype=np.float32) * 0.02)
save_file(tensors, a.out, metadata={"generator": "Benchmarks/make_model.py"})
