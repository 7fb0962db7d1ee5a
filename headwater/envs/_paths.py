"""Where environments live, which interpreter they are for, and file locks."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from headwater.errors import ConfigurationError, EnvError

DIR_SETTING = "HEADWATER_ENVS_DIR"
TTL_SETTING = "HEADWATER_ENVS_RESOLVE_TTL"
# How long a resolution of requirements that are not all exact pins is reused (seconds).
DEFAULT_RESOLVE_TTL = 24 * 3600.0


def envs_dir() -> Path:
    """``HEADWATER_ENVS_DIR``, by default ``$HEADWATER_HOME/envs``."""
    explicit = os.environ.get(DIR_SETTING)
    if explicit:
        return Path(explicit).expanduser()
    home = os.environ.get("HEADWATER_HOME") or str(Path.home() / ".headwater")
    return Path(home).expanduser() / "envs"


def resolve_ttl() -> float:
    """``HEADWATER_ENVS_RESOLVE_TTL``: seconds a cached resolution is reused (0: never)."""
    text = os.environ.get(TTL_SETTING)
    if not text:
        return DEFAULT_RESOLVE_TTL
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if value < 0:
        raise ConfigurationError(
            f"{TTL_SETTING}={text!r} is not a number of seconds >= 0",
            hint=f"set it to e.g. 3600, 0 to resolve at every run start, or unset it "
            f"for {DEFAULT_RESOLVE_TTL:g}",
        )
    return value


def digest_hex(digest: str) -> str:
    """The hex part of ``sha256:<hex>``: an environment's folder name."""
    return digest.split(":", 1)[-1]


@functools.cache
def interpreter_tag(python: str | None = None) -> str:
    """``cpython-3.11``: the implementation and major.minor version of ``python`` (this
    interpreter by default). Environments are built for, and shared by, one tag."""
    if python is None or os.path.realpath(python) == os.path.realpath(sys.executable):
        v = sys.version_info
        return f"{sys.implementation.name}-{v.major}.{v.minor}"
    code = "import sys; v = sys.version_info; print(f'{sys.implementation.name}-{v[0]}.{v[1]}')"
    try:
        out = subprocess.run(
            [python, "-I", "-c", code], capture_output=True, text=True, timeout=60, check=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EnvError(f"cannot run the interpreter {python}: {exc}") from None
    return out.stdout.strip()


@contextlib.contextmanager
def file_lock(path: Path, *, blocking: bool = True) -> Iterator[bool]:
    """Hold an exclusive lock on ``path`` (made if missing); yields whether it was got
    (always True when ``blocking``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def write_atomic(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
