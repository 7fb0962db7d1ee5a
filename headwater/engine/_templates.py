"""Parameter values as Jinja templates, rendered when a run is created.

Rendering uses Jinja's ``SandboxedEnvironment`` with ``StrictUndefined``: a template
can read the names it is given (``ds``, ``data_interval_start``, ``params``, ...) and
call the safe helpers among them, but cannot reach Python internals
(``__class__``, ``__globals__``, ...), and a misspelt name is an error rather than an
empty string. Only strings that contain ``{{`` or ``{%`` are templates; every other
value passes through unchanged, without any cost. Rendered values are what the run
stores.

Templates render in a separate process (:mod:`headwater.engine._render`) with limits on
time, output size and memory (``HEADWATER_MAX_RENDER_*``), since anyone who may trigger
a run writes them. Whatever goes wrong (a syntax error, ``1/0``, a loop that never
ends) is a :class:`ParameterError` or :class:`LimitError` that names the parameter and
the template's error; nothing is created.
"""

from __future__ import annotations

from typing import Any

from headwater._limits import how_to_raise, limits
from headwater._values import shown
from headwater.engine._render import RenderFailed, render
from headwater.errors import LimitError, ParameterError
from headwater.spec import PipelineSpec, template_users


def is_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def render_value(value: Any, context: dict[str, Any], where: str) -> Any:
    """``value`` with every template string in it rendered (lists and dicts too)."""
    if isinstance(value, list):
        return [render_value(v, context, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: render_value(v, context, f"{where}[{k!r}]") for k, v in value.items()}
    if not is_template(value):
        return value
    return _render_one(value, context, where)


def _render_one(value: str, context: dict[str, Any], where: str) -> str:
    now = limits()
    try:
        return render(
            value,
            context,
            seconds=now.max_render_seconds,
            max_bytes=now.max_render_bytes,
            memory=now.max_render_memory_bytes,
        )
    except RenderFailed as exc:
        raise _explain(exc, value, where, context) from None


_LIMITED = {
    "timeout": "max_render_seconds",
    "size": "max_render_bytes",
    "memory": "max_render_memory_bytes",
}


def _explain(
    exc: RenderFailed, template: str, where: str, context: dict[str, Any]
) -> ParameterError | LimitError:
    text = shown(template)
    if exc.kind in _LIMITED:
        return LimitError(
            f"{where}: the template {text} went past a limit: {exc.message}",
            hint="simplify the template (fewer loop turns, smaller values), or "
            + how_to_raise(_LIMITED[exc.kind]),
        )
    if exc.kind == "security":
        return ParameterError(
            f"{where}: the template {text} tried something templates may not do: {exc.message}",
            hint="templates may use the run's values (ds, ts, params, data_interval_start, "
            "macros...) but not Python internals",
        )
    hint = "check the names used; available: " + ", ".join(sorted(context))
    if exc.kind == "crashed":
        hint = "the render process stopped while rendering it: simplify the template"
    elif exc.kind == "error":
        hint = "fix what the template computes (see the error above); " + hint
    return ParameterError(f"{where}: cannot render the template {text}: {exc.message}", hint=hint)


def render_task_templates(
    spec: PipelineSpec, templates: list[str], context: dict[str, Any]
) -> dict[str, str]:
    """Each template that tasks of ``spec`` are given (``headwater.Template``), rendered
    with ``context`` (whose ``params`` are the run's parameter values, rendered): template
    text -> rendered text. An error names a task and input that use the template."""
    rendered: dict[str, str] = {}
    for text in templates:
        where = _users(spec, text)
        # A Template is rendered whatever it holds: explicit, unlike parameter values.
        value = _render_one(text, context, where)
        size = len(value.encode("utf-8", "surrogatepass"))
        if size > limits().max_parameter_bytes:
            raise LimitError(
                f"{where}: the template {shown(text)} renders to {size:,} bytes, more than "
                f"the {limits().max_parameter_bytes:,} a task argument may be",
                hint="pass a reference to the data (a path or URI) instead of the data, or "
                + how_to_raise("max_parameter_bytes"),
            )
        rendered[text] = value
    return rendered


def _users(spec: PipelineSpec, text: str) -> str:
    """Which task input (the first found) of pipeline ``spec`` gets the template ``text``."""
    for task, name in template_users(spec, text):
        return f"pipeline '{spec.name}', task '{task}', input '{name}'"
    return f"pipeline '{spec.name}'"


def render_parameters(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Render every template among run parameter ``values``; ``params`` in the context is
    the values before rendering."""
    ctx = {**context, "params": dict(values)}
    return {name: render_value(v, ctx, f"parameter '{name}'") for name, v in values.items()}
