"""Writes a Llama-2-7B-shaped BF16 safetensors model of N(0, 0.02) weights (13.5 GB; not committed), streaming
tensor by tensor so the generator itself needs little memory.

python3 Benchmarks/make_7b_model.py OUT.safetensors [--layers 32] [--hidden 4096] [--ffn 11008] [--vocab 32000]

Names and shapes are Hugging Face Llama's (`model.layers.N.self_attn.q_proj.weight`, …); norms are ones.
The values are random, so the file measures throughput and memory, not a real model's error.
"""
import argparse
import json
import struct

import numpy as np

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--layers", type=int, default=32)
ap.add_argument("--hidden", type=int, default=4096)
ap.add_argument("--ffn", type=int, default=11008)
ap.add_argument("--vocab", type=int, default=32000)
a = ap.parse_args()

h, f = a.hidden, a.ffn
tensors = [("model.embed_tokens.weight", (a.vocab, h))]
for i in range(a.layers):
    p = f"model.layers.{i}."
    tensors += [(p + "self_attn.q_proj.weight", (h, h)), (p + "self_attn.k_proj.weight", (h, h)),
                (p + "self_attn.v_proj.weight", (h, h)), (p + "self_attn.o_proj.weight", (h, h)),
                (p + "mlp.gate_proj.weight", (f, h)), (p + "mlp.up_proj.weight", (f, h)),
                (p + "mlp.down_proj.weight", (h, f)),
                (p + "input_layernorm.weight", (h,)), (p + "post_attention_layernorm.weight", (h,))]
tensors += [("model.norm.weight", (h,)), ("lm_head.weight", (a.vocab, h))]

header, offset = {"__metadata__": {"generator": "Benchmarks/make_7b_model.py"}}, 0
for name, shape in tensors:
    size = int(np.prod(shape)) * 2
    header[name] = {"dtype": "BF16", "shape": list(shape), "data_offsets": [offset, offset + size]}
    offset += size
text = json.dumps(header, separators=(",", ":")).encode()
text += b" " * (-len(text) % 8)

rng = np.random.default_rng(0)
chunk = 1 << 24
with open(a.out, "wb") as out:
    out.write(struct.pack("<Q", len(text)))
    out.write(text)
    for name, shape in tensors:
        n = int(np.prod(shape))
        if len(shape) == 1:
            out.write((np.ones(n, dtype=np.float32).view(np.uint32) >> 16).astype(np.uint16).tobytes())
            continue
        for start in range(0, n, chunk):
            x = rng.standard_normal(min(chunk, n - start), dtype=np.float32) * np.float32(0.02)
            # BF16 by round-to-nearest-even on the float32 bits (as torch and ml_dtypes convert).
            bits = x.view(np.uint32)
            bits = bits + np.uint32(0x7FFF) + ((bits >> 16) & np.uint32(1))
            out.write((bits >> 16).astype(np.uint16).tobytes())
print(f"{a.out}: {len(tensors)} tensors, {offset / 1e9:.2f} GB of BF16")
