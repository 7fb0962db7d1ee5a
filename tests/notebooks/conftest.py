"""Executing real notebooks: a real kernel (ipykernel's ``python3``, this interpreter)
runs each notebook's cells through nbclient, with ``HEADWATER_HOME`` in a temporary
folder. The notebooks are written with nbformat as the test builds them, and kept
beside its temporary folder (``*.ipynb``) to open when a test fails."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
import pytest
from nbclient import NotebookClient

MARK = "RESULT "


class _Recording(NotebookClient):
    """A client that also keeps every display message the kernel sent, by cell, so a
    test can see a display change while the cell ran (the notebook keeps only the last)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.displays: list[tuple[int, str, str]] = []

    def process_message(self, msg: dict[str, Any], cell: Any, cell_index: int) -> Any:
        kind = msg.get("msg_type", "")
        if kind in ("display_data", "update_display_data"):
            html = msg.get("content", {}).get("data", {}).get("text/html", "")
            self.displays.append((cell_index, kind, html))
        return super().process_message(msg, cell, cell_index)


@dataclass
class Executed:
    """A notebook after its cells ran, and the Headwater home its runs went to."""

    notebook: Any
    home: Path
    displays: list[tuple[int, str, str]]

    def cell(self, index: int) -> Any:
        return self.notebook.cells[index]

    def results(self) -> list[Any]:
        """What the cells printed as ``RESULT <json>`` lines, in order."""
        found = []
        for cell in self.notebook.cells:
            for out in cell.get("outputs", []):
                if out.get("output_type") == "stream" and out.get("name") == "stdout":
                    for line in out.get("text", "").splitlines():
                        if line.startswith(MARK):
                            found.append(json.loads(line[len(MARK) :]))
        return found

    def html(self, index: int) -> list[str]:
        """The HTML the cell displayed (display data and its result)."""
        return [
            out["data"]["text/html"]
            for out in self.cell(index).get("outputs", [])
            if "text/html" in out.get("data", {})
        ]

    def error(self, index: int) -> tuple[str, str]:
        outs = [o for o in self.cell(index).get("outputs", []) if o["output_type"] == "error"]
        assert outs, f"cell {index} raised nothing"
        return outs[0]["ename"], outs[0]["evalue"]


@pytest.fixture
def execute(tmp_path: Path) -> Any:
    """``execute(cells, name, allow_errors=False)``: write the notebook, run it, return
    an :class:`Executed`. A cell that raises fails the test unless errors are allowed."""

    def run(cells: list[str], name: str, allow_errors: bool = False) -> Executed:
        home = tmp_path / "home"
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        path = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, path)
        client = _Recording(
            nb,
            kernel_name="python3",
            timeout=300,
            allow_errors=allow_errors,
            resources={"metadata": {"path": str(tmp_path)}},
        )
        env = {**os.environ, "HEADWATER_HOME": str(home), "HEADWATER_SERVER": ""}
        client.execute(env=env)
        nbformat.write(nb, path)  # with its outputs
        return Executed(nb, home, client.displays)

    return run
