"""Write the server's OpenAPI document to ui/openapi.json (the UI's types come from it)."""

import json
import os
import sys
import tempfile
from pathlib import Path

os.environ["HEADWATER_HOME"] = tempfile.mkdtemp(prefix="hw-openapi-")
os.environ.pop("HEADWATER_DATABASE_URL", None)

from headwater.engine import Workspace  # noqa: E402
from headwater.server import create_app  # noqa: E402

doc = create_app(Workspace.open()).openapi()
target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "openapi.json"
target.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
