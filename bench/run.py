"""``make bench``: run every benchmark and print its figures beside its targets."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_authoring
import bench_engine
from _table import show


def main() -> None:
    only = sys.argv[1:]
    if not only or "authoring" in only:
        show("Authoring: import and compile", bench_authoring.run())
    if not only or "engine" in only:
        show("Running pipelines on one machine (median of 3 after a warm-up)", bench_engine.run())


if __name__ == "__main__":
    main()
