#!/usr/bin/env python3
"""Writes the `weightlab compare` fixtures in Tests/Fixtures/compare/ with numpy, safetensors and gguf-py 0.19.0.

    python3 Tests/Fixtures/make_compare.py

Files:
  hf.safetensors      a tiny llama-family checkpoint with Hugging Face names (2 layers, n_embd 64, 4 query heads
                      of 16, 2 key/value heads, n_ff 96, vocab 40), float32, plus an int64 `position_ids`
  noisy.safetensors   the same names with noise added and some weights zeroed (as a compressed model would be);
                      `lm_head.weight` left out (only in A), `extra.only_in_b` added (only in B),
                      `model.layers.1.mlp.up_proj.weight` transposed (a shape mismatch); one tensor stored F16
  llama.gguf          what llama.cpp's converter makes of the noisy weights: GGUF names, attn_q/attn_k rows
                      permuted (`LlamaModel.permute`), attention Q8_0, ffn_down Q4_0, other matrices F16, norms F32
                      (gguf.quants.quantize), llama.attention.head_count 4 / head_count_kv 2
  reference.json      per compared pair and in total: MSE, SQNR dB, max abs error, cosine and the zero fraction of B,
                      computed with numpy in float64 from the float32 values (the GGUF side through
                      gguf.quants.dequantize and the inverse permutation), for `compare hf noisy` and
                      `compare hf llama.gguf --map llama`; plus the names listed on one side only / mismatched
"""
import json
import math
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from safetensors.numpy import save_file

from importlib.metadata import version
assert version("gguf") == "0.19.0", version("gguf")

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "compare")
rng = np.random.default_rng(20261130)
f32 = np.float32

N_EMBD, N_HEAD, N_KV, N_FF, VOCAB, LAYERS = 64, 4, 2, 96, 40, 2
HD = N_EMBD // N_HEAD


def hf_tensors():
    t = {"model.embed_tokens.weight": rng.normal(0, 0.02, (VOCAB, N_EMBD))}
    for i in range(LAYERS):
        p = "model.layers.%d." % i
        t[p + "input_layernorm.weight"] = 1 + rng.normal(0, 0.1, N_EMBD)
        t[p + "self_attn.q_proj.weight"] = rng.normal(0, 0.05, (N_HEAD * HD, N_EMBD))
        t[p + "self_attn.k_proj.weight"] = rng.normal(0, 0.05, (N_KV * HD, N_EMBD))
        t[p + "self_attn.v_proj.weight"] = rng.normal(0, 0.05, (N_KV * HD, N_EMBD))
        t[p + "self_attn.o_proj.weight"] = rng.normal(0, 0.05, (N_EMBD, N_HEAD * HD))
        t[p + "post_attention_layernorm.weight"] = 1 + rng.normal(0, 0.1, N_EMBD)
        t[p + "mlp.gate_proj.weight"] = rng.laplace(0, 0.03, (N_FF, N_EMBD))
        t[p + "mlp.up_proj.weight"] = rng.laplace(0, 0.03, (N_FF, N_EMBD))
        t[p + "mlp.down_proj.weight"] = rng.laplace(0, 0.03, (N_EMBD, N_FF))
    t["model.norm.weight"] = 1 + rng.normal(0, 0.1, N_EMBD)
    t["lm_head.weight"] = rng.normal(0, 0.02, (VOCAB, N_EMBD))
    return {k: v.astype(f32) for k, v in t.items()}


def noisy(hf):
    out = {}
    for k, v in hf.items():
        n = v + rng.normal(0, 0.1 * float(np.std(v)), v.shape).astype(f32)
        n[np.abs(v) < 0.3 * float(np.std(v))] = 0   # pruned weights
        out[k] = n.astype(f32)
    return out


