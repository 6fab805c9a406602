#!/usr/bin/env python3
"""One real run of the recover.py that `weightlab export-recovery` generates, for the re-import tests
(Tests/weightlabTests/ExportRecoveryCommandTests.swift).

Writes Tests/Fixtures/recovery/:
  model.safetensors            a small MLP (Linear 20-32-16-5 with ReLU between), numpy, seeded
  arch.json, data.npz          its architecture for `weightlab eval --arch` and 64 labelled samples
                               (labels = the original model's argmax)
  plan.json                    fc1/fc2: magnitude pruning 50 % + int4 per channel; fc3: int8 asymmetric
                               groups of 8; biases untouched
  plan_none.json               a plan that changes nothing (for `eval` of the recovered model as it is)
  expected_masks.safetensors   numpy's masks for the plan's pruning: 1 kept, 0 the floor(0.5 n) smallest
                               magnitudes (ties by index), the reference the export's masks are checked against
  recovered.safetensors        recover.py's output after 300 steps (synthetic data, distillation alpha 0.5, QAT)
  recovered_float.safetensors  the same weights before the final fake quantization (masked floats)
  bert_plan.json               for evalnet/tiny_bert (a Hugging Face BERT directory): the encoder's matrices
                               pruned 50 % + int4 asymmetric in groups of 16
  bert_recovered.safetensors   recover.py's output for it through transformers (AutoModelForSequenceClassification,
  bert_recovered_float...      names with the `bert.` prefix), 20 steps on random token ids; only when the torch
                               Python has transformers, else the committed files are kept
  run.json                     torch/safetensors/transformers versions and the command lines used

Needs numpy and safetensors for the model, the weightlab executable (default .build/debug/weightlab) and a
Python with torch for the run (default /work/venv-torch/bin/python; never a CI requirement):
  python3 Tests/Fixtures/make_recovery_run.py [--weightlab PATH] [--torch-python PATH]
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from safetensors.numpy import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "recovery")
ROOT = os.path.dirname(os.path.dirname(HERE))
SIZES = [(32, 20), (16, 32), (5, 16)]


def model_files():
    rng = np.random.default_rng(14)
    tensors = {}
    for k, (o, i) in enumerate(SIZES):
        tensors["fc%d.weight" % (k + 1)] = (rng.standard_normal((o, i)) / np.sqrt(i)).astype(np.float32)
        tensors["fc%d.bias" % (k + 1)] = (rng.standard_normal(o) * 0.1).astype(np.float32)
    save_file(tensors, os.path.join(OUT, "model.safetensors"))

    x = rng.standard_normal((64, 20)).astype(np.float32)
    h = x
    for k in range(3):
        h = h @ tensors["fc%d.weight" % (k + 1)].T + tensors["fc%d.bias" % (k + 1)]
        if k < 2:
            h = np.maximum(h, 0)
    np.savez(os.path.join(OUT, "data.npz"), input=x, labels=h.argmax(axis=1).astype(np.int64))
    arch = {"kind": "mlp", "layers": [{"op": "linear", "name": "fc1"}, {"op": "relu"}, {"op": "linear", "name": "fc2"},
                                      {"op": "relu"}, {"op": "linear", "name": "fc3"}]}
    json.dump(arch, open(os.path.join(OUT, "arch.json"), "w"), indent=1)

    plan = {"version": 1, "note": "make_recovery_run.py: prune 50 % + int4 per channel, int8 asym g8 for the head",
            "rules": [{"match": "^fc[12]\\.weight$", "prune": {"method": "magnitude", "sparsity": 0.5},
                       "quantize": {"format": "int", "bits": 4, "symmetric": True, "granularity": "channel", "clip": "minmax"}},
                      {"match": "^fc3\\.weight$",
                       "quantize": {"format": "int", "bits": 8, "symmetric": False, "granularity": {"group": 8}, "clip": "minmax"}}]}
    json.dump(plan, open(os.path.join(OUT, "plan.json"), "w"), indent=1)
    json.dump({"version": 1, "note": "make_recovery_run.py: changes nothing"}, open(os.path.join(OUT, "plan_none.json"), "w"), indent=1)

    masks = {}
    for name in ("fc1.weight", "fc2.weight"):
        w = tensors[name].reshape(-1)
        order = np.argsort(np.abs(w), kind="stable")   # ties broken by index
        keep = np.ones(w.size, dtype=np.uint8)
        keep[order[: int(np.floor(0.5 * w.size))]] = 0
        masks[name] = keep.reshape(tensors[name].shape)
    save_file(masks, os.path.join(OUT, "expected_masks.safetensors"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--weightlab", default=os.path.join(ROOT, ".build", "debug", "weightlab"))
    p.add_argument("--torch-python", default="/work/venv-torch/bin/python")
    args = p.parse_args()
    os.makedirs(OUT, exist_ok=True)
    model_files()
    bert_plan = {"version": 1, "note": "make_recovery_run.py: tiny_bert's encoder matrices",
                 "rules": [{"match": "^encoder\\..*(query|key|value|dense)\\.weight$", "prune": {"method": "magnitude", "sparsity": 0.5},
                            "quantize": {"format": "int", "bits": 4, "symmetric": False, "granularity": {"group": 16}, "clip": "minmax"}}]}
    json.dump(bert_plan, open(os.path.join(OUT, "bert_plan.json"), "w"), indent=1)
    has_transformers = subprocess.run([args.torch_python, "-c", "import transformers"], capture_output=True).returncode == 0
    with tempfile.TemporaryDirectory() as tmp:
        if has_transformers:
            export = os.path.join(tmp, "bert")
            subprocess.run([args.weightlab, "export-recovery", os.path.join(HERE, "evalnet", "tiny_bert"), "--plan",
                            os.path.join(OUT, "bert_plan.json"), "-o", export, "--alpha", "0.5"], check=True)
            subprocess.run([args.torch_python, os.path.join(export, "recover.py"), "--synthetic", "--steps", "20", "--lr", "0.001",
                            "--threads", "1", "-o", os.path.join(OUT, "bert_recovered.safetensors"),
                            "--float-output", os.path.join(OUT, "bert_recovered_float.safetensors")], check=True)
        else:
            print("make_recovery_run.py: no transformers in %s; the BERT run is kept as committed" % args.torch_python)
        export = os.path.join(tmp, "export")
        export_cmd = [args.weightlab, "export-recovery", os.path.join(OUT, "model.safetensors"),
                      "--plan", os.path.join(OUT, "plan.json"), "-o", export, "--alpha", "0.5", "--temperature", "2"]
        subprocess.run(export_cmd, check=True)
        run_cmd = [args.torch_python, os.path.join(export, "recover.py"), "--synthetic", "--steps", "300", "--lr", "0.003",
                   "--threads", "1", "-o", os.path.join(OUT, "recovered.safetensors"),
                   "--float-output", os.path.join(OUT, "recovered_float.safetensors")]
        subprocess.run(run_cmd, check=True)
    versions = subprocess.run([args.torch_python, "-c", "import torch, safetensors; print(torch.__version__, safetensors.__version__)"],
                              check=True, capture_output=True, text=True).stdout.split()
    transformers = subprocess.run([args.torch_python, "-c", "import transformers; print(transformers.__version__)"],
                                  capture_output=True, text=True).stdout.strip() or None
    json.dump({"torch": versions[0], "safetensors": versions[1], "transformers": transformers,
               "bert": "weightlab export-recovery evalnet/tiny_bert --plan bert_plan.json -o BERT --alpha 0.5; python BERT/recover.py "
                       "--synthetic --steps 20 --lr 0.001 --threads 1 -o bert_recovered.safetensors --float-output bert_recovered_float.safetensors",
               "export": "weightlab export-recovery model.safetensors --plan plan.json -o EXPORT --alpha 0.5 --temperature 2",
               "recover": "python EXPORT/recover.py --synthetic --steps 300 --lr 0.003 --threads 1 "
                          "-o recovered.safetensors --float-output recovered_float.safetensors"},
              open(os.path.join(OUT, "run.json"), "w"), indent=1)


if __name__ == "__main__":
    sys.exit(main())
