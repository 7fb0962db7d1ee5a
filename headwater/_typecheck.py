"""Does a JSON value fit a parameter type? One checker for the spec and task processes.

Types are the plain JSON form of the spec's ``ParamType`` (``kind``, ``items``,
``values``, ``optional``), so a task process can check its return values without
the spec models; the spec's validator passes ``ParamType.model_dump()``.
"""

from __future__ import annotations

from typing import Any

_PYTHON: dict[str, type | tuple[type, ...]] = {
    "int": int,
    "float": (int, float),
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
}


def describe(t: dict[str, Any]) -> str:
    kind = t["kind"]
    if kind == "list" and t.get("items"):
        text = f"list[{describe(t['items'])}]"
    elif kind == "dict" and t.get("values"):
        text = f"dict[str, {describe(t['values'])}]"
    else:
        text = kind
    return f"Optional[{text}]" if t.get("optional") else text


def mismatch(value: Any, t: dict[str, Any], where: str) -> str | None:
    """Why ``value`` is not of type ``t``, or None if it is."""
    kind = t["kind"]
    if value is None:
        return (
            None
            if t.get("optional") or kind == "any"
            else f"{where} is None but must be {describe(t)}"
        )
    if kind == "any":
        return None
    ok = isinstance(value, _PYTHON[kind]) and (kind == "bool" or not isinstance(value, bool))
    if ok and kind == "list" and t.get("items"):
        for i, item in enumerate(value):
            if err := mismatch(item, t["items"], f"{where}[{i}]"):
                return err
    if ok and kind == "dict":
        if not all(isinstance(k, str) for k in value):
            return f"{where} has keys that are not str"
        if t.get("values"):
            for k, item in value.items():
                if err := mismatch(item, t["values"], f"{where}[{k!r}]"):
                    return err
    if not ok:
        actual = type(value).__name__
        article = "an" if actual[0] in "aeiou" else "a"
        return f"{where} {value!r} is {article} {actual}, not {describe(t)}"
    return None