def permute(w, n_head):
    """convert_hf_to_gguf.py LlamaModel.permute."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


GGUF_NAMES = {"input_layernorm": "attn_norm", "self_attn.q_proj": "attn_q", "self_attn.k_proj": "attn_k",
              "self_attn.v_proj": "attn_v", "self_attn.o_proj": "attn_output", "post_attention_layernorm": "ffn_norm",
              "mlp.gate_proj": "ffn_gate", "mlp.up_proj": "ffn_up", "mlp.down_proj": "ffn_down"}


def gguf_name(hf_name):
    whole = {"model.embed_tokens.weight": "token_embd.weight", "lm_head.weight": "output.weight",
             "model.norm.weight": "output_norm.weight"}
    if hf_name in whole:
        return whole[hf_name]
    _, _, layer, rest = hf_name.split(".", 3)
    module, suffix = rest.rsplit(".", 1)
    return "blk.%s.%s.%s" % (layer, GGUF_NAMES[module], suffix)


def metrics(a, b):
    """ErrorMetrics as DESIGN.md §5 defines them: differences in float32, sums in float64."""
    a = a.astype(f32).ravel()
    b = b.astype(f32).ravel()
    e = (a - b).astype(np.float64)
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    sww, see = float(np.sum(a64 * a64)), float(np.sum(e * e))
    swh, shh = float(np.sum(a64 * b64)), float(np.sum(b64 * b64))
    return {"count": int(a.size), "sum_squares": sww, "sum_squared_error": see, "sum_products": swh,
            "sum_squares_reconstructed": shh, "max_abs_error": float(np.max(np.abs(e))) if a.size else 0.0,
            "zeros": int(np.sum(b == 0))}


def derived(m):
    out = dict(m)
    out["mse"] = m["sum_squared_error"] / m["count"]
    out["sqnr_db"] = 10 * math.log10(m["sum_squares"] / m["sum_squared_error"]) if m["sum_squared_error"] > 0 else None
    out["cosine"] = m["sum_products"] / math.sqrt(m["sum_squares"] * m["sum_squares_reconstructed"])
    out["sparsity"] = m["zeros"] / m["count"]
    return out


def total(ms):
    t = {"count": 0, "sum_squares": 0.0, "sum_squared_error": 0.0, "sum_products": 0.0,
         "sum_squares_reconstructed": 0.0, "max_abs_error": 0.0, "zeros": 0}
    for m in ms:
        for k in t:
            t[k] = max(t[k], m[k]) if k == "max_abs_error" else t[k] + m[k]
    return derived(t)


def main():
    os.makedirs(OUT, exist_ok=True)
    hf = hf_tensors()
    nz = noisy(hf)
    positions = np.arange(16, dtype=np.int64)

    a_file = dict(hf)
    a_file["position_ids"] = positions
    save_file(a_file, os.path.join(OUT, "hf.safetensors"))

    b_file = {k: v for k, v in nz.items() if k != "lm_head.weight"}
    b_file["model.layers.1.mlp.up_proj.weight"] = np.ascontiguousarray(nz["model.layers.1.mlp.up_proj.weight"].T)
    b_file["model.layers.0.mlp.gate_proj.weight"] = nz["model.layers.0.mlp.gate_proj.weight"].astype(np.float16)
    b_file["extra.only_in_b"] = rng.normal(0, 1, 8).astype(f32)
    b_file["position_ids"] = positions
    save_file(b_file, os.path.join(OUT, "noisy.safetensors"))

    # compare hf noisy: A's order, matched by name.
    plain = []
    for k, v in a_file.items():
        if k not in b_file or b_file[k].shape != v.shape or v.dtype.kind != "f":
            continue
        b = b_file[k].astype(f32)
        plain.append((k, metrics(v, b)))

    # llama.gguf from the noisy weights.
    w = gguf.GGUFWriter(os.path.join(OUT, "llama.gguf"), arch="llama")
    w.add_block_count(LAYERS)
    w.add_context_length(128)
    w.add_embedding_length(N_EMBD)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_KV)
    mapped = []
    for k, v in nz.items():
        g = gguf_name(k)
        x = v
        if k.endswith("q_proj.weight"):
            x = permute(v, N_HEAD)
        elif k.endswith("k_proj.weight"):
            x = permute(v, N_KV)
        if v.ndim == 1:
            qtype = T.F32
        elif ".attn_" in g:
            qtype = T.Q8_0
        elif ".ffn_down" in g:
            qtype = T.Q4_0
        else:
            qtype = T.F16
        if qtype == T.F32:
            data = x
            deq = x
        elif qtype == T.F16:
            data = x.astype(np.float16)
            deq = data.astype(f32)
        else:
            data = gguf.quants.quantize(x, qtype)
            deq = gguf.quants.dequantize(data, qtype).reshape(x.shape)
        w.add_tensor(g, data, raw_dtype=qtype if qtype not in (T.F32, T.F16) else None)
        # Back to HF row order for the comparison.
        if k.endswith("q_proj.weight"):
            heads = N_HEAD
        elif k.endswith("k_proj.weight"):
            heads = N_KV
        else:
            heads = None
        if heads is not None:
            rows, hd = deq.shape[0], deq.shape[0] // heads
            order = [h * hd + 2 * (r % (hd // 2)) + r // (hd // 2) for h in range(heads) for r in range(hd)]
            deq = deq[order]
        if k in hf:
            mapped.append((k, metrics(hf[k], deq)))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    ref = {
        "plain": {
            "pairs": [dict(name=k, **derived(m)) for k, m in plain],
            "total": total([m for _, m in plain]),
            "only_in_a": ["lm_head.weight"],
            "only_in_b": ["extra.only_in_b"],
            "shape_mismatches": ["model.layers.1.mlp.up_proj.weight"],
            "not_compared": ["position_ids"],
        },
        "llama": {
            "pairs": [dict(name=k, **derived(m)) for k, m in mapped],
            "total": total([m for _, m in mapped]),
            "only_in_a": ["position_ids"],
            "only_in_b": [],
        },
    }
    with open(os.path.join(OUT, "reference.json"), "w") as f:
        json.dump(ref, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
