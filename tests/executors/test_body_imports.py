"""What a component's body imports, read from its file: parsed once, read again when
the file changes."""

from __future__ import annotations

import os
from pathlib import Path

from headwater.executors import body_imports


def test_body_imports_follow_the_file_as_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "flow.py"
    path.write_text("def train():\n    import json\n\ndef other():\n    import csv\n")
    assert body_imports(str(path), ["train"]) == {"json"}
    assert body_imports(str(path), ["flow.train"]) == {"json"}
    assert body_imports(str(path)) == {"json", "csv"}

    path.write_text("def train():\n    import sqlite3\n    from email import message\n")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert body_imports(str(path), ["train"]) == {"sqlite3", "email"}

    # A copy the caller changes does not change what is remembered.
    found = body_imports(str(path), ["train"])
    found.add("nothing")
    assert body_imports(str(path), ["train"]) == {"sqlite3", "email"}


def test_a_missing_or_broken_file_imports_nothing(tmp_path: Path) -> None:
    assert body_imports(str(tmp_path / "gone.py")) == set()
    broken = tmp_path / "broken.py"
    broken.write_text("def train(:\n")
    assert body_imports(str(broken)) == set()
