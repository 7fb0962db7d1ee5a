"""Source bundles: deploying over the API, without access to the database.

A source bundle is a gzip-compressed tar archive of the files ``headwater deploy`` would
snapshot (:func:`~headwater.engine._deploy.collect_sources`) plus the pipeline file
itself, with paths relative to the pipeline file's folder. :func:`make_bundle` makes
one on the user's machine; the server's :func:`deploy_bundle` unpacks it into a
temporary folder, refusing anything that could write outside it, compiles it in a child
process with limits (:mod:`headwater.engine._compile_worker`: the server never imports
user code itself), and stores the version exactly as a local deploy would. Deploying
the same sources twice gives the same digest, so the second deploy creates nothing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from headwater._limits import Limits, how_to_raise, limits
from headwater.engine._deploy import collect_sources, deploy
from headwater.engine._workspace import Workspace
from headwater.errors import BundleError, HeadwaterError, Location
from headwater.spec import PipelineSpec, from_data
from headwater.store import VersionRecord

__all__ = ["deploy_bundle", "make_bundle"]

_WORKER = Path(__file__).with_name("_compile_worker.py")
_HEADWATER_PARENT = str(Path(__file__).resolve().parents[2])
_CHUNK = 1 << 16


def make_bundle(target: str) -> tuple[bytes, str]:
    """The source bundle of ``target`` (``FILE[:PIPELINE]``) and the target to name
    inside it. Compiles the pipeline here, as ``headwater deploy`` does, to know which
    files its components need."""
    from headwater.interop import load_spec
    from headwater.sdk import split_target

    spec, path = load_spec(target)
    root = path.resolve().parent
    files = collect_sources(spec, str(root))
    files.setdefault(path.name, path.read_bytes())
    buffer = io.BytesIO()
    # A fixed mtime and owner: the same sources make the same bytes.
    with (
        tarfile.open(fileobj=buffer, mode="w:gz", format=tarfile.PAX_FORMAT) as tar,
    ):
        for rel, data in sorted(files.items()):
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    _, name = split_target(target)
    return buffer.getvalue(), path.name + (f":{name}" if name else "")


def deploy_bundle(ws: Workspace, data: bytes, target: str) -> VersionRecord:
    """Unpack, compile (in a child process) and deploy a source bundle.

    Raises :class:`~headwater.errors.BundleError` before anything is stored when the
    bundle is unsafe or too large, ``target`` names nothing in it, or the pipeline does
    not compile in time; the other refusals are those of
    :func:`~headwater.engine.deploy`.
    """
    now = limits()
    with tempfile.TemporaryDirectory(prefix="headwater-bundle-") as tmp:
        work = Path(tmp)
        src = work / "src"
        src.mkdir()
        unpack(data, src, now)
        _check_target(target, src)
        spec = compile_in_child(src, target, work, now)
        return deploy(ws, spec, str(src), keep_root=False)


def _unsafe(message: str, hint: str) -> BundleError:
    return BundleError(message, kind="unsafe", hint=hint)


_REGULAR = "a source bundle holds regular files and folders only, named by relative paths"


def _entry_name(member: tarfile.TarInfo, number: int) -> str:
    """The entry's path as it will be written, or a refusal that says what and where."""
    name = member.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        shown = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        raise _unsafe(
            f"entry {number} of the bundle has a name that is not UTF-8: '{shown}'",
            "rename the file to a UTF-8 name",
        ) from None
    where = f"entry {number} of the bundle ('{name}')"
    if "\0" in name or "\\" in name:
        raise _unsafe(f"{where} has a NUL or a backslash in its name", _REGULAR)
    if name.startswith("/"):
        raise _unsafe(f"{where} has an absolute path", _REGULAR)
    parts = PurePosixPath(name).parts
    if ".." in parts:
        raise _unsafe(f"{where} climbs out of the bundle with '..'", _REGULAR)
    if member.issym() or member.islnk():
        kind = "symbolic link" if member.issym() else "hard link"
        base = PurePosixPath(name).parent if member.issym() else PurePosixPath()
        outside = member.linkname.startswith("/") or ".." in (base / member.linkname).parts
        raise _unsafe(
            f"{where} is a {kind} to '{member.linkname}'"
            + (", outside the bundle" if outside else ""),
            _REGULAR + ": put the file itself in the bundle",
        )
    if member.ischr() or member.isblk() or member.isfifo():
        raise _unsafe(f"{where} is a device or a pipe", _REGULAR)
    if not (member.isfile() or member.isdir()):
        raise _unsafe(f"{where} is neither a file nor a folder", _REGULAR)
    return "/".join(p for p in parts if p != ".")


