"""Print where the newest run of the ML example put its model, metrics and lineage.

python examples/show_results.py [PIPELINE]
"""

from __future__ import annotations

import sys

from rich.console import Console
from rich.table import Table

from headwater.engine import Run, Workspace


def main() -> int:
    pipeline = sys.argv[1] if len(sys.argv) > 1 else "ml_pipeline"
    console = Console(width=None if sys.stdout.isatty() else 160)
    ws = Workspace.open()
    runs = ws.store.runs.list_runs(pipeline=pipeline, limit=2)
    if not runs:
        console.print(f"no runs of {pipeline} yet: run 'headwater run examples/ml_pipeline.py'")
        return 1
    run = Run(ws, runs[0].id)
    tasks = run.tasks
    cached = sum(1 for t in tasks.values() if t.status == "cached")
    console.print(
        f"\nnewest run [bold]{run.id}[/]: {run.status}, "
        f"{cached} of {len(tasks)} tasks were cache hits"
    )
    console.print(f"home: {ws.settings.home}  (database {ws.settings.database_url})")

    table = Table(title="metrics", title_justify="left")
    for col in ("task", "metric", "value"):
        table.add_column(col)
    for path, values in run.metrics.items():
        for key, value in values.items():
            table.add_row(path, key, f"{value:.4f}")
    console.print(table)

    model = None
    for art, task, name in ws.store.lineage.run_artifacts(run.id):
        if task is not None and task.path == "register" and name == "registered":
            model = art
    if model is None:
        console.print("the model was not registered (the quality gate rejected it)")
        return 0
    console.print(f"registered model: {model.uri}")
    console.print(f"registry copy:    {model.metadata.get('registry')}")
    table = Table(title=f"lineage of the registered model {model.id}", title_justify="left")
    for col in ("hops", "artifact", "type", "made by task", "run", "uri"):
        table.add_column(col)
    for node in ws.store.lineage.walk(model.id, "upstream"):
        made_by = ws.store.lineage.producer(node.artifact.id)
        table.add_row(
            str(node.depth),
            node.artifact.id,
            node.artifact.type,
            made_by.path if made_by else "-",
            made_by.run_id if made_by else "-",
            node.artifact.uri,
        )
    console.print(table)
    console.print(
        f"\nmore: headwater runs show {run.id}\n      headwater lineage {model.id}\n"
        f"      headwater tasks logs {run.id} train"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
