"""A no-op task the zygote runs once before forking, so children inherit warm code paths.

Running one real task in the zygote touches the lazily built pieces (interfaces,
JSON encoders, imports inside functions) once; with ``gc.freeze()`` afterwards,
forked children share those pages instead of copying them on first touch.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Any

from headwater.runtime._protocol import write_json
from headwater.sdk import component


@component
def noop(x: int) -> int:
    return x


def _noop_task(output_file: str) -> dict[str, Any]:
    return {
        "schemaVersion": "headwater.task/v1",
        "inputs": {"parameterValues": {"x": 1}, "artifacts": {}},
        "outputs": {"parameters": {"output": {}}, "artifacts": {}, "outputFile": output_file},
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


def warm_up(folder: str | None = None) -> None:
    """Run the no-op task here: through its input file, or, given a ``folder`` to write
    its output in, from memory (what a spare task process does before its task comes,
    so that the pages a task touches are its own copies by then)."""
    from headwater.runtime._execute import execute

    if folder is not None:
        out = os.path.join(folder, f"warm-{os.getpid()}.json")
        try:
            execute(out, _noop_task(out))
        finally:
            with contextlib.suppress(OSError):
                os.unlink(out)
        return
    with tempfile.TemporaryDirectory(prefix="hw-warm-") as d:
        path = os.path.join(d, "in.json")
        write_json(path, _noop_task(os.path.join(d, "out.json")))
        execute(path)
