"""Which URIs a confined run may read.

A run created through a server (API, UI, scheduler, backfill, asset trigger, retry or
clear) is *confined*: every URI it reads must lie under one of its namespace's roots (the
artifact root, and the locations an operator allowed with ``headwater roots add``), and
never in Headwater's own state: ``HEADWATER_HOME`` other than the artifact root, and the
SQLite database with its ``-wal``, ``-shm`` and ``-journal`` files wherever it lives. A
URI that cannot be checked (a relative path, a chained ``a::b`` URL, a remote URL with
``..``, a query or percent-escapes, a ``file://`` URL naming a host) is refused.

Checking never opens a file: local paths are resolved with ``os.path.realpath`` (which
only calls ``lstat`` and ``readlink``), so a server process may check a URI without
touching SQLite's per-process locks. The same :class:`UriPolicy` travels in a confined
importer's task input, so the task process checks again before it reads anything.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from headwater.errors import UriNotAllowed

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*$")
# Schemes that name this machine's files: checked as local paths, whatever fsspec does.
_LOCAL_SCHEMES = ("file", "local")
# What SQLite keeps beside a database file (and the migrator's lock file).
DATABASE_SUFFIXES = ("", "-wal", "-shm", "-journal", ".lock")


@dataclass(frozen=True)
class Place:
    """A URI resolved for checking: a real local path (``scheme`` empty; ``parts`` as
    :class:`~pathlib.PurePosixPath` splits it), or a remote URL's scheme, host or bucket,
    and path segments."""

    scheme: str
    netloc: str
    parts: tuple[str, ...]

    @property
    def local(self) -> bool:
        return not self.scheme

    @property
    def path(self) -> str:
        """The local path ('' for a remote place)."""
        return str(PurePosixPath(*self.parts)) if self.parts and self.local else ""

    def within(self, other: Place) -> bool:
        """Whether this place is ``other`` or lies under it."""
        return (
            self.scheme == other.scheme
            and self.netloc == other.netloc
            and self.parts[: len(other.parts)] == other.parts
        )

    def __str__(self) -> str:
        if self.local:
            return self.path
        return f"{self.scheme}://{self.netloc}/{'/'.join(self.parts)}"


def local_path_of(uri: str) -> str | None:
    """The local path a URI names (``file://`` and ``local://`` URLs and plain paths), as
    the artifact store reads it; None for a remote URL."""
    if "://" not in uri:
        return uri
    scheme = uri.split("://", 1)[0].lower()
    if scheme in _LOCAL_SCHEMES:
        return uri[len(scheme) + 3 :]
    return None


def locate(uri: str, *, resolve: bool = True) -> Place:
    """``uri`` as a :class:`Place` (a local path resolved through every symlink and ``..``
    unless ``resolve`` is False); :class:`UriNotAllowed` for a form that cannot be checked."""
    if not isinstance(uri, str) or not uri.strip():
        raise UriNotAllowed("an empty URI names nothing that can be checked")
    if "\x00" in uri:
        raise UriNotAllowed(f"{uri!r} holds a NUL character")
    if "::" in uri:
        raise UriNotAllowed(
            f"{uri!r} is a chained URL ('::'), which cannot be checked",
            hint="name the file or object itself",
        )
    local = local_path_of(uri)
    if local is None:
        return _remote(uri)
    if "://" in uri and not local.startswith("/"):
        raise UriNotAllowed(
            f"{uri!r} names a host or a relative path; only file:///absolute/path can be checked",
            hint="write file:///path/on/this/machine, or the path itself",
        )
    if not os.path.isabs(local):
        raise UriNotAllowed(
            f"{uri!r} is a relative path, which depends on where the task runs",
            hint="give an absolute path or a URL",
        )
    path = os.path.realpath(local) if resolve else os.path.normpath(local)
    return Place("", "", PurePosixPath(path).parts)


def _remote(uri: str) -> Place:
    split = urlsplit(uri)
    scheme = split.scheme.lower()
    if not _SCHEME.match(scheme):
        raise UriNotAllowed(f"{uri!r} has a scheme that cannot be checked")
    if not split.netloc:
        raise UriNotAllowed(
            f"{uri!r} names no host or bucket, so it cannot be checked",
            hint=f"write {scheme}://BUCKET/path",
        )
    if "?" in uri or "#" in uri or "%" in uri:
        raise UriNotAllowed(
            f"{uri!r} holds a query, a fragment or percent-escapes, which cannot be checked",
            hint="name the object by its plain path",
        )
    segments = split.path.split("/")[1:] if split.path else []
    if segments and segments[-1] == "":
        segments.pop()  # a trailing slash names the same folder
    if any(s in ("", ".", "..") for s in segments):
        raise UriNotAllowed(
            f"{uri!r} holds an empty, '.' or '..' path segment, which cannot be checked",
            hint="write the path without them",
        )
    return Place(scheme, split.netloc, tuple(segments))


def normalize_root(text: str) -> str:
    """A root as an operator gives it, checked and written one way: an absolute local path
    (symlinks kept: they are resolved at each check) or ``scheme://host/prefix``."""
    place = locate(text.strip(), resolve=False)
    return str(place)


@dataclass(frozen=True)
class UriPolicy:
    """Where the confined runs of ``namespace`` may read.

    ``roots`` are the artifact root and the operator's roots; ``home`` is
    ``HEADWATER_HOME``, of which only ``artifact_root`` may be read; ``database`` is the
    SQLite file (with its -wal/-shm/-journal/.lock companions), never readable.
    """

    namespace: str
    roots: tuple[str, ...]
    artifact_root: str
    home: str | None = None
    database: str | None = None
    # The folder under the artifact root that holds the other namespaces' artifacts
    # (the default namespace's policy only): never readable from here.
    others: str | None = None

    def check(self, uri: str) -> Place:
        """The place ``uri`` names, if a confined run may read it; else
        :class:`UriNotAllowed` saying why and how to fix it."""
        place = locate(uri)
        reason = self._forbidden(place)
        if reason is not None:
            raise UriNotAllowed(
                f"{uri!r} {reason}: runs created through a server never read Headwater's own files",
                hint="read the data from another place",
            )
        if not any(place.within(root) for root in self._roots()):
            raise UriNotAllowed(
                f"{uri!r} is outside the roots that runs in namespace '{self.namespace}' "
                f"may read ({', '.join(self.roots)})",
                hint=self.how_to_allow(),
            )
        return place

    def how_to_allow(self) -> str:
        flag = "" if self.namespace == "default" else f" --namespace {self.namespace}"
        return (
            "use a URI under one of those roots, or have an operator allow another with "
            f"'headwater roots add PATH{flag}'"
        )

    def _roots(self) -> list[Place]:
        found = []
        for root in self.roots:
            try:
                found.append(locate(root))
            except UriNotAllowed:
                continue  # a root that cannot be checked allows nothing
        return found

    def within_state(self, uri: str) -> str | None:
        """Why ``uri`` lies inside Headwater's own state (None if it does not): a root
        there would allow nothing, so it is refused when an operator adds it."""
        return self._forbidden(locate(uri), holding=False)

    def _forbidden(self, place: Place, *, holding: bool = True) -> str | None:
        """Why ``place`` is, or (``holding``) holds, Headwater's own state, if it does."""
        if self.others:
            try:
                others = locate(self.others)
            except UriNotAllowed:
                others = None
            if others is not None and place.within(others):
                return f"is inside other namespaces' artifacts ({self.others})"
        if not place.local:
            return None
        if self.database:
            real = os.path.realpath(self.database)  # SQLite keeps its -wal beside the real file
            for suffix in DATABASE_SUFFIXES:
                names = {self.database + suffix, os.path.realpath(self.database + suffix)}
                for name in sorted(names | {real + suffix}):
                    db = locate(name, resolve=False)
                    if place.within(db) or (holding and db.within(place)):
                        return f"is or holds Headwater's metadata database ({name})"
        if self.home:
            home = locate(self.home)
            art = local_path_of(self.artifact_root)
            artifacts = locate(art) if art and os.path.isabs(art) else None
            if place.within(home) and not (artifacts and place.within(artifacts)):
                return (
                    f"is inside Headwater's home {self.home}, of which only the artifact "
                    f"root {self.artifact_root} may be read"
                )
            if holding and home.within(place):
                return f"holds Headwater's home {self.home}"
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "roots": list(self.roots),
            "artifactRoot": self.artifact_root,
            "home": self.home,
            "database": self.database,
            "others": self.others,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UriPolicy:
        return cls(
            namespace=str(data["namespace"]),
            roots=tuple(str(r) for r in data["roots"]),
            artifact_root=str(data["artifactRoot"]),
            home=data.get("home"),
            database=data.get("database"),
            others=data.get("others"),
        )
