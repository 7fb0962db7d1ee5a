"""Naming a model version: ``NAME@ALIAS``, ``NAME/VERSION`` or ``NAME`` (its newest), and
the importer URIs ``models:/NAME@ALIAS`` and ``models:/NAME/VERSION``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from headwater.errors import InvalidValue
from headwater.store import ALIAS_RE, LATEST, MODEL_NAME_RE

#: The scheme of importer URIs that name a registered model's version.
MODELS_SCHEME = "models:/"
_REF = re.compile(r"^(?P<name>[^@/]+)(?:@(?P<alias>[^@/]+)|/(?P<version>[^@/]+))?$")
_FORMS = "NAME@ALIAS (e.g. churn@champion), NAME/VERSION (e.g. churn/3) or NAME (its newest)"


@dataclass(frozen=True)
class ModelRef:
    """A model version named by alias (``latest``: the newest) or by number."""

    name: str
    alias: str | None = None
    version: int | None = None

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}/{self.version}"
        return f"{self.name}@{self.alias or LATEST}"

    @property
    def uri(self) -> str:
        return MODELS_SCHEME + str(self)


def is_model_uri(uri: object) -> bool:
    """Whether an importer URI names a registered model (``models:/...``)."""
    return isinstance(uri, str) and uri.startswith(MODELS_SCHEME)


def parse_ref(text: str, *, what: str = "model reference") -> ModelRef:
    """``NAME@ALIAS``, ``NAME/VERSION`` or ``NAME`` as a :class:`ModelRef`, or a clear
    :class:`InvalidValue`."""
    match = _REF.match(text.strip()) if isinstance(text, str) else None
    if match is None or not MODEL_NAME_RE.match(match["name"]):
        raise InvalidValue(f"{what} {text!r} is not valid", hint=f"write {_FORMS}")
    name, alias, version = match["name"], match["alias"], match["version"]
    if version is not None:
        if not version.isdigit() or int(version) < 1:
            raise InvalidValue(
                f"{what} {text!r} names version {version!r}, which is not a whole number from 1",
                hint=f"write {_FORMS}",
            )
        return ModelRef(name, version=int(version))
    if alias is not None and alias != LATEST and not ALIAS_RE.match(alias):
        raise InvalidValue(f"{what} {text!r} names an invalid alias", hint=f"write {_FORMS}")
    return ModelRef(name, alias=alias or LATEST)


def parse_model_uri(uri: str) -> ModelRef:
    """``models:/NAME@ALIAS`` or ``models:/NAME/VERSION`` as a :class:`ModelRef`."""
    if not is_model_uri(uri):
        raise InvalidValue(
            f"{uri!r} is not a model URI",
            hint="write models:/NAME@ALIAS or models:/NAME/VERSION",
        )
    rest = uri[len(MODELS_SCHEME) :]
    ref = parse_ref(rest, what="model URI")
    if "@" not in rest and "/" not in rest:
        raise InvalidValue(
            f"model URI {uri!r} names no alias or version",
            hint=f"write models:/{rest}@champion, models:/{rest}/1 or models:/{rest}@latest",
        )
    return ref
