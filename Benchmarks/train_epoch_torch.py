"""The torch peer of `weightlab bench --train DIR`: one epoch of Adam (batch 64, lr 1e-3) for a 784-512-512-10
MLP on Fashion-MNIST's 60,000 training images, single-threaded. Run in an environment with torch:
    python Benchmarks/train_epoch_torch.py /usr/share/datasets/fashion-mnist
Prints wall and user CPU seconds and the test accuracy.
"""
import gzip, os, resource, sys, time
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)
d = sys.argv[1] if len(sys.argv) > 1 else "/usr/share/datasets/fashion-mnist"


def idx(name):
    data = gzip.open(os.path.join(d, name)).read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * rank).reshape(dims)


x = torch.tensor(idx("train-images-idx3-ubyte.gz").reshape(-1, 784) / 255, dtype=torch.float32)
y = torch.tensor(idx("train-labels-idx1-ubyte.gz"), dtype=torch.long)
xt = torch.tensor(idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784) / 255, dtype=torch.float32)
yt = torch.tensor(idx("t10k-labels-idx1-ubyte.gz"), dtype=torch.long)
torch.manual_seed(0)
model = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))
opt = torch.optim.Adam(model.parameters(), lr=1e-3)
cpu0 = resource.getrusage(resource.RUSAGE_SELF).ru_utime
t0 = time.perf_counter()
for batch in torch.randperm(len(x)).split(64):
    loss = F.cross_entropy(model(x[batch]), y[batch])
    opt.zero_grad(); loss.backward(); opt.step()
wall = time.perf_counter() - t0
cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu0
with torch.no_grad():
    acc = float((model(xt).argmax(1) == yt).float().mean())
print(f"train-epoch 784-512-512-10: {len(x)} samples, {wall:.2f} s wall, {cpu:.2f} s user CPU, test accuracy {acc * 100:.2f} % (torch {torch.__version__}, 1 thread)")