def unpack(data: bytes, dest: Path, now: Limits) -> int:
    """Write the bundle ``data`` under ``dest``; returns the number of entries. Each entry
    is checked before it is written, and the sizes its header declares are counted before
    its bytes are read, so a bomb is refused without being inflated."""
    most = now.max_bundle_bytes
    too_large = BundleError(
        f"the bundle unpacks to more than {most:,} bytes",
        kind="too_large",
        hint="deploy fewer or smaller files (data belongs in artifacts), or "
        + how_to_raise("max_bundle_bytes"),
    )
    if len(data) > most:
        raise too_large
    damaged = "make it with 'headwater deploy FILE --server URL', or 'tar czf'"
    try:
        tar = tarfile.open(fileobj=io.BytesIO(data), mode="r:*")  # noqa: SIM115 (closed below)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise _unsafe(
            f"the request body is not a tar archive (plain or gzip): {exc}", damaged
        ) from None
    count = 0
    total = 0
    with tar:
        while True:
            try:
                member = tar.next()
            except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
                raise _unsafe(
                    f"the bundle is damaged after entry {count}: {exc}", damaged
                ) from None
            if member is None:
                break
            count += 1
            if count > now.max_bundle_files:
                raise _unsafe(
                    f"the bundle holds more than {now.max_bundle_files:,} entries",
                    "deploy fewer files, or " + how_to_raise("max_bundle_files"),
                )
            rel = _entry_name(member, count)
            if not rel:
                continue  # the bundle's own folder ('.')
            path = dest / rel
            try:
                if member.isdir():
                    path.mkdir(parents=True, exist_ok=True)
                    continue
                total += member.size
                if total > most:
                    raise too_large
                path.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with open(path, "wb") as out:
                    while chunk := source.read(_CHUNK):
                        out.write(chunk)
            except (tarfile.TarError, EOFError, zlib.error) as exc:
                raise _unsafe(
                    f"entry {count} of the bundle ('{rel}') is damaged: {exc}", damaged
                ) from None
            except OSError as exc:
                raise _unsafe(
                    f"entry {count} of the bundle ('{rel}') cannot be written: {exc.strerror}",
                    "a file and a folder of the bundle may not share a path",
                ) from None
    return count


def _check_target(target: str, src: Path) -> None:
    from headwater.sdk import split_target

    path, _ = split_target(target)
    hint = "name the pipeline file by its path inside the bundle: FILE or FILE:PIPELINE"
    if not str(path) or path.is_absolute() or ".." in path.parts:
        raise BundleError(
            f"the target '{target}' must be a relative path inside the bundle",
            kind="reference",
            hint=hint,
        )
    if not (src / path).is_file():
        held = sorted(p.relative_to(src).as_posix() for p in src.rglob("*") if p.is_file())
        raise BundleError(
            f"the bundle holds no file '{path}'",
            kind="reference",
            hint=f"{hint}; it holds {', '.join(held[:20]) or 'no files'}",
        )


def _environment(work: Path) -> dict[str, str]:
    """All the child gets: no database URL, no token, nothing of the server's secrets."""
    return {
        "PATH": os.defpath,
        "PYTHONPATH": _HEADWATER_PARENT,  # this Headwater, also when it is not installed
        "HOME": str(work),
        "TMPDIR": str(work),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # and whatever it started


def compile_in_child(src: Path, target: str, work: Path, now: Limits) -> PipelineSpec:
    """The spec of ``target`` in the unpacked bundle ``src``, compiled by a child process
    under the compile limits (see :mod:`headwater.engine._compile_worker`)."""
    result = work / "result.json"
    log = work / "output.log"
    output = now.max_bundle_bytes
    argv = [
        sys.executable,
        "-P",
        "-s",
        str(_WORKER),
        target,
        str(result),
        str(now.max_compile_memory_bytes),
        str(output),
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=src,
            env=_environment(work),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        code = process.wait(timeout=now.max_compile_seconds)
    except subprocess.TimeoutExpired:
        _kill(process)
        process.wait()
        raise BundleError(
            f"compiling '{target}' took longer than {now.max_compile_seconds:g} seconds and "
            "was stopped",
            kind="compile",
            hint="a pipeline file should do little at import time (move slow work into "
            "components), or " + how_to_raise("max_compile_seconds"),
        ) from None
    finally:
        _kill(process)
    # A write that crosses the limit is cut short without a signal: a full log is past it.
    flooded = log.stat().st_size >= output
    answer = _read_answer(result) if code == 0 and not flooded else None
    if answer is None:
        if code == -signal.SIGXFSZ or flooded:
            why = f"wrote more than {output:,} bytes (its output or its spec)"
        elif code < 0:
            why = f"was ended by signal {signal.Signals(-code).name}"
        else:
            why = f"exited with status {code}"
        tail = log.read_bytes()[-2000:].decode("utf-8", "replace").strip()
        raise BundleError(
            f"the process compiling '{target}' {why}"
            + (f"; its last output: {tail}" if tail else ""),
            kind="compile",
            hint="a pipeline file should only define components and pipelines at import "
            "time; " + how_to_raise("max_compile_memory_bytes"),
        )
    if "spec" not in answer:
        line, file = answer.get("line"), answer.get("file")
        raise BundleError(
            str(answer.get("error") or "the pipeline did not compile"),
            kind="compile",
            location=Location(
                file=file if isinstance(file, str) else None,
                line=line if isinstance(line, int) else None,
            ),
            hint=str(answer["hint"]) if answer.get("hint") else None,
        )
    try:
        return from_data(answer["spec"], source=f"the bundle's {target}")
    except HeadwaterError as exc:  # a spec of another Headwater, or one that breaks a rule
        raise BundleError(
            f"the compiled spec of '{target}' is not valid: {exc.message}",
            kind="compile",
            hint=exc.hint,
        ) from None


def _read_answer(result: Path) -> dict[str, object] | None:
    try:
        found = json.loads(result.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None
