"""Writes a large F16 GGUF model of N(0, 0.02) weights for the apply benchmark (not committed), with gguf-py.

python3 Benchmarks/make_gguf_model.py OUT.gguf [--layers 32] [--rows 2048] [--cols 2048]
32 layers of 2048x2048 F16 is 268 MB (plus a 2048-value F32 norm per layer, left alone by the plans).
"""
import argparse
import numpy as np
import gguf

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=32)
ap.add_argument("--rows", type=int, default=2048)
ap.add_argument("--cols", type=int, default=2048)
a = ap.parse_args()
rng = np.random.default_rng(0)
w = gguf.GGUFWriter(a.out, "llama")
w.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
w.add_block_count(a.layers)
for i in range(a.layers):
    w.add_tensor(f"blk.{i}.ffn_up.weight", (rng.standard_normal((a.rows, a.cols), dtype=np.float32) * 0.02).astype(np.float16))
    w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(a.cols, dtype=np.float32))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
