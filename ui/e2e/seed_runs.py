"""Add N finished runs of a deployed pipeline straight into the store (for the UI's
runs-list scale test): ``python seed_runs.py PIPELINE N``."""

import random
import sys
from datetime import UTC, datetime, timedelta

from headwater.engine import Workspace
from headwater.store import _schema, new_id

pipeline, count = sys.argv[1], int(sys.argv[2])
ws = Workspace.open()
version = ws.store.pipelines.list_versions(pipeline)[0]
start = datetime.now(UTC) - timedelta(days=30)
rows = []
for i in range(count):
    created = start + timedelta(seconds=i * 200)
    rows.append(
        {
            "id": new_id(),
            "namespace": "default",
            "pipeline_id": version.pipeline_id,
            "version_id": version.id,
            "status": random.choice(["succeeded"] * 8 + ["failed", "cancelled"]),
            "parameters": {},
            "trigger": random.choice(["schedule", "api", "manual"]),
            "cache_enabled": True,
            "created_at": created,
            "started_at": created,
            "finished_at": created + timedelta(seconds=random.randint(5, 500)),
            "experiment": version.pipeline,
        }
    )
with ws.store.engine.begin() as conn:
    conn.execute(_schema.runs.insert(), rows)
ws.close()
