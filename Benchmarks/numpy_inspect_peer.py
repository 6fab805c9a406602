"""The numpy peer of `weightlab inspect`: min, max, mean and std (float64 accumulation) of every tensor of a
safetensors file, read through safetensors' numpy loader with memory mapping (safe_open).

python3 Benchmarks/numpy_inspect_peer.py MODEL.safetensors
Time it with: /usr/bin/time -v python3 Benchmarks/numpy_inspect_peer.py MODEL.safetensors
"""
import sys
import numpy as np
from safetensors import safe_open

with safe_open(sys.argv[1], framework="numpy") as f:
    for name in f.keys():
        t = f.get_tensor(name)
        print(name, t.dtype, t.shape, t.min(), t.max(), t.mean(dtype=np.float64), t.std(dtype=np.float64))
