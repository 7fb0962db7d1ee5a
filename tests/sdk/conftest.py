"""Make the shared pipelines and helpers in tests/pipelines importable by name."""

import sys
from pathlib import Path

PIPELINES = Path(__file__).resolve().parents[1] / "pipelines"
if str(PIPELINES) not in sys.path:
    sys.path.insert(0, str(PIPELINES))
