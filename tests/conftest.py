"""Settings every test shares.

Per-step environments are built once per test session, in one folder
(``HEADWATER_ENVS_DIR``), however many tests each give their own ``HEADWATER_HOME``: a
second build of the same packages would only be slower. A test that needs to watch a
build happen sets a folder of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _shared_envs_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("HEADWATER_ENVS_DIR")
    os.environ["HEADWATER_ENVS_DIR"] = str(tmp_path_factory.mktemp("envs"))
    yield
    if previous is None:
        os.environ.pop("HEADWATER_ENVS_DIR", None)
    else:
        os.environ["HEADWATER_ENVS_DIR"] = previous
