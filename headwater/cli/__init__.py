"""The ``headwater`` command."""

from headwater.cli import _runs  # noqa: F401  (registers the run commands)
from headwater.cli._app import app, main

__all__ = ["app", "main", "run"]


def run() -> None:
    """Console-script entry point."""
    import sys

    sys.exit(main())
