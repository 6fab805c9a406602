#!/usr/bin/env python3
"""Writes Tests/Fixtures/written/reference.json: what the reference libraries read in our writers' files.

Run from anywhere:  python3 Tests/Fixtures/make_writer_reference.py
Needs numpy, safetensors, gguf and ml_dtypes (Tests/Fixtures/requirements.txt).

The files in Tests/Fixtures/written/ are written by weightlab's own SafetensorsWriter and GGUFWriter from the
fixed inputs in Tests/WeightFormatsTests/WriterFixtures.swift (regenerate them with
`WEIGHTLAB_REGENERATE_WRITTEN=1 swift test --filter WriterReferenceTests`). This script opens them with
`safetensors` and `gguf` (see check_written.py for exactly what it records), so the committed JSON is the
reference libraries' reading of our output, which the Swift tests compare with what was meant to be written.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
WRITTEN = os.path.join(HERE, "written")

out = subprocess.run([sys.executable, os.path.join(HERE, "check_written.py"), WRITTEN],
                     check=True, capture_output=True, text=True).stdout
json.loads(out)   # well-formed before it replaces the committed file
with open(os.path.join(WRITTEN, "reference.json"), "w", encoding="utf-8") as f:
    f.write(out)
