"""Building an environment from a lock, once, and using it.

An environment is the folder ``<envs dir>/<lock digest hex>/``: a virtual environment
made by ``uv venv`` with exactly the lock's packages (``uv pip sync``), its
``requirements.txt``, ``headwater-env.json`` (what it is) and ``build.log``. It is built
under an exclusive file lock on ``<hex>.lock``, so a second process wanting it waits
and then uses it; ``.ready``, written last, says the build finished (a folder without it
is a build that died, and is built again).

Headwater itself is not installed into an environment: its task runtime imports only
the standard library, so a task process finds it through a shim folder holding one
``headwater`` link to this installation's package (:func:`shim_dir`, put on
``PYTHONPATH``), and nothing else of the engine's packages.

A process using an environment holds a :class:`Lease`: a file in its ``users/``
folder, locked while it lives, so pruning never removes an environment in use (the
kernel drops the lock of a process that dies).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from headwater.envs._lock import Lock
from headwater.envs._paths import digest_hex, envs_dir, file_lock, interpreter_tag, write_atomic
from headwater.envs._uv import Report, run_uv
from headwater.errors import EnvError

READY = ".ready"
META = "headwater-env.json"
BUILD_LOG = "build.log"


@dataclass(frozen=True)
class Venv:
    """A built environment: its folder, its interpreter, and whether this call built it
    (``built_seconds`` is then how long that took)."""

    digest: str
    path: Path
    built_now: bool = False
    built_seconds: float = 0.0

    @property
    def python(self) -> str:
        return str(self.path / "bin" / "python")

    @property
    def bin(self) -> str:
        return str(self.path / "bin")

    @property
    def build_log(self) -> Path:
        return self.path / BUILD_LOG


def env_path(digest: str) -> Path:
    return envs_dir() / digest_hex(digest)


def is_built(digest: str) -> bool:
    return (env_path(digest) / READY).exists()


def build(lock: Lock, python: str | None = None, *, report: Report | None = None) -> Venv:
    """The environment of ``lock``, built now unless it was before (see the module
    docstring). ``report`` is told each line of the build's output.

    Raises :class:`~headwater.errors.EnvError` (with the end of the build's output) when
    the install fails.
    """
    target = env_path(lock.digest)
    if (target / READY).exists():
        return Venv(lock.digest, target)
    tag = interpreter_tag(python)
    if tag != lock.python:
        raise EnvError(
            f"environment {lock.digest[:19]} is for {lock.python}, but the interpreter "
            f"here is {tag}",
            hint="resolve the requirements again on this machine",
        )
    with file_lock(envs_dir() / f"{digest_hex(lock.digest)}.lock"):
        if (target / READY).exists():  # built by whoever held the lock before us
            return Venv(lock.digest, target)
        started = time.monotonic()
        if target.exists():
            shutil.rmtree(target)  # a build that died half-way
        target.parent.mkdir(parents=True, exist_ok=True)
        code, output = run_uv(
            ["venv", str(target), "--python", python or sys.executable, "--no-project"],
            report=report,
        )
        target.mkdir(parents=True, exist_ok=True)
        (target / "requirements.txt").write_text("\n".join(lock.pinned) + "\n", encoding="utf-8")
        with open(target / BUILD_LOG, "w", encoding="utf-8") as log:
            log.write(f"# environment {lock.digest} ({lock.python})\n")
            log.write("# requested: " + ", ".join(lock.requested) + "\n")
            log.write(output)
            if code == 0:
                code, output = run_uv(
                    [
                        "pip",
                        "sync",
                        # Each task process of the environment would otherwise compile
                        # what it imports (or, where PYTHONDONTWRITEBYTECODE is set,
                        # recompile it every time).
                        "--compile-bytecode",
                        "--python",
                        str(target / "bin" / "python"),
                        str(target / "requirements.txt"),
                    ],
                    log=log,
                    report=report,
                )
        if code != 0:
            tail = " | ".join(line for line in output.strip().splitlines()[-5:])
            raise EnvError(
                f"building the environment of {', '.join(lock.requested)} failed: {tail}",
                hint=f"its whole output is in {target / BUILD_LOG}",
            )
        seconds = time.monotonic() - started
        write_atomic(
            target / META,
            json.dumps(
                {
                    "digest": lock.digest,
                    "python": lock.python,
                    "requested": list(lock.requested),
                    "pinned": list(lock.pinned),
                    "built_at": time.time(),
                    "build_seconds": round(seconds, 3),
                },
                indent=1,
            ),
        )
        (target / "last-used").touch()
        (target / READY).touch()
        return Venv(lock.digest, target, built_now=True, built_seconds=seconds)


def shim_dir() -> str:
    """A folder holding only a ``headwater`` link to this installation's package: on a
    task's ``PYTHONPATH`` it makes Headwater importable, and nothing else of the
    engine's environment."""
    # This file is headwater/envs/_build.py: the package is two folders up.
    package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    key = hashlib.sha256(package.encode()).hexdigest()[:16]
    folder = envs_dir() / "shims" / key
    link = folder / "headwater"
    if os.path.realpath(link) != os.path.realpath(package):
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".headwater.{os.getpid()}"
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        os.symlink(package, tmp)
        os.replace(tmp, link)
    return str(folder)


class Lease:
    """This process uses an environment until :meth:`release` (or its end)."""

    def __init__(self, venv: Venv) -> None:
        self.venv = venv
        users = venv.path / "users"
        # Taken under the build lock, so a prune cannot remove the folder meanwhile.
        with file_lock(envs_dir() / f"{digest_hex(venv.digest)}.lock"):
            if not (venv.path / READY).exists():
                raise EnvError(f"environment {venv.digest[:19]} was removed while in use")
            users.mkdir(exist_ok=True)
            self.path = users / f"{os.getpid()}-{id(self):x}"
            self._fd: int | None = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            touch_used(venv.path)

    def release(self) -> None:
        if self._fd is None:
            return
        touch_used(self.venv.path)
        with contextlib.suppress(OSError):
            os.unlink(self.path)
        os.close(self._fd)
        self._fd = None


def touch_used(path: Path) -> None:
    with contextlib.suppress(OSError):
        (path / "last-used").touch()


def live_users(path: Path) -> int:
    """How many processes hold a lease on the environment at ``path``; the files of
    those that ended are removed."""
    count = 0
    users = path / "users"
    if not users.is_dir():
        return 0
    for entry in users.iterdir():
        try:
            fd = os.open(entry, os.O_RDWR)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            count += 1
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry)
        finally:
            os.close(fd)
    return count
