"""Calibrates the recovery tests' thresholds once in PyTorch on the same data and model as the Swift tests:
the committed Fashion-MNIST subset (fashion_mnist/, 2,000 train / 500 test) and the committed 784-128-10 MLP
(fashion_mlp/). Run in a throwaway environment with torch (it is never a test or CI dependency):
    python Tests/Fixtures/make_recovery_calibration.py
Writes fashion_mlp/recovery_calibration.json. The tests assert the issue's claims (pruning 90 % costs more
than 30 points, one epoch of masked fine-tuning comes within 3 points of the dense model, 3-bit QAT recovers
more than 5 points); these numbers show what torch reaches on the same setup, so the margins are known.
"""
import gzip, json, os
import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import load_file

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))


def idx(name):
    data = gzip.open(os.path.join(HERE, "fashion_mnist", name)).read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(dims)


xtr = torch.tensor(idx("train-images-idx3-ubyte.gz").reshape(-1, 784) / 255, dtype=torch.float32)
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz"), dtype=torch.long)
xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255, dtype=torch.float32)
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
dense = {k: torch.tensor(v) for k, v in load_file(os.path.join(HERE, "fashion_mlp", "fashion_mlp.safetensors")).items()}


def forward(p, x):
    return F.linear(F.relu(F.linear(x, p["fc1.weight"], p["fc1.bias"])), p["fc2.weight"], p["fc2.bias"])


def accuracy(p):
    with torch.no_grad():
        return float((forward(p, xte).argmax(1) == yte).float().mean())


def magnitude_mask(w, sparsity):
    """torch l1_unstructured as weightlab's `magnitude` sparsity: the floor(s·n) smallest |w| zeroed, ties by index."""
    n = w.numel(); k = int(sparsity * n)
    order = np.argsort(np.abs(w.numpy()).ravel(), kind="stable")
    m = np.ones(n, np.float32); m[order[:k]] = 0
    return torch.tensor(m.reshape(w.shape))


def fake_int(w, bits, channel):
    """weightlab's int codec, symmetric minmax: scale = absmax/qmax (Float32), q = clamp(round_half_even(w/scale))."""
    qmax = 2 ** (bits - 1) - 1
    a = w.abs().amax(1, keepdim=True) if channel else w.abs().max()
    scale = a / qmax
    safe = torch.where(scale == 0, torch.ones_like(scale), scale)
    return torch.where(scale == 0, torch.zeros_like(w), torch.clamp(torch.round(w / safe), -qmax - 1, qmax) * scale)


def train(p, masks=None, quant=None, epochs=1, batch=32, lr=1e-3, seed=0, teacher=None, alpha=0.7, T=4.0):
    p = {k: v.clone().requires_grad_(True) for k, v in p.items()}
    opt = torch.optim.Adam(p.values(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(epochs):
        for idx_ in torch.randperm(len(xtr), generator=g).split(batch):
            eff = {}
            for k, v in p.items():
                e = v * masks[k] if masks and k in masks else v
                if quant and k.endswith("weight"):
                    e = e + (quant(e) - e).detach()   # straight-through
                eff[k] = e
            z = forward(eff, xtr[idx_])
            loss = F.cross_entropy(z, ytr[idx_])
            if teacher is not None:
                kl = F.kl_div(F.log_softmax(z / T, 1), F.softmax(teacher[idx_] / T, 1), reduction="batchmean")
                loss = alpha * T * T * kl + (1 - alpha) * loss
            opt.zero_grad(); loss.backward(); opt.step()
            if masks:
                with torch.no_grad():
                    for k, m in masks.items(): p[k].mul_(m)
    out = {k: v.detach() for k, v in p.items()}
    if masks:
        out = {k: v * masks[k] if k in masks else v for k, v in out.items()}
    return out


def quantized(p, quant):
    return {k: quant(v) if k.endswith("weight") else v for k, v in p.items()}


def main():
    result = {"torch": torch.__version__, "train_samples": len(xtr), "test_samples": len(xte),
              "dense_accuracy": accuracy(dense), "runs": []}
    # Per-layer magnitude 90 %: fc2 keeps 128 of 1,280 weights, and 2,000 samples cannot bring that back.
    masks = {k: magnitude_mask(v, 0.9) for k, v in dense.items() if k.endswith("weight")}
    pruned = {k: v * masks[k] if k in masks else v for k, v in dense.items()}
    result["pruned90_layer_accuracy"] = accuracy(pruned)
    for seed in (0, 1, 2):
        rec = train(pruned, masks=masks, batch=32, lr=2e-3, seed=seed)
        result["runs"].append({"what": "magnitude 90% per layer, recover 1 epoch", "batch": 32, "lr": 2e-3, "seed": seed, "accuracy": accuracy(rec)})
    # Global magnitude 90 % (one threshold over fc1 and fc2, weightlab's global_magnitude): the tests' setup.
    flat = np.concatenate([np.abs(dense[k].numpy()).ravel() for k in ("fc1.weight", "fc2.weight")])
    cut = np.sort(flat)[int(0.9 * len(flat))]
    masks = {k: (dense[k].abs() >= float(cut)).float() for k in ("fc1.weight", "fc2.weight")}
    pruned = {k: v * masks[k] if k in masks else v for k, v in dense.items()}
    result["pruned90_global_accuracy"] = accuracy(pruned)
    for batch, lr in ((32, 1e-3), (32, 2e-3), (64, 2e-3)):
        for seed in (0, 1, 2):
            rec = train(pruned, masks=masks, batch=batch, lr=lr, seed=seed)
            result["runs"].append({"what": "global magnitude 90%, recover 1 epoch", "batch": batch, "lr": lr, "seed": seed, "accuracy": accuracy(rec)})
    for bits, channel in ((3, True), (3, False), (2, True)):
        q = lambda w, b=bits, c=channel: fake_int(w, b, c)
        before = accuracy(quantized(dense, q))
        for seed in (0, 1, 2):
            rec = train(dense, quant=q, batch=32, lr=1e-3, seed=seed)
            result["runs"].append({"what": f"int{bits} {'channel' if channel else 'tensor'} QAT 1 epoch", "batch": 32, "lr": 1e-3,
                                   "seed": seed, "before": before, "accuracy": accuracy(quantized(rec, q))})
    with torch.no_grad():
        teacher = forward(dense, xtr)
    torch.manual_seed(0)
    student = {"fc1.weight": (torch.rand(32, 784) * 2 - 1) / 28, "fc1.bias": (torch.rand(32) * 2 - 1) / 28,
               "fc2.weight": (torch.rand(10, 32) * 2 - 1) / 32 ** 0.5, "fc2.bias": (torch.rand(10) * 2 - 1) / 32 ** 0.5}
    for epochs in (1, 3):
        kd = train(student, teacher=teacher, epochs=epochs, batch=32)
        ce = train(student, epochs=epochs, batch=32)
        result["runs"].append({"what": f"student 784-32-10 {epochs} epochs", "distilled": accuracy(kd), "baseline": accuracy(ce)})
    path = os.path.join(HERE, "fashion_mlp", "recovery_calibration.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1); f.write("\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
