"""Assets: named data that tasks update and that pipelines can be scheduled on.

``Asset("s3://bucket/churn/features")`` names a piece of data by a URI-like
string. A task output can update an asset (``assets={"model": Asset(...)}``);
a pipeline scheduled on assets runs when they have been updated
(``schedule=a & b`` for all of them, ``schedule=a | b`` for any of them).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

from headwater.errors import DefinitionError, Location
from headwater.sdk import _location
from headwater.sdk._location import Src

# The same rule as headwater/spec/_validate/_common.py (which the SDK must not import
# at `import headwater` time); tests/spec/test_validate_pools_assets.py pins them equal.
ASSET_RE = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://\S+$")
ASSET_MAX_LENGTH = 512
ASSET_HINT = (
    "write a URI-like name such as 's3://bucket/churn/features' or 'models://churn': "
    "a scheme, '://', then no spaces, at most 512 characters"
)
_MIX_HINT = (
    "a schedule runs on all of some assets (a & b & c, or a list [a, b, c]) or on any of "
    "them (a | b | c), one level only; pick one, or split the pipeline in two"
)

AssetMode = Literal["all", "any"]


def asset_error(name: str) -> str | None:
    """Why ``name`` is not an asset name, or None."""
    if len(name) > ASSET_MAX_LENGTH:
        return f"asset name is {len(name)} characters long (at most {ASSET_MAX_LENGTH})"
    if not ASSET_RE.fullmatch(name):
        return f"invalid asset name {name!r}"
    return None


class Asset:
    """A named piece of data, such as a table, a file or a model, named by a URI.

    Use it where an asset name is accepted: to say which output of a task updates
    it, and to schedule a pipeline on it::

        FEATURES = Asset("s3://lake/churn/features")

        @component(assets={"features": FEATURES})
        def build_features(features: Output[Dataset]) -> None: ...

        @pipeline(schedule=FEATURES & Asset("s3://lake/churn/labels"))   # all of them
        def train_churn(): ...

    ``a | b`` runs the pipeline when any of the assets is updated. A plain string
    works wherever an ``Asset`` does.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        if not isinstance(name, str):
            raise DefinitionError(
                f"Asset(...) takes a name (str), got {name!r}",
                location=_location.loc(_location.caller()),
                hint="name the asset with a URI, e.g. Asset('s3://bucket/churn/features')",
            )
        self.name = name

    def __repr__(self) -> str:
        return f"Asset({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Asset) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Asset", self.name))

    def __and__(self, other: Asset | AssetCondition | str) -> AssetCondition:
        return _combine("all", self, other, _location.caller())

    def __rand__(self, other: str) -> AssetCondition:
        return _combine("all", other, self, _location.caller())

    def __or__(self, other: Asset | AssetCondition | str) -> AssetCondition:
        return _combine("any", self, other, _location.caller())

    def __ror__(self, other: str) -> AssetCondition:
        return _combine("any", other, self, _location.caller())


class AssetCondition:
    """Assets combined with ``&`` (all of them) or ``|`` (any of them), one level deep.

    Combining ``&`` and ``|`` in one expression is reported when the condition is
    used as a schedule, pointing at the line that mixed them.
    """

    __slots__ = ("assets", "mixed_at", "mode")

    def __init__(
        self, mode: AssetMode, assets: tuple[Asset, ...], mixed_at: Src | None = None
    ) -> None:
        self.mode: AssetMode = mode
        self.assets = assets
        self.mixed_at = mixed_at

    def __repr__(self) -> str:
        if self.mixed_at is not None:
            return f"AssetCondition(<mixes & and |>, {list(self.assets)!r})"
        op = " & " if self.mode == "all" else " | "
        return op.join(repr(a) for a in self.assets)

    def __and__(self, other: Asset | AssetCondition | str) -> AssetCondition:
        return _combine("all", self, other, _location.caller())

    def __rand__(self, other: str) -> AssetCondition:
        return _combine("all", other, self, _location.caller())

    def __or__(self, other: Asset | AssetCondition | str) -> AssetCondition:
        return _combine("any", self, other, _location.caller())

    def __ror__(self, other: str) -> AssetCondition:
        return _combine("any", other, self, _location.caller())


