"""The ``headwater`` command line: thin commands over the SDK and spec layers."""

from __future__ import annotations

import importlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from headwater._version import __version__
from headwater.errors import HeadwaterError, ValidationError

_lazy: dict[str, str] = {}
"""Command name -> the module that registers it on :data:`app` when imported."""


def lazy_commands(module: str, names: list[str]) -> None:
    """Register the commands ``names`` that importing ``module`` adds to :data:`app`.

    The module is imported only when one of them runs (or help lists them), so that
    ``headwater run`` does not import what ``headwater server`` needs. Help and
    completion still list every command, in the order registered here."""
    for name in names:
        _lazy[name] = module


class _Commands(typer.core.TyperGroup):
    """The root group: its commands are loaded from their modules on first use."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [n for n in self.commands if n not in _lazy] + list(_lazy)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands:
            if cmd_name in _lazy:
                self._load([_lazy[cmd_name]])
            else:  # an unknown name: load all, so that a typo gets its suggestions
                self._load(list(dict.fromkeys(_lazy.values())))
        return self.commands.get(cmd_name)

    def _load(self, modules: list[str]) -> None:
        for module in modules:
            importlib.import_module(module)
        # Typer turns what the modules registered on `app` into click commands.
        loaded = typer.main.get_command(app)
        assert isinstance(loaded, typer.core.TyperGroup)
        for name, command in loaded.commands.items():
            self.commands.setdefault(name, command)


app = typer.Typer(
    name="headwater",
    help="Headwater: typed ML pipelines.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=_Commands,
)
# Off a terminal (CI logs, pipes) lines are not cut at 80 columns: ids and paths stay whole.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)
_state = {"debug": False}


class Format(StrEnum):
    json = "json"
    yaml = "yaml"
    kfp = "kfp"


def _version(value: bool) -> None:
    if value:
        out.print(f"headwater {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show full tracebacks on errors.")] = False,
    namespace: Annotated[
        str | None,
        typer.Option(
            "--namespace",
            "-n",
            help="Work in this namespace (default: HEADWATER_NAMESPACE, else 'default'); "
            "with --server, the namespace asked of the server.",
            show_default=False,
        ),
    ] = None,
) -> None:
    _state["debug"] = debug
    if namespace is not None:
        import os

        os.environ["HEADWATER_NAMESPACE"] = namespace


def _task_count(nodes: list[Any]) -> int:
    from headwater.spec import ConditionGroup, ExitHandlerGroup, LoopGroup, TaskSpec

    n = 0
    for node in nodes:
        if isinstance(node, TaskSpec):
            n += 1
        elif isinstance(node, ConditionGroup):
            n += sum(_task_count(b.nodes) for b in node.branches)
        elif isinstance(node, LoopGroup):
            n += _task_count(node.nodes)
        elif isinstance(node, ExitHandlerGroup):
            n += 1 + _task_count(node.nodes)
    return n


@app.command()
def compile(
    target: Annotated[str, typer.Argument(help="FILE or FILE:PIPELINE")],
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Write the spec here (default: stdout).")
    ] = None,
    format: Annotated[
        Format,
        typer.Option(
            "--format",
            help="Spec document format; kfp: a Kubeflow Pipelines package (pipeline IR YAML).",
        ),
    ] = Format.json,
    base_image: Annotated[
        str | None,
        typer.Option(
            "--base-image",
            help="With --format kfp: the image of components that set no image "
            "(default: $HEADWATER_KFP_BASE_IMAGE, else python:3.11).",
        ),
    ] = None,
) -> None:
    """Compile a pipeline to its spec document, or to a Kubeflow Pipelines package."""
    from headwater.interop import load_spec
    from headwater.spec import digest, dumps

    if base_image is not None and format is not Format.kfp:
        raise HeadwaterError(
            f"--base-image applies to --format kfp only, not --format {format.value}",
            hint="drop --base-image, or add --format kfp",
        )
    spec, path = load_spec(target)
    folder = str(path.resolve().parent)
    notes: tuple[str, ...] = ()
    if format is Format.kfp:
        from headwater.interop import to_kfp

        package = to_kfp(spec, base_image=_kfp_base_image(base_image), root=folder)
        text, notes = package.text, package.notes
    else:
        text = dumps(spec, format=format.value)
    for note in notes:
        err.print(f"[yellow]note:[/] {escape(note)}", highlight=False, soft_wrap=True)
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(output.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(output)
    err.print(
        f"[green]compiled[/] {escape(spec.name)} -> {escape(str(output))}  [dim]{digest(spec)}[/]",
        soft_wrap=True,
    )


def _kfp_base_image(flag: str | None) -> str:
    """--base-image, else $HEADWATER_KFP_BASE_IMAGE, else the default; checked to be one word."""
    import os

    from headwater.errors import ConfigurationError
    from headwater.interop import DEFAULT_BASE_IMAGE

    env = os.environ.get("HEADWATER_KFP_BASE_IMAGE")
    image = flag if flag is not None else (env if env is not None else DEFAULT_BASE_IMAGE)
    if not image.strip() or any(ch.isspace() for ch in image):
        where = "--base-image" if flag is not None else "HEADWATER_KFP_BASE_IMAGE"
        raise ConfigurationError(
            f"{where} {image!r} is not an image name",
            hint="name an image such as python:3.11 or registry.example.com/team/base:1.2",
        )
    return image


@app.command()
def validate(
    target: Annotated[str, typer.Argument(help="FILE or FILE:PIPELINE")],
) -> None:
    """Check every pipeline in a file (or one of them) and summarise each."""
    from headwater.interop import is_document
    from headwater.sdk import (
        compile_root,
        load_module,
        load_pipeline,
        pipelines_in,
        split_target,
    )
    from headwater.spec import digest

    path, name = split_target(target)
    with compile_root(str(path.resolve().parent)):
        if is_document(path):
            from headwater.interop import load_spec

            pipelines: list[Any] = [_Loaded(load_spec(target)[0])]
        elif name is not None:
            pipelines = [load_pipeline(target)]
        else:
            pipelines = list(pipelines_in(load_module(path)).values())
            if not pipelines:
                raise HeadwaterError(
                    f"{path} defines no @pipeline",
                    hint="decorate a function with @headwater.pipeline",
                )
        table = Table(title=f"{path}", title_justify="left")
        for col in ("pipeline", "tasks", "parameters", "schedule", "digest"):
            table.add_column(col)
        problems: list[ValidationError] = []
        for p in pipelines:
            try:
                spec = p.compile()
            except ValidationError as exc:
                problems.append(exc)
                table.add_row(p.name, "-", "-", "-", "[red]invalid[/]")
                continue
            params = ", ".join(
                f"{k}: {io.describe()}" + (f" = {io.default!r}" if io.has_default else "")
                for k, io in spec.parameters.items()
            )
            sched = "-"
            if spec.schedule is not None:
                s = spec.schedule
                sched = s.describe()
            table.add_row(
                spec.name,
                str(_task_count(spec.dag.nodes)),
                escape(params) or "-",
                escape(sched),
                digest(spec)[:19],
            )
    out.print(table)
    if problems:
        for problem in problems:
            err.print(str(problem), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1)
    out.print(f"[green]ok[/] {len(pipelines)} pipeline(s) valid")


class _Loaded:
    """A spec read from a document, shown by ``validate`` as a compiled pipeline is."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.name = spec.name

    def compile(self) -> Any:
        return self.spec


