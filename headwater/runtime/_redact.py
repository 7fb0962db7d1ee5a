"""Hide the secret values a task was given from its log, as the log is written.

The engine lists the values in ``HEADWATER_REDACT`` (JSON). :func:`redact_output` puts a
pipe in front of the task's standard output and error (file descriptors 1 and 2, so the
output of child processes and of C code goes through it too) and a thread copies the
pipe to the log file, each value replaced by ``***``. The log as stored, and so what the
API and UI show of it, never holds a value.

Limits: whole lines are written at once; text after the last newline is written as it
comes except its last ``longest value - 1`` bytes, held until more comes, so a value
split across writes is still caught. What a task writes after it detached its own
descriptors, or with the log file opened by path, is not seen; nor is a value
transformed (encoded, reversed, split across lines). Held-back bytes of a task killed
with SIGKILL are lost.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from collections.abc import Iterator
from urllib.parse import quote

MASK = b"***"
_JOIN_SECONDS = 5.0


def values_from_env() -> list[bytes]:
    """The values to hide, longest first (and their URL-encoded forms)."""
    raw = os.environ.get("HEADWATER_REDACT")
    if not raw:
        return []
    try:
        values = [v for v in json.loads(raw) if isinstance(v, str) and v]
    except ValueError:
        return []
    forms = {v for v in values} | {quote(v, safe="") for v in values}
    return sorted((f.encode("utf-8") for f in forms), key=len, reverse=True)


def redact_bytes(data: bytes, values: list[bytes]) -> bytes:
    for v in values:
        data = data.replace(v, MASK)
    return data


def redact_text(text: str, values: list[bytes]) -> str:
    for v in values:
        text = text.replace(v.decode("utf-8"), MASK.decode())
    return text


def _copy(read_fd: int, log_fd: int, values: list[bytes]) -> None:
    hold = max(len(v) for v in values) - 1
    pending = b""
    while True:
        try:
            chunk = os.read(read_fd, 65536)
        except InterruptedError:
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending = redact_bytes(pending + chunk, values)
        cut = pending.rfind(b"\n") + 1
        # Past the last newline, keep back what may be the start of a value.
        cut = max(cut, len(pending) - hold)
        if cut > 0:
            _write_all(log_fd, pending[:cut])
            pending = pending[cut:]
    if pending:
        _write_all(log_fd, redact_bytes(pending, values))
    os.close(read_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except InterruptedError:
            continue
        except OSError:
            return


@contextlib.contextmanager
def redact_output() -> Iterator[list[bytes]]:
    """While inside, what goes to descriptors 1 and 2 reaches them with the values in
    ``HEADWATER_REDACT`` hidden; yields the values (empty: nothing is changed)."""
    values = values_from_env()
    if not values:
        yield values
        return
    with contextlib.suppress(Exception):
        sys.stdout.flush()
        sys.stderr.flush()
    # Both go to the log (the executors point 1 and 2 at the same file).
    log_out, log_err = os.dup(1), os.dup(2)
    read_fd, write_fd = os.pipe()
    copier = threading.Thread(target=_copy, args=(read_fd, log_out, values), daemon=True)
    copier.start()
    os.dup2(write_fd, 1)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    try:
        yield values
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        # Put the log back: once every copy of the pipe's write end is closed (children
        # that outlive the task may keep one), the copier sees its end and finishes.
        os.dup2(log_out, 1)
        os.dup2(log_err, 2)
        copier.join(_JOIN_SECONDS)
        os.close(log_err)
        if not copier.is_alive():
            os.close(log_out)
