"""Components and pipelines defined in notebook cells run under ``headwater.run``, each
task in its own process, from the code captured out of the cells."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from headwater._config import Settings
from headwater.engine import Workspace, run_version

IMPORTS = """\
import json
import headwater as hw
from headwater import Dataset, Output, component, pipeline
"""

MAKE = """\
@component
def make(n: int, data: Output[Dataset]) -> int:
    with open(data.path, "w") as f:
        f.write("x" * n)
    return n * {factor}

@pipeline
def cells(n: int = 3):
    make(n=n)
"""

REPORT = """\
r = hw.run(cells)
t = r.tasks["make"]
out = r.outputs("make") if r.succeeded else {{}}
print("RESULT " + json.dumps({{
    "label": "{label}",
    "status": str(r.status),
    "task": str(t.status),
    "output": out.get("output"),
    "text": out["data"].read_text() if "data" in out else None,
    "pid": t.pid,
}}))
"""


def test_cell_component_runs_caches_and_reruns_when_its_cell_changes(execute: Any) -> None:
    nb = execute(
        [
            IMPORTS,
            MAKE.format(factor=2),
            REPORT.format(label="first"),
            REPORT.format(label="again"),
            MAKE.format(factor=2),  # the same cell run once more: the same code
            REPORT.format(label="same cell re-run"),
            MAKE.format(factor=5),  # the cell edited and run
            REPORT.format(label="edited"),
            "import os\nprint('RESULT ' + json.dumps({'kernel': os.getpid()}))",
            "spec = cells.compile()\nimpl = spec.components['make'].implementation\n"
            "print('RESULT ' + json.dumps({'module': impl.module, 'file': impl.file, "
            "'source': impl.source}))",
        ],
        "cells",
    )
    first, again, rerun, edited, kernel, spec = nb.results()
    assert first == {
        "label": "first",
        "status": "succeeded",
        "task": "succeeded",
        "output": 6,
        "text": "xxx",
        "pid": first["pid"],
    }
    # Process isolation: the task ran in a process of its own, not in the kernel.
    assert first["pid"] not in (None, kernel["kernel"])
    assert (again["status"], again["task"], again["output"]) == ("succeeded", "cached", 6)
    assert (rerun["task"], rerun["output"], rerun["text"]) == ("cached", 6, "xxx")
    assert (edited["status"], edited["task"], edited["output"]) == ("succeeded", "succeeded", 15)
    # The spec carries the captured code, not the kernel's cell file (no such file).
    assert spec["file"] == ""
    assert spec["module"].startswith("headwater_cells_")
    assert "def make(n: int, data: Output[Dataset]) -> int:" in spec["source"]
    assert "return n * 5" in spec["source"]
    assert "from headwater import Dataset" in spec["source"]

    ws = Workspace.open(Settings.from_env({"HEADWATER_HOME": str(nb.home)}))
    try:
        runs = ws.store.runs.list_runs(pipeline="cells")
        assert len(runs) == 4
        # Each run's pipeline version holds the code it ran: the edited run's differs.
        versions = {r.version_id for r in runs}
        assert len(versions) == 2
        # The kernel is gone; the stored versions still run, each with its own code.
        again_first = run_version(ws, runs[-1].version_id, cache=False)
        again_edited = run_version(ws, runs[0].version_id, cache=False)
        assert again_first.tasks["make"].status == "succeeded"
        assert (again_first.outputs("make")["output"], again_edited.outputs("make")["output"]) == (
            6,
            15,
        )
    finally:
        ws.close()


HELPERS = """\
import json
import math as m
import headwater as hw
from headwater import component, pipeline

FACTOR = 10
LABELS = {"a": 1, "b": [2, 3]}

def helper(x):
    return m.floor(x * FACTOR) + LABELS["a"]
"""

SCALER = """\
from dataclasses import dataclass

@dataclass
class Config:
    k: int = 2

class Scaler:
    def __init__(self, k):
        self.k = k

    def apply(self, x):
        return helper(x) * self.k
"""

USES = """\
@component
def scaled(x: float) -> int:
    return Scaler(Config().k).apply(x) + len(LABELS["b"])

@pipeline
def helped(x: float = 0.55):
    scaled(x=x)
"""

RUN = """\
r = hw.run(helped)
print("RESULT " + json.dumps({
    "status": str(r.status),
    "task": str(r.tasks["scaled"].status),
    "output": r.outputs("scaled")["output"] if r.succeeded else None,
    "error": r.tasks["scaled"].error,
}))
"""


def test_component_uses_functions_classes_and_constants_of_earlier_cells(execute: Any) -> None:
    nb = execute(
        [
            HELPERS,
            SCALER,
            USES,
            RUN,
            RUN,
            # An earlier cell's helper changes: the component's code digest covers it.
            "def helper(x):\n    return m.floor(x * FACTOR) + LABELS['a'] + 100\n",
            RUN,
            # So does a class of a cell that has no method of its own there.
            "@dataclass\nclass Config:\n    k: int = 3\n",
            RUN,
        ],
        "helpers",
    )
    first, again, changed, config = nb.results()
    # floor(0.55 * 10) + 1 = 6; * 2 = 12; + len([2, 3]) = 14
    assert first == {"status": "succeeded", "task": "succeeded", "output": 14, "error": None}
    assert (again["task"], again["output"]) == ("cached", 14)
    assert (changed["task"], changed["output"]) == ("succeeded", 214)
    assert (config["task"], config["output"]) == ("succeeded", 320)


STEPS = """\
from headwater import component


