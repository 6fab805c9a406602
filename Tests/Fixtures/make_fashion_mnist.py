"""Fixed Fashion-MNIST subset for the training tests (so they do not need the apt package), and the project's
own classifier trained on the full set by this numpy script (no deep-learning framework involved).

Needs Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist) and numpy + safetensors.
Writes:
  fashion_mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz: the first 2,000 training and 500 test samples,
      IDX as the originals, gzip with mtime 0 (reproducible bytes); LICENSE (the package's copyright file).
  fashion_mlp/fashion_mlp.safetensors: a 784-128-10 MLP (fc1, fc2; float32), 4 epochs of Adam (lr 1e-3,
      batch 64, seed 0) on all 60,000 training images scaled to [0, 1].
  fashion_mlp/fashion_mlp.json: its architecture description (flatten, linear fc1, relu, linear fc2).
  fashion_mlp/reference.json: top-1 accuracy computed by numpy from the committed weights on the full test set
      and on the subset.
"""
import gzip, json, os, shutil
import numpy as np
from safetensors.numpy import save_file, load_file

SRC = "/usr/share/datasets/fashion-mnist"
HERE = os.path.dirname(os.path.abspath(__file__))
SUB = os.path.join(HERE, "fashion_mnist")
MLP = os.path.join(HERE, "fashion_mlp")


def read_idx(name):
    with gzip.open(os.path.join(SRC, name), "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def write_idx(name, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with open(os.path.join(SUB, name), "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as f:
            f.write(header + array.astype(np.uint8).tobytes())


def forward(params, x):
    h = np.maximum(x @ params["fc1.weight"].T + params["fc1.bias"], 0)
    return h @ params["fc2.weight"].T + params["fc2.bias"]


def main():
    os.makedirs(SUB, exist_ok=True)
    os.makedirs(MLP, exist_ok=True)
    xtr, ytr = read_idx("train-images-idx3-ubyte.gz"), read_idx("train-labels-idx1-ubyte.gz")
    xte, yte = read_idx("t10k-images-idx3-ubyte.gz"), read_idx("t10k-labels-idx1-ubyte.gz")
    write_idx("train-images-idx3-ubyte.gz", xtr[:2000])
    write_idx("train-labels-idx1-ubyte.gz", ytr[:2000])
    write_idx("t10k-images-idx3-ubyte.gz", xte[:500])
    write_idx("t10k-labels-idx1-ubyte.gz", yte[:500])
    shutil.copyfile("/usr/share/doc/dataset-fashion-mnist/copyright", os.path.join(SUB, "LICENSE"))

    rng = np.random.default_rng(0)
    X = xtr.reshape(len(xtr), -1).astype(np.float32) / 255
    Y = ytr.astype(np.int64)
    sizes = [784, 128, 10]
    params = {}
    for i in range(1, len(sizes)):
        bound = 1 / np.sqrt(sizes[i - 1])
        params[f"fc{i}.weight"] = rng.uniform(-bound, bound, (sizes[i], sizes[i - 1])).astype(np.float32)
        params[f"fc{i}.bias"] = rng.uniform(-bound, bound, sizes[i]).astype(np.float32)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(v) for k, v in params.items()}
    step = 0
    for epoch in range(4):
        order = rng.permutation(len(X))
        for s in range(0, len(X), 64):
            idx = order[s:s + 64]
            x, y = X[idx], Y[idx]
            h_pre = x @ params["fc1.weight"].T + params["fc1.bias"]
            h = np.maximum(h_pre, 0)
            z = h @ params["fc2.weight"].T + params["fc2.bias"]
            p = np.exp(z - z.max(1, keepdims=True)); p /= p.sum(1, keepdims=True)
            dz = p; dz[np.arange(len(y)), y] -= 1; dz /= len(y)
            g = {"fc2.weight": dz.T @ h, "fc2.bias": dz.sum(0)}
            dh = (dz @ params["fc2.weight"]) * (h_pre > 0)
            g["fc1.weight"] = dh.T @ x; g["fc1.bias"] = dh.sum(0)
            step += 1
            for k in params:
                m[k] = 0.9 * m[k] + 0.1 * g[k]
                v[k] = 0.999 * v[k] + 0.001 * g[k] * g[k]
                params[k] -= (1e-3 * (m[k] / (1 - 0.9 ** step)) / (np.sqrt(v[k] / (1 - 0.999 ** step)) + 1e-8)).astype(np.float32)
        print("epoch", epoch, "test accuracy", float((forward(params, xte.reshape(len(xte), -1) / 255).argmax(1) == yte).mean()))
    save_file({k: np.ascontiguousarray(a.astype(np.float32)) for k, a in params.items()},
              os.path.join(MLP, "fashion_mlp.safetensors"))
    with open(os.path.join(MLP, "fashion_mlp.json"), "w") as f:
        json.dump({"kind": "sequential", "layers": [{"op": "flatten"}, {"op": "linear", "name": "fc1"}, {"op": "relu"},
                                                    {"op": "linear", "name": "fc2"}]}, f, indent=1)
        f.write("\n")
    # The reference accuracy from the committed file, read back.
    w = load_file(os.path.join(MLP, "fashion_mlp.safetensors"))
    full = float((forward(w, xte.reshape(len(xte), -1).astype(np.float32) / 255).argmax(1) == yte).mean())
    sub = float((forward(w, xte[:500].reshape(500, -1).astype(np.float32) / 255).argmax(1) == yte[:500]).mean())
    with open(os.path.join(MLP, "reference.json"), "w") as f:
        json.dump({"accuracy_t10k": full, "accuracy_t10k_first500": sub, "test_samples": int(len(yte)),
                   "generator": "numpy " + np.__version__}, f, indent=1)
        f.write("\n")
    print("reference", full, sub)


if __name__ == "__main__":
    main()