@app.command("spec-schema")
def spec_schema() -> None:
    """Print the JSON Schema of the pipeline spec document."""
    import json

    from headwater.spec import json_schema

    sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")


def _is_click_error(exc: Exception) -> bool:
    kinds: list[type] = []
    try:
        import click

        kinds.append(click.ClickException)
    except ImportError:
        pass
    try:
        from typer._click import exceptions as bundled

        kinds.append(bundled.ClickException)
    except ImportError:
        pass
    return isinstance(exc, tuple(kinds))


def _check_arguments(args: list[str]) -> None:
    """Refuse an argument that is not valid Unicode text before any command runs.

    Python reads an undecodable byte of a command line as a lone surrogate; stored (a
    parameter value, a name), it would make every later listing that shows it fail.
    """
    from headwater._values import text_problem

    for position, arg in enumerate(args, start=1):
        problem = text_problem(arg)
        if problem:
            visible = arg.encode("utf-8", "backslashreplace").decode("utf-8")
            if len(visible) > 60:
                visible = visible[:60] + "..."
            raise HeadwaterError(
                f"command-line argument {position} ('{visible}') {problem}",
                hint="pass text in UTF-8 (check the terminal's and the shell's encoding, "
                "e.g. LANG=C.UTF-8); name files with UTF-8 names",
            )


def main(argv: list[str] | None = None) -> int:
    """Run the command line; domain errors print their message and exit 1."""
    try:
        _check_arguments(sys.argv[1:] if argv is None else argv)
        code = app(args=argv, standalone_mode=False)
    except HeadwaterError as exc:
        if _state["debug"]:
            import traceback

            traceback.print_exc()
        err.print("[bold red]error:[/] " + escape(str(exc)), highlight=False, soft_wrap=True)
        return 1
    except typer.Exit as exc:
        return int(exc.exit_code or 0)
    except typer.Abort:
        err.print("aborted")
        return 130
    except Exception as exc:  # usage errors from click (typer may bundle its own copy)
        if _is_click_error(exc):
            exc.show()  # type: ignore[attr-defined]
            return int(exc.exit_code)  # type: ignore[attr-defined]
        raise
    return code if isinstance(code, int) else 0


if __name__ == "__main__":
    sys.exit(main())
