"""Resolving a step's requirements into a lock: every package pinned to one version.

``uv pip compile`` resolves for the interpreter the environment will run on. A lock's
digest covers that interpreter's implementation and major.minor version and the sorted
pinned lines, so two steps asking for the same things in other words (``six``, and
``six==1.17.0`` when that is the newest) share one environment.

Resolutions are cached in ``<envs dir>/locks/``, by the requested set and interpreter:
a run start does not ask the index again. A set made only of exact pins whose
resolution adds nothing (``tabulate==0.9.0``) resolves the same way forever and is
kept until pruned. Any other set (``pandas>=2``, or exact pins that pull in
dependencies) may resolve differently once new versions come out, so its resolution
is reused for ``HEADWATER_ENVS_RESOLVE_TTL`` seconds (default a day), then resolved
again; a changed resolution is a new environment and a cache miss for the steps using
it. When the index cannot be reached, an expired resolution is used, with a warning.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from headwater.envs._paths import envs_dir, interpreter_tag, resolve_ttl, write_atomic
from headwater.envs._uv import uv_binary, uv_environment
from headwater.errors import EnvError
from headwater.sdk import requirement_name, requirement_problem

log = logging.getLogger("headwater.envs")

_EXACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\s*===?\s*[A-Za-z0-9.+!_-]+$")


@dataclass(frozen=True)
class Lock:
    """A resolved requirement set: what was asked (``requested``), for which interpreter
    (``python``, e.g. ``cpython-3.11``), and every package pinned (``pinned``)."""

    digest: str
    python: str
    requested: tuple[str, ...]
    pinned: tuple[str, ...]
    resolved_at: float = 0.0

    @classmethod
    def of(
        cls, python: str, requested: tuple[str, ...], pinned: tuple[str, ...], at: float = 0.0
    ) -> Lock:
        pinned = tuple(sorted(pinned, key=str.lower))
        return cls(lock_digest(python, pinned), python, requested, pinned, at)

    @property
    def exact(self) -> bool:
        """Whether it resolves the same way forever: only exact pins were asked for, and
        nothing else was added."""
        if not all(_EXACT.match(r) for r in self.requested):
            return False
        return {requirement_name(r) for r in self.requested} == {
            requirement_name(p) for p in self.pinned
        }

    def to_json(self) -> str:
        return json.dumps(
            {
                "digest": self.digest,
                "python": self.python,
                "requested": list(self.requested),
                "pinned": list(self.pinned),
                "resolved_at": self.resolved_at,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Lock:
        data = json.loads(text)
        lock = cls.of(
            data["python"],
            tuple(data["requested"]),
            tuple(data["pinned"]),
            float(data.get("resolved_at", 0.0)),
        )
        if lock.digest != data["digest"]:
            raise ValueError("digest does not match")
        return lock


def lock_digest(python: str, pinned: tuple[str, ...] | list[str]) -> str:
    """``sha256:`` of the interpreter tag and the sorted pinned lines."""
    text = python + "\n" + "\n".join(sorted(pinned, key=str.lower))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def normalize_requirements(requirements: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """One spelling of a requirement set: whitespace folded, duplicates dropped, sorted.
    A line that names no index package (``-e``, a local path) is refused."""
    lines = sorted({" ".join(r.split()) for r in requirements}, key=str.lower)
    for line in lines:
        problem = requirement_problem(line)
        if problem:
            raise EnvError(
                f"requirement {line!r} {problem}",
                hint="list requirements from the package index, e.g. packages=['pandas>=2.1']",
            )
    return tuple(lines)


def _cache_path(python: str, requested: tuple[str, ...]) -> Path:
    key = hashlib.sha256((python + "\n" + "\n".join(requested)).encode()).hexdigest()
    return envs_dir() / "locks" / f"{key[:32]}.json"


def cached_lock(requested: tuple[str, ...], python: str) -> Lock | None:
    """The cached resolution of ``requested`` for ``python`` (a tag), however old."""
    try:
        lock = Lock.from_json(_cache_path(python, requested).read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return lock if lock.requested == requested and lock.python == python else None


def resolve(requirements: list[str] | tuple[str, ...], python: str | None = None) -> Lock:
    """Resolve ``requirements`` for the interpreter ``python`` (this one by default) into
    a :class:`Lock`, reusing a cached resolution (see the module docstring).

    Raises :class:`~headwater.errors.EnvError` naming the package when there is no
    resolution: no such package, no version that matches, or a conflict.
    """
    requested = normalize_requirements(requirements)
    tag = interpreter_tag(python)
    cached = cached_lock(requested, tag)
    if cached is not None and (cached.exact or time.time() - cached.resolved_at < resolve_ttl()):
        return cached
    try:
        pinned = compile_requirements(requested, python or sys.executable)
    except EnvError as exc:
        if cached is None or not exc.hint or "reach" not in exc.hint:
            raise
        log.warning(
            "could not resolve %s again (%s); using the resolution of %s",
            ", ".join(requested),
            exc.message,
            time.strftime("%Y-%m-%d %H:%M", time.localtime(cached.resolved_at)),
        )
        return cached
    lock = Lock.of(tag, requested, pinned, time.time())
    write_atomic(_cache_path(tag, requested), lock.to_json())
    return lock


def compile_requirements(requested: tuple[str, ...], python: str) -> tuple[str, ...]:
    """The pinned lines ``uv pip compile`` resolves ``requested`` to, for ``python``."""
    with tempfile.TemporaryDirectory(prefix="headwater-resolve-") as tmp:
        source = Path(tmp) / "requirements.in"
        source.write_text("\n".join(requested) + "\n", encoding="utf-8")
        try:
            proc = subprocess.run(
                [
                    uv_binary(),
                    "pip",
                    "compile",
                    str(source),
                    "--python",
                    python,
                    "--no-header",
                    "--no-annotate",
                    "--color",
                    "never",
                    "--quiet",
                ],
                capture_output=True,
                text=True,
                errors="replace",
                env=uv_environment(),
                stdin=subprocess.DEVNULL,
                timeout=600,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise EnvError(
                f"resolving {', '.join(requested)} took more than 10 minutes",
                hint="check that the package index can be reached (it could not be)",
            ) from None
    if proc.returncode != 0:
        raise _resolution_error(requested, proc.stderr or proc.stdout)
    pinned = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "-")):
            pinned.append(line)
    return tuple(pinned)


def _resolution_error(requested: tuple[str, ...], output: str) -> EnvError:
    """An error naming the requirements uv could not resolve, with uv's reason."""
    text = " ".join(
        re.sub(r"^[^A-Za-z0-9]*(?:error:|cause:|hint:)?\s*", "", line)
        for line in output.strip().splitlines()
        if line.strip()
    )
    mentioned = [r for r in requested if requirement_name(r) and requirement_name(r) in text]
    named = ", ".join(mentioned or requested)
    unreachable = any(
        s in text.lower()
        for s in ("failed to fetch", "error sending request", "dns error", "connect", "offline")
    )
    return EnvError(
        f"cannot resolve {named}: {text.strip() or 'uv gave no reason'}",
        hint=(
            "check that the package index can be reached (it could not be)"
            if unreachable
            else "check the package names and versions (is each on the package index, for "
            f"Python {sys.version_info.major}.{sys.version_info.minor} on this platform?)"
        ),
    )


def prune_locks(older_than: float, *, dry_run: bool = False) -> int:
    """Remove cached resolutions made more than ``older_than`` seconds ago; how many."""
    removed = 0
    folder = envs_dir() / "locks"
    if not folder.is_dir():
        return 0
    now = time.time()
    for path in folder.glob("*.json"):
        try:
            if now - path.stat().st_mtime <= older_than:
                continue
            if not dry_run:
                os.unlink(path)
            removed += 1
        except OSError:
            continue
    return removed
