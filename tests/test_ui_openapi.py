"""The UI's typed API client is generated from ui/openapi.json: it must be the server's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_ui_types_come_from_the_current_openapi_document(tmp_path: Path) -> None:
    fresh = tmp_path / "openapi.json"
    subprocess.run([sys.executable, str(ROOT / "ui/scripts/openapi.py"), str(fresh)], check=True)
    committed = json.loads((ROOT / "ui/openapi.json").read_text())
    assert json.loads(fresh.read_text()) == committed, (
        "the API changed: run 'python ui/scripts/openapi.py && cd ui && npm run gen:api' "
        "and commit ui/openapi.json and ui/src/api/schema.d.ts"
    )
