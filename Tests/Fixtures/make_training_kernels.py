"""Reference gradients for the training module's backward kernels, computed once by torch autograd on tiny
shapes (run in a throwaway environment with torch; never a test or CI dependency):
    python Tests/Fixtures/make_training_kernels.py
Writes training/kernels.json: for each kernel its inputs, the upstream gradient `dy` and torch's gradients;
Adam's parameters after three steps; cross-entropy and distillation losses with their logit gradients.
"""
import json, os
import torch
import torch.nn.functional as F

torch.manual_seed(7)
HERE = os.path.dirname(os.path.abspath(__file__))


def t(x):
    return {"shape": list(x.shape), "values": [float(v) for v in x.detach().reshape(-1)]}


def case(name, fn, inputs, **kw):
    xs = [x.clone().requires_grad_(True) for x in inputs]
    y = fn(*xs)
    dy = torch.randn_like(y)
    y.backward(dy)
    return {"name": name, "inputs": [t(x) for x in inputs], "dy": t(dy), "y": t(y),
            "grads": [t(x.grad) for x in xs], **kw}


cases = [
    case("linear", lambda x, w, b: F.linear(x, w, b), [torch.randn(3, 5), torch.randn(4, 5), torch.randn(4)]),
    case("conv2d", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 2), dilation=1, groups=1),
         [torch.randn(2, 3, 5, 4), torch.randn(4, 3, 3, 2), torch.randn(4)], stride=[2, 1], padding=[1, 2], dilation=[1, 1], groups=1),
    case("conv2d_groups", lambda x, w, b: F.conv2d(x, w, b, stride=1, padding=1, dilation=(2, 1), groups=2),
         [torch.randn(1, 4, 5, 5), torch.randn(6, 2, 2, 3), torch.randn(6)], stride=[1, 1], padding=[1, 1], dilation=[2, 1], groups=2),
    case("relu", F.relu, [torch.randn(2, 7)]),
    case("gelu", lambda x: F.gelu(x), [torch.randn(2, 7) * 2]),
    case("tanh", torch.tanh, [torch.randn(2, 7)]),
    case("max_pool2d", lambda x: F.max_pool2d(x, 2, stride=2, padding=1), [torch.randn(2, 2, 5, 4)], kernel=[2, 2], stride=[2, 2], padding=[1, 1]),
    case("avg_pool2d", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=True), [torch.randn(1, 2, 5, 6)],
         kernel=[3, 3], stride=[2, 2], padding=[1, 1]),
]

logits = torch.randn(4, 5) * 2
labels = torch.tensor([0, 3, 4, 1])
teacher = torch.randn(4, 5) * 3
z = logits.clone().requires_grad_(True)
ce = F.cross_entropy(z, labels)
ce.backward()
losses = {"logits": t(logits), "labels": labels.tolist(), "teacher": t(teacher),
          "cross_entropy": float(ce), "cross_entropy_grad": t(z.grad)}
z = logits.clone().requires_grad_(True)
T, a = 3.0, 0.6
kd = a * T * T * F.kl_div(F.log_softmax(z / T, 1), F.softmax(teacher / T, 1), reduction="batchmean") + (1 - a) * F.cross_entropy(z, labels)
kd.backward()
losses.update({"alpha": a, "temperature": T, "distillation": float(kd), "distillation_grad": t(z.grad)})

w = torch.randn(6)
grads = [torch.randn(6) for _ in range(3)]
p = w.clone().requires_grad_(True)
opt = torch.optim.Adam([p], lr=0.01)
for g in grads:
    p.grad = g.clone()
    opt.step()
adam = {"initial": t(w), "gradients": [t(g) for g in grads], "lr": 0.01, "after": t(p)}

out = {"torch": torch.__version__, "kernels": cases, "losses": losses, "adam": adam}
with open(os.path.join(HERE, "training", "kernels.json"), "w") as f:
    json.dump(out, f)
    f.write("\n")
