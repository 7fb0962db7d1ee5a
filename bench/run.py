"""``make bench``: run every benchmark and print its figures beside its targets."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_authoring
from _table import show


def main() -> None:
    show("Authoring (issue: typed pipeline authoring)", bench_authoring.run())


if __name__ == "__main__":
    main()
