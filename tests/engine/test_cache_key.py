"""The cache key is stored with every task run: a change to how it is computed makes every
earlier run a cache miss, so its value is pinned here."""

from __future__ import annotations

from typing import Any

from headwater.engine._caching import cache_key
from headwater.engine._units import ArtifactValue
from headwater.spec import PythonImplementation, TaskOptions

IMPL = PythonImplementation(
    type="python", module="m", function="f", file="m.py", code_digest="sha256:abc"
)
OPTIONS = TaskOptions(image="python:3.12", packages=["numpy==2.0"])


def _values(data_digest: str | None = "sha256:d1", data_uri: str = "file:///a") -> dict[str, Any]:
    return {
        "n": 3,
        "name": "x",
        "data": ArtifactValue("a1", "data", "Dataset", data_uri, data_digest),
        "raw": ArtifactValue("a2", "raw", "Dataset", "file:///b", None),
        "parts": [ArtifactValue("a3", "p", "Dataset", "file:///c", "sha256:d3")],
    }


def test_the_cache_key_is_stable() -> None:
    assert cache_key(IMPL, OPTIONS, _values()) == (
        "sha256:e38852436acaf203567ba788c60c2048669deef758ff0366ce8901acdeb2932a"
    )


def test_an_artifact_counts_by_its_content_digest_not_its_place() -> None:
    key = cache_key(IMPL, OPTIONS, _values())
    assert cache_key(IMPL, OPTIONS, _values(data_uri="file:///elsewhere")) == key
    assert cache_key(IMPL, OPTIONS, _values(data_digest="sha256:other")) != key
    # Without a digest, its URI stands in for its content.
    assert cache_key(IMPL, OPTIONS, _values(data_digest=None)) != key


def test_a_per_step_environment_joins_the_key_and_its_absence_changes_nothing() -> None:
    key = cache_key(IMPL, OPTIONS, _values())
    assert cache_key(IMPL, OPTIONS, _values(), None) == key  # pinned above
    one = cache_key(IMPL, OPTIONS, _values(), "sha256:lock-one")
    assert one != key
    # The same requested packages resolved to other pins: another key.
    assert cache_key(IMPL, OPTIONS, _values(), "sha256:lock-two") != one
