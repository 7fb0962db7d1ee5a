"""``python -m headwater.runtime TASK_INPUT.json``: run one task in a fresh interpreter."""

from __future__ import annotations

import sys

from headwater.runtime._execute import execute

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: python -m headwater.runtime TASK_INPUT.json\n")
        sys.exit(2)
    sys.exit(execute(sys.argv[1]))
