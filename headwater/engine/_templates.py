"""Parameter values as Jinja templates, rendered when a run is created.

Rendering uses Jinja's ``SandboxedEnvironment`` with ``StrictUndefined``: a template
can read the names it is given (``ds``, ``data_interval_start``, ``params``, ...) and
call the safe helpers among them, but cannot reach Python internals
(``__class__``, ``__globals__``, ...), and a misspelt name is an error rather than an
empty string. Only strings that contain ``{{`` or ``{%`` are templates; every other
value passes through unchanged. Rendered values are what the run stores.
"""

from __future__ import annotations

from typing import Any

from headwater.errors import ParameterError

_env: Any = None


def _environment() -> Any:
    global _env
    if _env is None:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        _env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
    return _env


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
    from jinja2 import TemplateError
    from jinja2.exceptions import SecurityError

    try:
        return _environment().from_string(value).render(context)
    except SecurityError as exc:
        raise ParameterError(
            f"{where}: the template {value!r} tried something templates may not do: {exc}",
            hint="templates may use the run's values (ds, ts, params, data_interval_start, "
            "macros...) but not Python internals",
        ) from None
    except TemplateError as exc:
        raise ParameterError(
            f"{where}: cannot render the template {value!r}: {exc}",
            hint="check the names used; available: " + ", ".join(sorted(context)),
        ) from None


def render_parameters(values: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """Render every template among run parameter ``values``; ``params`` in the context is
    the values before rendering."""
    ctx = {**context, "params": dict(values)}
    return {name: render_value(v, ctx, f"parameter '{name}'") for name, v in values.items()}
