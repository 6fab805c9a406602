#!/usr/bin/env python3
"""Records the per-tensor types llama-quantize picks for each preset, on small GGUF models written with gguf-py.

The oracle is llama-quantize itself, built from the llama.cpp sources vendored in the PyPI sdist
`llama-cpp-python` (0.3.36 here):

    pip download --no-deps --no-binary llama-cpp-python llama-cpp-python==0.3.36
    tar xzf llama_cpp_python-0.3.36.tar.gz && cd llama_cpp_python-0.3.36/vendor/llama.cpp
    cmake -B build -DGGML_NATIVE=OFF -DGGML_OPENMP=OFF -DLLAMA_CURL=OFF -DCMAKE_BUILD_TYPE=Release
    cmake --build build --target llama-quantize

Run:  LLAMA_QUANTIZE=/path/to/llama-quantize python3 Tests/Fixtures/make_presets.py
It writes each model (F16 weights, llama-architecture metadata, no real values: type choice reads only names,
shapes and metadata) to a temporary directory, runs `llama-quantize --dry-run MODEL PRESET` and parses the
`(type)` column. CI does not run this; the Swift tests read presets/reference.json:
  models: name -> metadata (architecture, block_count, head counts, expert_count) and tensors (name, NumPy shape)
  choices: model -> preset -> tensor -> ggml type name as llama-quantize prints it (source type when kept)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import gguf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "presets")
PRESETS = ["Q2_K", "Q3_K_S", "Q3_K_M", "Q3_K_L", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K_S", "Q4_K_M",
           "Q5_K_S", "Q5_K_M", "Q6_K", "Q8_0", "IQ4_NL", "IQ4_XS", "Q2_K_S"]  # Q2_K_S: --dry-run lists it without a matrix


def llama_model(layers, embd, heads, kv_heads, ff, vocab, tied=False, experts=0, ff_down_rows=None):
    """Tensors (GGUF name, NumPy shape) of a llama-architecture model, and its metadata."""
    head_dim = embd // heads
    t = [("token_embd.weight", (vocab, embd)), ("output_norm.weight", (embd,))]
    if not tied:
        t.append(("output.weight", (vocab, embd)))
    for i in range(layers):
        b = f"blk.{i}."
        t += [(b + "attn_norm.weight", (embd,)), (b + "ffn_norm.weight", (embd,)),
              (b + "attn_q.weight", (heads * head_dim, embd)), (b + "attn_k.weight", (kv_heads * head_dim, embd)),
              (b + "attn_v.weight", (kv_heads * head_dim, embd)), (b + "attn_output.weight", (embd, heads * head_dim))]
        if experts:
            t += [(b + "ffn_gate_inp.weight", (experts, embd)),
                  (b + "ffn_gate_exps.weight", (experts, ff, embd)), (b + "ffn_up_exps.weight", (experts, ff, embd)),
                  (b + "ffn_down_exps.weight", (experts, embd, ff))]
        else:
            t += [(b + "ffn_gate.weight", (ff, embd)), (b + "ffn_up.weight", (ff, embd)),
                  (b + "ffn_down.weight", (embd, ff_down_rows or ff))]
    meta = {"architecture": "llama", "block_count": layers, "head_count": heads, "head_count_kv": kv_heads,
            "expert_count": experts, "embedding_length": embd, "feed_forward_length": ff_down_rows or ff}
    return meta, t


MODELS = {
    # 32 layers, 4 query heads per kv head, untied output: the Llama-3-8B pattern in miniature.
    "llama32_gqa4": llama_model(32, 256, 8, 2, 512, 512),
    # 8 layers, no grouped-query attention, tied embeddings, ffn rows of 288 (not a multiple of 256).
    "llama8_tied_ff288": llama_model(8, 256, 4, 4, 288, 320, tied=True),
    # 4 layers of 8 experts (the Mixtral rules), grouped-query attention 2.
    "llama4_moe8": llama_model(4, 256, 8, 4, 256, 256, experts=8),
    # 40 layers, rows of 96 in every projection (nothing K-quantizable: the fallbacks everywhere).
    "llama40_embd96": llama_model(40, 96, 4, 4, 96, 128),
}


def write_model(path, meta, tensors):
    w = gguf.GGUFWriter(path, meta["architecture"])
    a = meta["architecture"]
    w.add_block_count(meta["block_count"])
    w.add_context_length(256)
    w.add_embedding_length(meta["embedding_length"])
    w.add_feed_forward_length(meta["feed_forward_length"])
    w.add_head_count(meta["head_count"])
    w.add_head_count_kv(meta["head_count_kv"])
    w.add_layer_norm_rms_eps(1e-5)
    if meta["expert_count"]:
        w.add_expert_count(meta["expert_count"])
        w.add_expert_used_count(2)
    w.add_file_type(1)
    for name, shape in tensors:
        dtype = np.float32 if len(shape) == 1 or name.endswith("ffn_gate_inp.weight") else np.float16
        w.add_tensor(name, np.zeros(shape, dtype))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


LINE = re.compile(r"^\[\s*\d+/\s*\d+\]\s+(\S+)\s+- \[[^\]]*\], type =\s*(\S+), size =[^(]*(?:\((\S+)\))?\s*$")


def run(quantize, model, preset):
    p = subprocess.run([quantize, "--dry-run", model, preset], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"llama-quantize failed for {preset}:\n{p.stderr[-2000:]}")
    types = {}
    for line in (p.stdout + p.stderr).splitlines():
        m = LINE.match(line.strip())
        if m:
            types[m.group(1)] = (m.group(3) or m.group(2)).upper()
    return types


def main():
    quantize = os.environ.get("LLAMA_QUANTIZE")
    if not quantize:
        sys.exit("set LLAMA_QUANTIZE to the llama-quantize binary")
    os.makedirs(OUT, exist_ok=True)
    ref = {"oracle": "llama-quantize --dry-run, llama.cpp vendored in llama-cpp-python 0.3.36", "models": {}, "choices": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (meta, tensors) in MODELS.items():
            path = os.path.join(tmp, name + ".gguf")
            write_model(path, meta, tensors)
            ref["models"][name] = {"metadata": meta, "tensors": [[n, list(s)] for n, s in tensors]}
            ref["choices"][name] = {}
            for preset in PRESETS:
                types = run(quantize, path, preset)
                assert len(types) == len(tensors), (name, preset, len(types), len(tensors))
                ref["choices"][name][preset] = types
            print(name, "done")
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
