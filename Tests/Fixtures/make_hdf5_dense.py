#!/usr/bin/env python3
"""HDF5 groups with dense link storage (a fractal heap of Link messages), for KerasReaderTests.

h5py with libver="latest" keeps a group's links as compact Link messages up to 8 links, then moves them into
a fractal heap. `layers` (40 links) outgrows the heap's first 512-byte direct block, so the heap root becomes
an indirect block; `many` (300 links) fills several rows of direct blocks. Writes tf/generated/dense_links.h5,
its reference tf/generated/dense_links.json (every dataset's path, shape and values as h5py reads them), and
tf/generated/dense_attributes.json: the 20 int32 attributes (plus a string one) of group `attributes`, kept
in a fractal heap of Attribute messages. The tests corrupt and cut copies of the file themselves.
Run: python3 Tests/Fixtures/make_hdf5_dense.py (needs h5py and numpy).
"""
import json
import os

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TF = os.path.join(HERE, "tf")


def write():
    path = os.path.join(TF, "generated", "dense_links.h5")
    with h5py.File(path, "w", libver="latest", track_order=False) as f:
        g = f.create_group("layers")
        for i in range(40):
            g.create_dataset("dense_%02d_kernel" % i, data=(np.arange(6, dtype=np.float32).reshape(2, 3) * 0.5 + i))
        m = f.create_group("many")
        for i in range(300):
            m.create_dataset("w%03d" % i, data=np.array([i, -i], dtype=np.int16))
        a = f.create_group("attributes")
        for i in range(20):
            a.attrs["a%02d" % i] = np.arange(i + 1, dtype=np.int32) * (i + 1)
        a.attrs["note"] = "dense"
    reference = []
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                reference.append({"path": name, "shape": list(obj.shape), "values": [float(v) for v in obj[()].ravel()]})
        f.visititems(visit)
        attributes = [{"name": k, "values": [int(v) for v in np.ravel(f["attributes"].attrs[k])]}
                      for k in f["attributes"].attrs if k != "note"]
    with open(os.path.join(TF, "generated", "dense_links.json"), "w") as out:
        json.dump(reference, out, indent=0)
        out.write("\n")
    with open(os.path.join(TF, "generated", "dense_attributes.json"), "w") as out:
        json.dump(attributes, out, indent=0)
        out.write("\n")
    return path


if __name__ == "__main__":
    p = write()
    d = open(p, "rb").read()
    print(os.path.getsize(p), d.count(b"FRHP"), d.count(b"FHDB"), d.count(b"FHIB"))
