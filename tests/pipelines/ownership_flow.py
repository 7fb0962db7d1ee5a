"""A pipeline whose task runs until released, for engines losing their run (tests/engine)."""

from __future__ import annotations

from headwater import component, pipeline


@component
def linger(pid_file: str, release: str) -> str:
    """Write this process's id to ``pid_file``, then run until ``release`` exists (60 s)."""
    import os
    import time
    from pathlib import Path

    Path(f"{pid_file}.tmp").write_text(str(os.getpid()))
    Path(f"{pid_file}.tmp").replace(pid_file)
    give_up = time.time() + 60
    while not Path(release).exists():
        if time.time() > give_up:
            raise RuntimeError(f"{release} never appeared")
        time.sleep(0.02)
    return "released"


@pipeline
def ownership_linger(pid_file: str, release: str):
    linger(pid_file=pid_file, release=release)