def _operand(value: Any, src: Src | None) -> AssetCondition:
    if isinstance(value, AssetCondition):
        return value
    if isinstance(value, str):
        value = Asset(value)
    if isinstance(value, Asset):
        return AssetCondition("all", (value,))
    raise DefinitionError(
        f"assets combine only with other assets, not {value!r} ({type(value).__name__})",
        location=_location.loc(src),
        hint="write e.g. Asset('s3://lake/a') & Asset('s3://lake/b')",
    )


def _combine(mode: AssetMode, left: Any, right: Any, src: Src | None) -> AssetCondition:
    parts = [_operand(left, src), _operand(right, src)]
    mixed_at = next((p.mixed_at for p in parts if p.mixed_at is not None), None)
    if mixed_at is None and any(len(p.assets) > 1 and p.mode != mode for p in parts):
        mixed_at = src
    return AssetCondition(mode, parts[0].assets + parts[1].assets, mixed_at)


def asset_name(value: Any, what: str, where: Location, hint: str = ASSET_HINT) -> str:
    """The checked name of an ``Asset`` or a plain string."""
    name = value.name if isinstance(value, Asset) else value
    if not isinstance(name, str):
        raise DefinitionError(
            f"{what} must be an Asset or a str, got {value!r}",
            location=where,
            hint="name the asset with a URI, e.g. Asset('s3://bucket/churn/features')",
        )
    err = asset_error(name)
    if err:
        raise DefinitionError(f"{what}: {err}", location=where, hint=hint)
    return name


def is_asset_schedule(value: Any) -> bool:
    return isinstance(value, Asset | AssetCondition | list | tuple)


def asset_schedule(value: Any, where: Location) -> tuple[list[str], AssetMode]:
    """The asset names and mode of a schedule given as assets, a condition or a list."""
    cond: AssetCondition
    if isinstance(value, Asset):
        cond = AssetCondition("all", (value,))
    elif isinstance(value, AssetCondition):
        cond = value
    else:
        items: Sequence[Any] = value
        if not items:
            raise DefinitionError(
                "schedule is an empty list of assets",
                location=where,
                hint="list the assets whose updates start a run, e.g. "
                "schedule=[Asset('s3://lake/a'), Asset('s3://lake/b')], or leave schedule out",
            )
        for item in items:
            if isinstance(item, Asset | str):
                continue
            what = "& or | conditions" if isinstance(item, AssetCondition) else repr(item)
            raise DefinitionError(
                f"a schedule list holds assets, not {what}",
                location=where,
                hint="a list means all of its assets: schedule=[Asset('s3://lake/a'), "
                "Asset('s3://lake/b')]; for any of them write Asset(...) | Asset(...)",
            )
        cond = AssetCondition("all", tuple(a if isinstance(a, Asset) else Asset(a) for a in items))
    if cond.mixed_at is not None:
        raise DefinitionError(
            "schedule mixes & (all of) and | (any of) on assets",
            location=Location(
                pipeline=where.pipeline,
                task=where.task,
                file=cond.mixed_at.relative(),
                line=cond.mixed_at.line,
            ),
            hint=_MIX_HINT,
        )
    names: list[str] = []
    for a in cond.assets:
        name = asset_name(
            a,
            "schedule",
            where,
            ASSET_HINT + "; for a time-based schedule pass one cron string or timedelta",
        )
        if name in names:
            raise DefinitionError(
                f"asset '{name}' is listed twice in the schedule",
                location=where,
                hint="list each asset once",
            )
        names.append(name)
    return names, cond.mode
