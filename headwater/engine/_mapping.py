"""A loop's items at run time: one list, or several combined (cross or zip), checked
against the loop's item shape (``expand_kwargs``) and its cap, before any iteration opens.

Nothing here changes the run: :func:`loop_items` returns the items or raises
:class:`LoopRefused` with the reason, and the control flow settles the loop with it.
"""

from __future__ import annotations

from typing import Any

from headwater.engine._units import Scope, resolve
from headwater.spec import CombinedItems, ItemShape, LoopGroup, SourceLocation


class LoopRefused(Exception):
    """A loop that cannot expand: its items are no list, break its shape, or are too many."""


def describe(loop: LoopGroup, pipeline: str) -> str:
    """``mapped task 'train' (pipeline 'p', flows.py:12)``, for messages."""
    if loop.mapped and loop.nodes:
        what = f"mapped task '{loop.nodes[0].name}'"
    else:
        what = f"ParallelFor '{loop.name}'"
    return f"{what} (pipeline '{pipeline}'{_at(loop.source)})"


def _at(source: SourceLocation | None) -> str:
    return f", {source.file}:{source.line}" if source else ""


def loop_items(loop: LoopGroup, scope: Scope, pipeline: str, default_cap: int) -> list[Any]:
    """The items of ``loop`` seen from ``scope``; raises Unavailable or LoopRefused."""
    where = describe(loop, pipeline)
    spec = loop.items
    if isinstance(spec, CombinedItems):
        items = _combine(spec, scope, where)
    else:
        items = _as_list(resolve(spec, scope), where, "items")
    cap = loop.max_items or default_cap
    if len(items) > cap:
        setting = (
            f"its max_items={loop.max_items}"
            if loop.max_items
            else f"HEADWATER_MAX_MAP_LENGTH={default_cap}"
        )
        raise LoopRefused(
            f"{where} got {len(items)} items, over the cap of {cap} ({setting}); none of "
            "its tasks ran. Raise the cap with max_items= on the ParallelFor or "
            ".set_max_items(n) on the mapped task, or HEADWATER_MAX_MAP_LENGTH for the "
            "engine, or make fewer items"
        )
    if loop.item_shape is not None:
        items = [_shaped(item, i, loop.item_shape, where) for i, item in enumerate(items)]
    return items


def _as_list(value: Any, where: str, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise LoopRefused(
            f"{where}: {what} must be a list, got {type(value).__name__} {_short(value)}"
        )
    return value


def _combine(spec: CombinedItems, scope: Scope, where: str) -> list[dict[str, Any]]:
    lists = [_as_list(resolve(n.items, scope), where, f"list '{n.name}'") for n in spec.lists]
    return spec.combine(lists)


def _shaped(item: Any, index: int, shape: ItemShape, where: str) -> dict[str, Any]:
    """``item`` as a complete dict of arguments (optional ones filled in)."""
    if not isinstance(item, dict):
        raise LoopRefused(
            f"{where}: item {index} must be a dict of arguments, got "
            f"{type(item).__name__} {_short(item)}"
        )
    allowed = set(shape.required) | set(shape.optional)
    unknown = sorted(k for k in item if k not in allowed)
    if unknown:
        raise LoopRefused(
            f"{where}: item {index} has argument(s) {', '.join(unknown)} that the task does "
            f"not take (it takes: {', '.join(sorted(allowed)) or 'none'})"
        )
    missing = [k for k in shape.required if k not in item]
    if missing:
        raise LoopRefused(f"{where}: item {index} lacks required argument(s) {', '.join(missing)}")
    return {**shape.optional, **item}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
