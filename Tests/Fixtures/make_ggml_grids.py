#!/usr/bin/env python3
"""Writes Sources/WeightFormats/GGMLGrids.swift: the lookup tables of ggml's IQ, TQ and FP4 types, taken from
gguf-py (PyPI `gguf` 0.19.0) exactly as `gguf.quants.dequantize` uses them.

    python3 Tests/Fixtures/make_ggml_grids.py

gguf-py stores each grid as hex-packed 2- or 3-bit codes plus a code-to-value map and expands them with
`init_grid()` into float32 tables. This script calls `init_grid()`, checks every value is a whole number that
fits a byte, and packs each grid row back into one integer the way ggml's own tables are laid out (element k
in byte k, little-endian): `iq2xxs_grid`, `iq2xs_grid`, `iq2s_grid` and `iq1s_grid` as UInt64 (8 elements),
`iq3xxs_grid` and `iq3s_grid` as UInt32 (4 elements). The sign table and the 16-entry value tables are
copied as bytes. It lives beside the fixture generators because it needs the same pinned gguf-py.
"""
import os

import numpy as np
from gguf import quants

from importlib.metadata import version
assert version("gguf") == "0.19.0", version("gguf")

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = os.path.join(HERE, "..", "..", "Sources", "WeightFormats")
# One file per family, so no file is a thousand lines of numbers: GGMLGrids.swift holds the enum and the small tables.
OUT = os.path.join(SOURCES, "GGMLGrids.swift")


def grid_rows(cls, signed):
    """cls.grid as integer rows: one row per grid entry, one byte per element."""
    cls.init_grid()
    grid = np.asarray(cls.grid, dtype=np.float32).reshape(cls.grid_shape)
    ints = grid.astype(np.int64)
    assert np.array_equal(ints.astype(np.float32), grid), cls.__name__
    lo, hi = (-128, 127) if signed else (0, 255)
    assert ints.min() >= lo and ints.max() <= hi, cls.__name__
    return ints


def packed(rows):
    """Each row's bytes little-endian in one integer (row[0] in the lowest byte), as ggml stores its grids."""
    out = []
    for row in rows:
        v = 0
        for k, e in enumerate(row):
            v |= (int(e) & 0xFF) << (8 * k)
        out.append(v)
    return out


def swift_array(name, element, values, doc, per_line, width, access=""):
    lines = [f"    /// {line}" for line in doc]
    lines.append(f"    {access}static let {name}: [{element}] = [")
    for i in range(0, len(values), per_line):
        chunk = values[i:i + per_line]
        lines.append("        " + ", ".join(width(v) for v in chunk) + ",")
    lines.append("    ]")
    return "\n".join(lines)


def hex_of(digits):
    return lambda v: "0x%0*x" % (digits, v)


def main():
    tables = []
    families = {}   # file suffix -> tables of that family (extensions of GGMLGrids)

    def grid(name, cls, element, signed, doc):
        rows = grid_rows(cls, signed)
        digits = rows.shape[1] * 2
        assert element == {16: "UInt64", 8: "UInt32"}[digits]
        values = packed(rows)
        assert len(values) == cls.grid_shape[0]
        family = name[:3].upper()   # IQ1, IQ2, IQ3
        families.setdefault(family, []).append(swift_array(name, element, values, doc, 4 if digits == 16 else 6, hex_of(digits)))

    grid("iq2xxs", quants.IQ2_XXS, "UInt64", False,
         ["IQ2_XXS: 256 rows of 8 magnitudes (0x08, 0x19, 0x2b), ggml's `iq2xxs_grid`."])
    grid("iq2xs", quants.IQ2_XS, "UInt64", False,
         ["IQ2_XS: 512 rows of 8 magnitudes (0x08, 0x19, 0x2b), ggml's `iq2xs_grid`."])
    grid("iq2s", quants.IQ2_S, "UInt64", False,
         ["IQ2_S: 1024 rows of 8 magnitudes (0x08, 0x19, 0x2b), ggml's `iq2s_grid`."])
    grid("iq3xxs", quants.IQ3_XXS, "UInt32", False,
         ["IQ3_XXS: 256 rows of 4 magnitudes (0x04 … 0x3e), ggml's `iq3xxs_grid`."])
    grid("iq3s", quants.IQ3_S, "UInt32", False,
         ["IQ3_S: 512 rows of 4 odd magnitudes (1 … 15), ggml's `iq3s_grid`."])
    assert quants.IQ1_M.grid_hex == quants.IQ1_S.grid_hex and quants.IQ1_M.grid_map == quants.IQ1_S.grid_map
    grid("iq1s", quants.IQ1_S, "UInt64", True,
         ["IQ1_S and IQ1_M: 2048 rows of 8 values −1, 0, 1 (int8 bytes), ggml's `iq1s_grid`."])

    ksigns = list(np.frombuffer(quants.IQ2_XXS.ksigns, dtype=np.uint8))
    assert len(ksigns) == 128
    tables.append(swift_array("ksigns", "UInt8", [int(v) for v in ksigns],
                              ["The 128 sign patterns of IQ2_XXS, IQ2_XS and IQ3_XXS: bit k set negates element k "
                               "of a row of 8", "(7 stored bits, the eighth makes the count of negatives even); "
                               "ggml's `ksigns_iq2xs`."],
                              16, hex_of(2)))
    tables.append(swift_array("iq4nl", "Int8", list(quants.IQ4_NL.kvalues),
                              ["IQ4_NL and IQ4_XS: the 16 non-linear 4-bit values, ggml's `kvalues_iq4nl`."],
                              16, str, access="public "))
    assert quants.NVFP4.kvalues == quants.MXFP4.kvalues
    tables.append(swift_array("fp4", "Int8", list(quants.MXFP4.kvalues),
                              ["MXFP4 and NVFP4: the 16 E2M1 values doubled (sign bit 3), ggml's `kvalues_mxfp4`."],
                              16, str))

    generated = (
        "// GENERATED by Tests/Fixtures/make_ggml_grids.py from gguf-py 0.19.0 (`gguf.quants`): do not edit.\n"
        "// Regenerate with `python3 Tests/Fixtures/make_ggml_grids.py`.\n"
        "\n"
    )
    for family, parts in sorted(families.items()):
        path = os.path.join(SOURCES, f"GGMLGrids+{family}.swift")
        text = generated + f"/// The {family} grids (see `GGMLGrids`).\nextension GGMLGrids {{\n" + "\n\n".join(parts) + "\n}\n"
        with open(path, "w") as f:
            f.write(text)
        print("wrote", os.path.relpath(path), len(text), "bytes")
    header = (
        generated +
        "/// The lookup tables of ggml's IQ and FP4 block types, as gguf-py's dequantizer uses them. Grid rows are\n"
        "/// packed as ggml packs them: element k of a row is byte k (little-endian) of the row's integer.\n"
        "public enum GGMLGrids {\n"
    )
    text = header + "\n\n".join(tables) + "\n}\n"
    with open(OUT, "w") as f:
        f.write(text)
    print("wrote", os.path.relpath(OUT), len(text), "bytes")


if __name__ == "__main__":
    main()