def shout(text):
    return text.upper() + "!"


@component
def greet(name: str) -> str:
    return "hello " + name
"""


def test_cells_use_modules_beside_the_notebook(execute: Any, tmp_path: Path) -> None:
    (tmp_path / "steps.py").write_text(STEPS)
    nb = execute(
        [
            "import json\nimport headwater as hw\nfrom headwater import component, pipeline\n"
            "from steps import greet, shout as loud",
            "@component\ndef excite(text: str) -> str:\n    return loud(text)\n\n"
            "@pipeline\ndef mixed(name: str = 'ada'):\n    excite(text=greet(name=name).output)",
            "r = hw.run(mixed)\nprint('RESULT ' + json.dumps({'status': str(r.status), "
            "'out': r.outputs('excite')['output'], "
            "'source': mixed.compile().components['excite'].implementation.source}))",
        ],
        "beside",
    )
    (result,) = nb.results()
    assert (result["status"], result["out"]) == ("succeeded", "HELLO ADA!")
    assert "from steps import shout as loud" in result["source"]


def test_a_value_a_task_cannot_rebuild_is_refused_before_the_run(execute: Any) -> None:
    nb = execute(
        [
            "import random\nimport headwater as hw\nfrom headwater import component, pipeline\n"
            "rng = random.Random(0)",
            "@component\ndef draw() -> float:\n    return rng.random()\n\n"
            "@pipeline\ndef drawing():\n    draw()",
            "hw.run(drawing)",
        ],
        "refused",
        allow_errors=True,
    )
    name, message = nb.error(2)
    assert name == "ComponentDefinitionError"
    assert message.startswith("In [2]:1: component 'draw' uses 'rng' from the notebook")
    assert "a Random made by running a cell" in message
    assert "pass it to the component as a parameter or an artifact" in message
    ws = Workspace.open(Settings.from_env({"HEADWATER_HOME": str(nb.home)}))
    try:
        assert ws.store.runs.list_runs(pipeline="drawing") == []
    finally:
        ws.close()


def test_code_that_cannot_be_captured_is_refused_with_what_to_do(execute: Any) -> None:
    nb = execute(
        [
            "import headwater as hw\nfrom headwater import component, pipeline\n"
            "exec('def made(): return 1')\n"
            "first, second = (lambda: 1), 2",
            "@component\ndef uses_exec() -> int:\n    return made()\n\n"
            "@pipeline\ndef p1():\n    uses_exec()",
            "hw.compile(p1)",
            "@component\ndef uses_pair() -> int:\n    return first()\n\n"
            "@pipeline\ndef p2():\n    uses_pair()",
            "hw.compile(p2)",
            "@component\ndef renamed() -> int:\n    return 1\n\n"
            "@pipeline\ndef p3():\n    kept()\n\nkept, renamed = renamed, 3",
            "hw.compile(p3)",
        ],
        "uncapturable",
        allow_errors=True,
    )
    name, message = nb.error(2)
    assert name == "ComponentDefinitionError"
    assert "component 'uses_exec' uses 'made' from the notebook, whose source cannot be found" in (
        message
    )
    assert "define 'made' with 'def' or 'class' in a cell" in message
    name, message = nb.error(4)
    assert name == "ComponentDefinitionError"
    assert "uses 'first' from the notebook, whose definition is not a statement of its own" in (
        message
    )
    name, message = nb.error(6)
    assert name == "ComponentDefinitionError"
    assert "component 'renamed' is not the notebook's 'renamed' any more" in message
    assert "put @component on 'def renamed' in a cell and run that cell again" in message


def test_a_cell_under_future_annotations_runs_from_its_captured_code(execute: Any) -> None:
    """A notebook that starts with 'from __future__ import annotations' keeps its
    annotations as text: the captured module is compiled the same way."""
    nb = execute(
        [
            "from __future__ import annotations",
            IMPORTS,
            # A helper annotated with a name that exists only for type checkers: fine
            # while annotations stay text, a NameError if the captured module ran them.
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pandas import Series\n\n"
            "def triple(n: int, unused: Series | None = None) -> int:\n    return n * 3\n",
            MAKE.format(factor=3).replace("return n * 3", "return triple(n)"),
            REPORT.format(label="future"),
            "spec = cells.compile()\nimpl = spec.components['make'].implementation\n"
            "print('RESULT ' + json.dumps({'source': impl.source}))",
        ],
        "cells",
    )
    run, spec = nb.results()
    assert (run["status"], run["task"], run["output"], run["text"]) == (
        "succeeded",
        "succeeded",
        9,
        "xxx",
    )
    assert "from __future__ import annotations\n" in spec["source"]
