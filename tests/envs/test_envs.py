"""Per-step environments with the real uv and the real package index: resolving, building
once under a lock, Headwater's runtime inside an environment, leases and pruning."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from headwater import envs
from headwater.errors import EnvError

TABULATE = "tabulate==0.9.0"


@pytest.fixture
def own_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An environments folder of this test's own: what it builds is built here, now."""
    folder = tmp_path / "envs"
    monkeypatch.setenv("HEADWATER_ENVS_DIR", str(folder))
    return folder


def test_a_lock_pins_every_package_and_its_digest_covers_the_interpreter_and_the_pins() -> None:
    lock = envs.resolve([TABULATE])
    v = sys.version_info
    tag = f"{sys.implementation.name}-{v.major}.{v.minor}"
    assert lock.python == tag
    assert lock.pinned == (TABULATE,)
    assert lock.exact
    expected = hashlib.sha256(f"{tag}\n{TABULATE}".encode()).hexdigest()
    assert lock.digest == f"sha256:{expected}"


def test_a_resolution_is_cached_and_the_same_set_in_other_words_shares_it(own_dir: Path) -> None:
    first = envs.resolve([TABULATE])
    again = envs.resolve([f"  {TABULATE}", TABULATE])  # spacing and repeats do not count
    assert again == first  # the same resolution (its time too): uv was not asked again
    assert len(list((own_dir / "locks").glob("*.json"))) == 1


def test_an_unpinned_set_is_resolved_again_once_its_resolution_is_older_than_the_ttl(
    own_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = envs.resolve(["tabulate<0.9"])
    assert not first.exact and first.pinned == ("tabulate==0.8.10",)
    assert envs.resolve(["tabulate<0.9"]).resolved_at == first.resolved_at
    monkeypatch.setenv("HEADWATER_ENVS_RESOLVE_TTL", "0")
    assert envs.resolve(["tabulate<0.9"]).resolved_at > first.resolved_at


def test_a_package_no_index_has_is_an_error_that_names_it() -> None:
    with pytest.raises(EnvError) as info:
        envs.resolve(["no-such-package-hw-xyz==1.0"])
    assert "no-such-package-hw-xyz" in info.value.message
    assert "not found" in info.value.message


def test_a_version_that_does_not_exist_is_an_error_that_names_the_package() -> None:
    with pytest.raises(EnvError, match=r"tabulate==99\.0"):
        envs.resolve(["tabulate==99.0"])


@pytest.mark.parametrize("line", ["-e .", "./pkg", "--index-url https://example.org/simple"])
def test_lines_that_are_no_index_requirement_are_refused(line: str) -> None:
    with pytest.raises(EnvError, match="requirement"):
        envs.resolve([line])


def test_an_environment_has_its_packages_and_headwater_but_nothing_else_of_the_engine(
    tmp_path: Path,
) -> None:
    assert importlib.util.find_spec("tabulate") is None, "the engine must lack tabulate"
    assert importlib.util.find_spec("sqlalchemy") is not None
    venv = envs.build(envs.resolve([TABULATE]))
    assert envs.is_built(venv.digest)
    code = textwrap.dedent(
        """
        import importlib.util, json, sys
        import headwater.runtime, tabulate
        print(json.dumps({
            "tabulate": tabulate.__version__,
            "sqlalchemy": importlib.util.find_spec("sqlalchemy") is not None,
            "pydantic": importlib.util.find_spec("pydantic") is not None,
            "prefix": sys.prefix,
        }))
        """
    )
    out = subprocess.run(
        [venv.python, "-c", code],
        env={"PYTHONPATH": envs.shim_dir(), "PATH": os.environ["PATH"]},
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    seen = json.loads(out.stdout)
    assert seen == {
        "tabulate": "0.9.0",
        "sqlalchemy": False,
        "pydantic": False,
        "prefix": str(venv.path),
    }


def test_the_task_runtime_imports_only_the_standard_library_and_headwater() -> None:
    code = (
        "import sys, headwater.runtime._zygote, headwater.runtime._execute, "
        "headwater.runtime._warmup, headwater._typecheck, headwater.runtime._outputs\n"
        "print('\\n'.join(sorted(m for m in sys.modules "
        "if m.split('.')[0] not in sys.stdlib_module_names)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    foreign = [m for m in out.stdout.split() if m.split(".")[0] not in ("headwater", "__main__")]
    # Site customisations of the interpreter itself (not imports of Headwater's) may load.
    assert [m for m in foreign if not m.startswith("_distutils_hack")] == []


_BUILD = """
import json, sys
from headwater import envs
venv = envs.build(envs.Lock.from_json(sys.argv[1]))
print(json.dumps({"path": str(venv.path), "built_now": venv.built_now}))
"""


def test_two_processes_building_one_environment_at_once_make_one(own_dir: Path) -> None:
    lock = envs.resolve(["six==1.16.0"])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILD, lock.to_json()], stdout=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    results = [json.loads(p.communicate(timeout=120)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert results[0]["path"] == results[1]["path"]
    assert sorted(r["built_now"] for r in results) == [False, True]  # one built, one waited
    built = [p.name for p in own_dir.iterdir() if len(p.name) == 64]
    assert built == [Path(results[0]["path"]).name]
    assert (Path(results[0]["path"]) / ".ready").exists()


def test_a_build_that_died_half_way_is_built_again(own_dir: Path) -> None:
    lock = envs.resolve(["six==1.16.0"])
    half = envs.env_path(lock.digest)
    half.mkdir(parents=True)
    (half / "junk").write_text("left by a build that was killed")
    venv = envs.build(lock)
    assert venv.built_now and not (half / "junk").exists()


def test_prune_removes_unused_environments_and_keeps_those_in_use(own_dir: Path) -> None:
    used = envs.build(envs.resolve([TABULATE]))
    idle = envs.build(envs.resolve(["six==1.16.0"]))
    lease = envs.Lease(used)
    try:
        listed = {e.digest: e for e in envs.list_envs()}
        assert listed[used.digest].users == 1 and listed[idle.digest].users == 0
        assert listed[used.digest].requested == (TABULATE,)
        assert listed[used.digest].size > 0

        dry = envs.prune(0, dry_run=True)
        assert [e.digest for e in dry.envs] == [idle.digest]
        assert idle.path.exists()

        recent = envs.prune(1)  # used a moment ago: not old enough
        assert recent.envs == []

        time.sleep(0.05)
        done = envs.prune(0)
        assert [e.digest for e in done.envs] == [idle.digest]
        assert [e.digest for e in done.kept_in_use] == [used.digest]
        assert not idle.path.exists() and used.path.exists()
    finally:
        lease.release()
    assert [e.digest for e in envs.prune(0).envs] == [used.digest]
    assert envs.list_envs() == []


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ("six\n--index-url http://evil.example/simple", "carries installer options"),
        ("six\n-e .", "carries installer options"),
        ("six -e .", "carries installer options"),
        ("six\udc80==1.0", "is not valid Unicode text"),
        ("six" + "x" * 5000, "a requirement is at most 1,000"),
        ("six\x00==1.0", "holds control characters"),
    ],
)
def test_a_requirement_smuggling_options_or_bad_text_is_refused_before_uv_sees_it(
    entry: str, says: str
) -> None:
    with pytest.raises(EnvError) as caught:
        envs.normalize_requirements([entry])
    assert says in caught.value.message
