"""A no-op task the zygote runs once before forking, so children inherit warm code paths.

Running one real task in the zygote touches the lazily built pieces (interfaces,
JSON encoders, imports inside functions) once; with ``gc.freeze()`` afterwards,
forked children share those pages instead of copying them on first touch.
"""

from __future__ import annotations

import os
import tempfile

from headwater.runtime._protocol import write_json
from headwater.sdk import component


@component
def noop(x: int) -> int:
    return x


def warm_up() -> None:
    from headwater.runtime._execute import execute

    with tempfile.TemporaryDirectory(prefix="hw-warm-") as d:
        task = {
            "schemaVersion": "headwater.task/v1",
            "inputs": {"parameterValues": {"x": 1}, "artifacts": {}},
            "outputs": {
                "parameters": {"output": {}},
                "artifacts": {},
                "outputFile": os.path.join(d, "out.json"),
            },
            "headwater": {
                "component": {
                    "name": "noop",
                    "root": "",
                    "module": __name__,
                    "file": "",
                    "function": "noop",
                    "interface": {
                        "returns": "single",
                        "returnOutputs": ["output"],
                        "inputs": {"x": {"kind": "parameter", "type": {"kind": "int"}}},
                        "outputs": {"output": {"kind": "parameter", "type": {"kind": "int"}}},
                    },
                }
            },
        }
        path = os.path.join(d, "in.json")
        write_json(path, task)
        execute(path)
