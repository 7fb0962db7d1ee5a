"""What environments there are, and removing those no longer used."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headwater.envs._build import META, READY, live_users
from headwater.envs._lock import prune_locks
from headwater.envs._paths import envs_dir, file_lock

_HEX = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class EnvInfo:
    """One environment folder: what it holds, its size, when it was last used, and how
    many runs use it now."""

    digest: str
    path: Path
    python: str
    requested: tuple[str, ...]
    pinned: tuple[str, ...]
    size: int
    last_used: float | None
    users: int
    ready: bool


def _size(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(root, name))
            except OSError:
                continue
            total += st.st_size
    return total


def _info(path: Path, *, size: bool = True) -> EnvInfo:
    meta: dict[str, Any] = {}
    with contextlib.suppress(OSError, ValueError):
        meta = json.loads((path / META).read_text(encoding="utf-8"))
    try:
        used: float | None = (path / "last-used").stat().st_mtime
    except OSError:
        try:
            used = path.stat().st_mtime
        except OSError:
            used = None
    return EnvInfo(
        digest=f"sha256:{path.name}",
        path=path,
        python=str(meta.get("python", "?")),
        requested=tuple(meta.get("requested") or ()),
        pinned=tuple(meta.get("pinned") or ()),
        size=_size(path) if size else 0,
        last_used=used,
        users=live_users(path),
        ready=(path / READY).exists(),
    )


def list_envs(*, size: bool = True) -> list[EnvInfo]:
    """Every environment folder, the most recently used first."""
    root = envs_dir()
    if not root.is_dir():
        return []
    found = [_info(p, size=size) for p in root.iterdir() if p.is_dir() and _HEX.match(p.name)]
    return sorted(found, key=lambda e: -(e.last_used or 0))


@dataclass(frozen=True)
class Pruned:
    """What a prune removed (or, in a dry run, would remove)."""

    envs: list[EnvInfo]
    kept_in_use: list[EnvInfo]
    locks: int

    @property
    def freed(self) -> int:
        return sum(e.size for e in self.envs)


def prune(older_than_days: float = 30.0, *, dry_run: bool = False) -> Pruned:
    """Remove environments not used in ``older_than_days`` days and used by no running
    run (and cached resolutions older than that). Half-built folders of builds that
    died are removed whatever their age."""
    cutoff = time.time() - older_than_days * 86400
    removed: list[EnvInfo] = []
    kept: list[EnvInfo] = []
    root = envs_dir()
    for info in list_envs():
        stale = info.last_used is None or info.last_used < cutoff
        if not stale and info.ready:
            continue
        # A builder or a process taking a lease holds this lock: skip what is busy now.
        with file_lock(root / f"{info.path.name}.lock", blocking=False) as got:
            if not got:
                kept.append(info)
                continue
            if live_users(info.path):
                kept.append(info)
                continue
            removed.append(info)
            if dry_run:
                continue
            trash = root / f".trash-{info.path.name}-{os.getpid()}"
            os.replace(info.path, trash)
        # Its lock file stays: a process waiting on it must lock the file others will.
        shutil.rmtree(trash, ignore_errors=True)
    locks = prune_locks(older_than_days * 86400, dry_run=dry_run)
    return Pruned(removed, kept, locks)
