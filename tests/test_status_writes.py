"""One transition path: only ``headwater/store/_transitions.py`` writes the status of a run
or a task attempt, and the sets of statuses code tests against are named once, in
``headwater/states.py``.

Both are read off the source (its syntax tree), so a new direct write or a new
hand-written list fails here however it is reached at run time.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import headwater
from headwater.states import RunStatus, TaskStatus

ROOT = Path(headwater.__file__).parent
TRANSITIONS = "store/_transitions.py"
STATES = "states.py"
STATUS_TABLES = {"runs", "task_runs"}
# Raw SQL that writes a status: UPDATE runs ... status, INSERT INTO task_runs.
RAW_WRITE = re.compile(
    r"\bupdate\s+(task_)?runs\b.*\bstatus\b|\binsert\s+into\s+(task_)?runs\b", re.I | re.S
)


def _sources(root: Path) -> Iterator[tuple[str, ast.Module]]:
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("store/migrations/"):
            continue  # the schema's history: it creates the columns, it moves no status
        yield rel, ast.parse(path.read_text(), rel)


def _is_status_table(node: ast.AST) -> bool:
    """``t.runs``, ``_schema.task_runs``, ``runs``: the tables that hold a status column."""
    if isinstance(node, ast.Attribute):
        return node.attr in STATUS_TABLES
    return isinstance(node, ast.Name) and node.id in STATUS_TABLES


def _statement(node: ast.Call) -> str | None:
    """``insert``/``update`` when ``node`` starts such a statement on a status table."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr in ("insert", "update")
        and _is_status_table(func.value)
    ):
        return func.attr
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ("insert", "update") and node.args and _is_status_table(node.args[0]):
        return str(name)
    return None


def _sets_only_other_columns(values: list[ast.Call]) -> bool:
    """Whether the ``.values(...)`` calls of an UPDATE name every column they set, and
    none of them is ``status`` (``**kwargs`` or a built dict could hold one)."""
    if not values:
        return False  # parameters given at execute time may set anything
    for call in values:
        for kw in call.keywords:
            if kw.arg is None or kw.arg == "status":
                return False
        for arg in call.args:
            if not isinstance(arg, ast.Dict):
                return False
            for key in arg.keys:
                if not isinstance(key, ast.Constant) or key.value == "status":
                    return False
    return True


def status_writes(root: Path) -> list[str]:
    """Every place outside the transitions module that writes a status column."""
    found = []
    for rel, tree in _sources(root):
        if rel == TRANSITIONS:
            continue
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                if RAW_WRITE.search(node.value):
                    found.append(f"{rel}:{node.lineno} SQL text writes a status")
                continue
            if not isinstance(node, ast.Call):
                continue
            kind = _statement(node)
            if kind == "insert":
                found.append(f"{rel}:{node.lineno} inserts a row with a status")
            elif kind == "update":
                # Walk up the method chain: t.runs.update().where(...).values(...)
                values: list[ast.Call] = []
                here: ast.AST = node
                while isinstance(parents.get(here), ast.Attribute):
                    attr = parents[here]
                    call = parents.get(attr)
                    if not isinstance(call, ast.Call) or call.func is not attr:
                        break
                    if isinstance(attr, ast.Attribute) and attr.attr == "values":
                        values.append(call)
                    here = call
                if not _sets_only_other_columns(values):
                    found.append(f"{rel}:{node.lineno} updates a status")
    return found


_MEMBERS = {"T": TaskStatus, "TaskStatus": TaskStatus, "R": RunStatus, "RunStatus": RunStatus}
_VALUES = {s.value for s in TaskStatus} | {s.value for s in RunStatus}


def _is_status(node: ast.expr) -> bool:
    if isinstance(node, ast.Attribute) and node.attr == "value":
        node = node.value  # RunStatus.QUEUED.value
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        enum = _MEMBERS.get(node.value.id)
        return enum is not None and node.attr in enum.__members__
    return isinstance(node, ast.Constant) and node.value in _VALUES


def hand_written_status_sets(root: Path) -> list[str]:
    """Tuples, lists and sets of two or more statuses written out outside states.py."""
    found = []
    for rel, tree in _sources(root):
        if rel == STATES:
            continue
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Tuple | ast.List | ast.Set)
                and len(node.elts) >= 2
                and all(_is_status(e) for e in node.elts)
            ):
                found.append(f"{rel}:{node.lineno} {ast.unparse(node)}")
    return found


def test_only_the_transitions_module_writes_a_status() -> None:
    found = status_writes(ROOT)
    assert found == [], (
        "write run and attempt statuses through headwater/store/_transitions.py "
        "(it checks the move against headwater/states.py): " + "; ".join(found)
    )


def test_status_sets_are_named_once_in_states() -> None:
    found = hand_written_status_sets(ROOT)
    assert found == [], "use (or add) a named set in headwater/states.py instead of: " + "; ".join(
        found
    )


def _check(source: str) -> tuple[list[str], list[str]]:
    """Both scans over one module (``x.py``) written to a temporary tree."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "x.py").write_text(source)
        return status_writes(Path(tmp)), hand_written_status_sets(Path(tmp))


def test_the_scans_catch_what_they_are_for() -> None:
    # Each way of writing a status the store has used (before there was one path).
    writes = [
        "conn.execute(t.runs.update().where(c).values(status='failed', error=e))",
        "conn.execute(t.task_runs.update().where(c).values({'status': s}))",
        "conn.execute(t.task_runs.update().where(c).values(**values))",
        "conn.execute(t.task_runs.update().where(c).values({k: v for k, v in x}))",
        "conn.execute(_schema.task_runs.update(), rows)",
        "conn.execute(t.runs.insert(), row)",
        "conn.execute(sa.update(runs).values(status=x))",
        "conn.execute(sa.text('UPDATE task_runs SET status = :s WHERE id = :i'))",
    ]
    for line in writes:
        assert _check(line)[0], line
    for line in [
        "conn.execute(t.runs.update().where(c).values(heartbeat_at=now()))",
        "conn.execute(t.task_runs.update().where(c).values({'cleared_at': now()}))",
        "conn.execute(t.pools.update().values(**values))",
        "conn.execute(t.notifications.update().values(status=s))",
    ]:
        assert _check(line)[0] == [], line
    for line in [
        "x in (T.QUEUED, T.RUNNING)",
        "r.status.in_([RunStatus.QUEUED.value, RunStatus.RUNNING.value])",
        "DONE = {'succeeded', 'failed', 'cancelled'}",
    ]:
        assert _check(line)[1], line
    for line in ["x in TASK_LIVE", "x is T.QUEUED", "('none', 'failed', 'all')"]:
        assert _check(line)[1] == [], line
