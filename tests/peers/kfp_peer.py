"""The kfp side of the Kubeflow interop tests and bench, run by the kfp peer environment's
Python (``.venvs/kfp/bin/python``), never imported by the project.

    kfp_peer.py compile OUT_DIR            compile the corpus: OUT_DIR/<name>.yaml
    kfp_peer.py run OUT_DIR NAME...        run each with kfp.local (subprocess runner):
                                           OUT_DIR/<name>.local.json, every task's outputs
    kfp_peer.py load FILE...               load each IR file with the kfp SDK
    kfp_peer.py run-file FILE ROOT ARGS    run one IR file with kfp.local; its outputs

Outputs are written as {task path: {name: value}}, an artifact as
{"type", "metadata", "content"}; a loop iteration's task is ``loop[i].task`` as in
Headwater.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
import warnings

warnings.filterwarnings("ignore")
HERE = os.path.dirname(os.path.abspath(__file__))


def _corpus(which: str = "CORPUS"):
    sys.path.insert(0, os.path.join(HERE, "..", "interop", "kfp"))
    import corpus

    return getattr(corpus, which)


def _content(uri: str) -> str | None:
    if not os.path.isfile(uri):
        return None
    with open(uri, encoding="utf-8", errors="replace") as fh:
        return fh.read()


def collect(run_dir: str) -> dict:
    """Every task's outputs from kfp.local's pipeline root for one run."""
    found: dict = {}
    for folder, _dirs, files in os.walk(run_dir):
        if "executor_output.json" not in files:
            continue
        rel = os.path.relpath(folder, run_dir)
        path = re.sub(r"-iteration-(\d+)/", r"[\1].", rel + "/").rstrip("/").replace("/", ".")
        with open(os.path.join(folder, "executor_output.json")) as fh:
            out = json.load(fh)
        values = dict(out.get("parameterValues") or {})
        uris = set()
        for name, arts in (out.get("artifacts") or {}).items():
            art = arts["artifacts"][0]
            uris.add(os.path.abspath(art["uri"]))
            values[name] = {"metadata": art.get("metadata") or {}, "content": _content(art["uri"])}
        for name in files:  # an OutputPath parameter, which kfp.local reads from its file
            full = os.path.abspath(os.path.join(folder, name))
            if name != "executor_output.json" and full not in uris and name not in values:
                values[name] = {"file": _content(full)}
        found[path] = values
    return found


def run_one(component, args: dict, root: str) -> float:
    """Run ``component`` with kfp.local's subprocess runner; the seconds it took."""
    from kfp import local

    local.init(
        runner=local.SubprocessRunner(use_venv=False), pipeline_root=root, raise_on_error=False
    )
    started = time.perf_counter()
    component(**args)
    return time.perf_counter() - started


def main(argv: list[str]) -> int:
    command = argv[0]
    if command == "compile":
        from kfp import compiler

        out = argv[1]
        os.makedirs(out, exist_ok=True)
        listing = {}
        for name, (pipeline, args, succeeds, local) in _corpus().items():
            compiler.Compiler().compile(pipeline, os.path.join(out, f"{name}.yaml"))
            listing[name] = {"args": args, "succeeds": succeeds, "local": local}
        os.makedirs(os.path.join(out, "refusals"), exist_ok=True)
        for name, (pipeline, words) in _corpus("REFUSALS").items():
            compiler.Compiler().compile(pipeline, os.path.join(out, "refusals", f"{name}.yaml"))
            listing[f"refusals/{name}"] = {"words": words}
        print(json.dumps(listing))
        return 0
    if command == "run":
        from kfp import components

        out = argv[1]
        corpus = _corpus()
        timings = {}
        for name in argv[2:]:
            args = corpus[name][1]
            args = {k: v.format(data=out) if isinstance(v, str) else v for k, v in args.items()}
            root = os.path.join(out, f"{name}.kroot")
            component = components.load_component_from_file(os.path.join(out, f"{name}.yaml"))
            seconds = run_one(component, args, root)
            runs = [os.path.join(root, d) for d in os.listdir(root)]
            outputs = collect(max(runs, key=os.path.getmtime)) if runs else {}
            with open(os.path.join(out, f"{name}.local.json"), "w") as fh:
                json.dump(outputs, fh)
            timings[name] = seconds
        print(json.dumps(timings))
        return 0
    if command == "load":
        from kfp import components

        loaded = {}
        for path in argv[1:]:
            try:
                comp = components.load_component_from_file(path)
                loaded[path] = {"ok": True, "name": comp.name}
            except Exception as exc:  # report every file, not just the first failure
                loaded[path] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(loaded))
        return 0
    if command == "run-file":
        from kfp import components

        path, root = argv[1], argv[2]
        args = json.loads(argv[3]) if len(argv) > 3 else {}
        component = components.load_component_from_file(path)
        seconds = run_one(component, args, root)
        runs = [os.path.join(root, d) for d in os.listdir(root)]
        outputs = collect(max(runs, key=os.path.getmtime)) if runs else {}
        print(json.dumps({"seconds": seconds, "outputs": outputs}))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
