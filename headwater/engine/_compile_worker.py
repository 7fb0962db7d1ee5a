"""The process that imports and compiles an uploaded pipeline, for the server.

The server never imports user code in its own process (DESIGN.md, principle 8). To
deploy a source bundle it unpacks it into a temporary folder and runs this file as a
script there::

    python -P -s _compile_worker.py TARGET RESULT MEMORY_BYTES OUTPUT_BYTES

with the folder as its working directory and a scrubbed environment (no database URL,
no secrets). Before it imports anything of the user's it caps its own private memory
(``RLIMIT_DATA``, see ``headwater.serving._limits`` for why not ``RLIMIT_AS``) and the
size of any file it writes (``RLIMIT_FSIZE``: past it the kernel ends the process with
SIGXFSZ, which Python otherwise ignores), and turns off core dumps. The parent kills
it at the time limit.

It writes one JSON object to RESULT: ``{"spec": ...}`` (the compiled spec as data) or
``{"error": message, "hint": ..., "file": ..., "line": ...}`` with paths relative to
the bundle. Whatever the user's code prints goes to the parent's log file, also capped.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import traceback
from typing import Any


def _cap(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, hard))


def _relative(text: str, root: str) -> str:
    return text.replace(root + os.sep, "").replace(root, ".")


def _compile(target: str, root: str, memory: int) -> dict[str, Any]:
    from headwater.errors import HeadwaterError

    try:
        from headwater.interop import load_spec
        from headwater.spec import to_data

        spec, _ = load_spec(target)
        return {"spec": to_data(spec)}
    except HeadwaterError as exc:
        cause = exc.__cause__
        line = exc.location.line
        if line is None and isinstance(cause, SyntaxError):  # no frame of the file to name
            line = cause.lineno
        return {
            "error": _relative(exc.message, root),
            "hint": exc.hint and _relative(exc.hint, root),
            "file": exc.location.file and _relative(exc.location.file, root),
            "line": line,
        }
    except MemoryError:
        return {
            "error": f"compiling '{target}' ran out of memory (the limit is {memory:,} bytes)",
            "hint": "move large work at import time into components",
        }
    except BaseException as exc:  # SystemExit, and errors raised while compiling
        frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(root)]
        return {
            "error": f"compiling '{target}' raised {type(exc).__name__}: "
            + _relative(str(exc), root),
            "hint": "fix the error in the file, then deploy again",
            "file": _relative(frames[-1].filename, root) if frames else None,
            "line": frames[-1].lineno if frames else None,
        }


def main(argv: list[str]) -> int:
    target, result, memory, output = argv[1], argv[2], int(argv[3]), int(argv[4])
    _cap(resource.RLIMIT_DATA, memory)
    _cap(resource.RLIMIT_FSIZE, output)
    # Python ignores SIGXFSZ (a write past the limit would fail with EFBIG, and a pipeline
    # could carry on printing): past the limit this process ends, and the parent says why.
    signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
    _cap(resource.RLIMIT_CORE, 0)
    answer = _compile(target, os.getcwd(), memory)
    with open(result, "w", encoding="utf-8") as f:
        json.dump(answer, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
