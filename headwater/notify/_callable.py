"""``python -m headwater.notify._callable module:qualname``: call a user's notifier with the
event read (as JSON) from standard input. Run by the sender in a child process."""

from __future__ import annotations

import importlib
import json
import sys
from typing import Any

from headwater.notify._send import Event


def main(target: str) -> None:
    module_name, _, qualname = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    obj(Event(**json.load(sys.stdin)))


if __name__ == "__main__":
    main(sys.argv[1])
