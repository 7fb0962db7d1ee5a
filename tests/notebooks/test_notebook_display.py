"""A run in a notebook: a live table while ``headwater.run`` runs, and the run's HTML
view (tasks with states and durations, outputs, final metrics, errors), all escaped."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from headwater.engine import live_view

CELLS = [
    "import headwater as hw\nfrom headwater import Metrics, Output, component, pipeline",
    """\
@component
def prep(n: int) -> str:
    return "<script>alert('x')</script>" * n

@component
def train(text: str, metrics: Output[Metrics]) -> int:
    metrics.log_metric("acc<1>", 0.875)
    metrics.log_metric("loss", 0.5, step=1)
    metrics.log_metric("loss", 0.25, step=2)
    return len(text)

@component
def explode(n: int) -> int:
    raise ValueError("bad <img src=x onerror=alert(1)> input")

@pipeline
def good(n: int = 1):
    train(text=prep(n=n).output)

@pipeline
def broken(n: int = 1):
    explode(n=n)
""",
    "run = hw.run(good)",
    "run",
    "run.metrics",
    "run.outputs('prep')",
    "failed = hw.run(broken)\nfailed",
    "import os\nos.environ['HEADWATER_SERVER'] = 'http://127.0.0.1:8080/'\nrun",
]


def _text(html: str) -> str:
    return re.sub(r"<[^>]+>", " ", html)


def test_run_view_live_table_metrics_and_escaping(execute: Any) -> None:
    nb = execute(CELLS, "display")

    # While hw.run ran: one display, then updates of it in place (no widgets needed).
    kinds = [kind for cell, kind, _ in nb.displays if cell == 2]
    assert kinds[0] == "display_data"
    assert kinds.count("display_data") == 1
    assert "update_display_data" in kinds
    updates = [html for cell, kind, html in nb.displays if cell == 2]
    assert any("running" in h and "prep" in h for h in updates[:-1])
    # Its last state is the finished run's view.
    (final,) = nb.html(2)
    assert final == updates[-1]
    assert "<b>Run</b>" in final and ">succeeded<" in final

    (view,) = nb.html(3)
    run_id = re.search(r"<b>Run</b> <code>([^<]+)</code>", view)
    assert run_id is not None
    assert nb.cell(3)["outputs"][0]["data"]["text/plain"] == f"Run({run_id.group(1)}, succeeded)"
    assert "pipeline <b>good</b>" in view
    for header in ("task", "state", "attempt", "duration", "outputs", "error"):
        assert f">{header}</th>" in view
    text = _text(view)
    assert re.search(r"prep\s+succeeded\s+1\s+[\d.]+ (ms|s)", text)
    assert re.search(r"train\s+succeeded\s+1\s+[\d.]+ (ms|s)", text)
    assert "metrics: headwater.Metrics" in text
    # Final metrics: the latest value of each.
    assert re.search(r"train\s+acc&lt;1&gt;\s+0.875", text)
    assert re.search(r"train\s+loss\s+0.25", text)
    # What tasks produce is escaped, never markup.
    assert "<script>" not in view and "&lt;script&gt;" in view

    (metrics,) = nb.html(4)
    assert re.search(r"train\s+acc&lt;1&gt;\s+0.875", _text(metrics))
    (outputs,) = nb.html(5)
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in outputs
    assert "<script>" not in outputs

    live, view = nb.html(6)
    assert live == view  # the live table ended as the run's view
    assert ">failed<" in view
    assert "ValueError" in view
    assert "bad &lt;img src=x onerror=alert(1)&gt; input" in view
    # The traceback shows the line of the cell, from the captured code.
    assert "&lt;captured cells of component explode&gt;" in view
    assert "raise ValueError(&quot;bad" in view
    assert "<img" not in view

    # With a server's address known, the view links to the run in its UI.
    (linked,) = nb.html(7)
    assert f'<a href="http://127.0.0.1:8080/#/runs/{run_id.group(1)}"' in linked
    assert "open in the UI" not in nb.html(3)[0]


def test_outside_a_notebook_nothing_is_displayed() -> None:
    with live_view("p") as view:
        assert view is None


def test_the_documented_notebook_runs(execute: Any) -> None:
    doc = Path(__file__).parents[2] / "docs" / "tensorboard-and-notebooks.md"
    section = doc.read_text().split("## Notebooks", 1)[1].split("\n## ", 1)[0]
    cells = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(cells) == 3
    check = "import json\nprint('RESULT ' + json.dumps(run.metrics))"
    nb = execute([*cells, check, "run.outputs('prepare')"], "documented")
    assert nb.results() == [{"train": {"accuracy": 1.0}}]
    (view,) = nb.html(2)
    assert re.search(r"prepare\s+succeeded", _text(view))
    (outputs,) = nb.html(4)
    shown = r"output\s+2\s+data\s+headwater.Dataset at \S+/home/artifacts/\S+/prepare/data\S*\s"
    assert re.search(shown, _text(outputs))
