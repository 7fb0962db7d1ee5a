"""Task functions the executor conformance suite runs, each taking one string argument
(often a directory to leave evidence in)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from headwater import component


def _note(where: str, name: str, value: object) -> None:
    path = Path(where) / name
    path.with_suffix(".tmp").write_text(str(value))
    path.with_suffix(".tmp").rename(path)


@component
def succeed(arg: str) -> None:
    print(f"to stdout {arg}")
    print(f"to stderr {arg}", file=sys.stderr)


@component
def fail(arg: str) -> None:
    raise ValueError(f"it went wrong: {arg}")


@component
def exit_with(arg: str) -> None:
    sys.stdout.flush()
    os._exit(int(arg))


@component
def segfault(arg: str) -> None:
    import ctypes

    ctypes.string_at(0)


@component
def stubborn_tree(arg: str) -> None:
    """Ignore SIGTERM, start a child that ignores it too, and sleep."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)",
        ]
    )
    _note(arg, "child.pid", child.pid)
    _note(arg, "task.pid", os.getpid())
    time.sleep(60)


@component
def graceful(arg: str) -> None:
    """Sleep, but end at once on SIGTERM."""
    _note(arg, "task.pid", os.getpid())
    time.sleep(60)


@component
def late_marker(arg: str) -> None:
    """Leave a marker only after two seconds."""
    time.sleep(2)
    _note(arg, "ran", 1)


@component
def sleep_for(arg: str) -> None:
    time.sleep(float(arg))


@component
def hog(arg: str) -> None:
    """Hold ``arg`` MiB of touched memory, then sleep."""
    block = bytearray(int(arg) * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(30)


@component
def children_print(arg: str) -> None:
    print("from the task", flush=True)
    subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
    subprocess.run(
        [sys.executable, "-c", "import sys; sys.stderr.write('child stderr\\n')"], check=True
    )


@component
def show_environment(arg: str) -> None:
    _note(
        arg,
        "env",
        "\n".join(
            [
                os.environ.get("CONFORMANCE_VALUE", "<unset>"),
                os.environ.get("CONFORMANCE_SECRET", "<unset>"),
                os.getcwd(),
            ]
        ),
    )


@component
def show_interpreter_settings(arg: str) -> None:
    """Note what the interpreter made of variables it reads only as it starts."""
    import importlib.util

    _note(
        arg,
        "interpreter",
        "\n".join(
            [
                f"optimize={sys.flags.optimize}",
                f"extra={importlib.util.find_spec('conformance_extra') is not None}",
            ]
        ),
    )


@component
def show_preloaded(arg: str) -> None:
    """Note whether the module the executor was told to preload is imported here."""
    _note(arg, "preloaded", "conformance_preloaded" in sys.modules)


@component
def package_versions(arg: str) -> None:
    """Print ``name=version`` (or ``name=missing``) for each comma-separated module."""
    import importlib

    for name in arg.split(","):
        try:
            module = importlib.import_module(name)
        except ImportError:
            print(f"{name}=missing")
        else:
            print(f"{name}={getattr(module, '__version__', '?')}")
    print(f"python={sys.prefix}")
