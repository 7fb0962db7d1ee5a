"""``headwater secrets``, ``connections`` and ``variables``: what tasks read from the store
(docs/teams-and-security.md).

A secret's value (and a connection's password, or a URI holding one) is never taken as a
command-line argument, which would land in the shell's history and in ``ps``: it comes
from standard input or a file. Nothing here prints a secret value or a password.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from headwater.cli._app import app, out
from headwater.errors import InvalidValue

secrets_app = typer.Typer(
    help="Secrets tasks read (stored encrypted); values never shown.", no_args_is_help=True
)
connections_app = typer.Typer(
    help="Connections to outside systems tasks read (passwords stored encrypted).",
    no_args_is_help=True,
)
variables_app = typer.Typer(help="Named JSON values tasks read.", no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")
app.add_typer(connections_app, name="connections")
app.add_typer(variables_app, name="variables")

Namespace = Annotated[str, typer.Option("--namespace", help="The namespace it belongs to.")]
Description = Annotated[str | None, typer.Option("--description", help="What it is for.")]
FromFile = Annotated[
    Path | None, typer.Option("--from-file", help="Read the value from this file (whole).")
]


def _store(namespace: str) -> Any:
    from headwater.engine import Workspace
    from headwater.store import MetadataStore

    ws = Workspace.open()
    return MetadataStore(ws.store.engine, namespace)


def _actor() -> str | None:
    import getpass

    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return None


def _read_value(what: str, stdin: bool, from_file: Path | None, *, strip: bool = True) -> str:
    if stdin == (from_file is not None):
        raise InvalidValue(
            f"give the {what} with exactly one of --value-stdin or --from-file",
            hint="e.g. 'printf %s \"$TOKEN\" | headwater secrets set NAME --value-stdin'; "
            "values are not taken as arguments, which would land in the shell history",
        )
    if from_file is not None:
        try:
            text = from_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidValue(
                f"cannot read the {what} from {from_file} ({exc})",
                hint="give a readable UTF-8 text file",
            ) from None
    else:
        text = sys.stdin.read()
    # One trailing newline is how files and `echo` end; a value rarely means it.
    return text.removesuffix("\n").removesuffix("\r") if strip else text


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


# ------------------------------------------------------------------------------ secrets


@secrets_app.command("set")
def secrets_set(
    name: Annotated[str, typer.Argument(help="The secret's name, e.g. warehouse_password.")],
    value_stdin: Annotated[
        bool, typer.Option("--value-stdin", help="Read the value from standard input.")
    ] = False,
    from_file: FromFile = None,
    description: Description = None,
    namespace: Namespace = "default",
) -> None:
    """Create or change secret NAME; the value comes from stdin or a file, never an argument."""
    value = _read_value("secret's value", value_stdin, from_file)
    info = _store(namespace).secrets.set(name, value, description=description, actor=_actor())
    out.print(f"secret {escape(info.name)} set in namespace {escape(namespace)}")


@secrets_app.command("list")
def secrets_list(namespace: Namespace = "default") -> None:
    """The secrets of a namespace: names and metadata, never values."""
    table = Table(title=f"secrets of namespace '{escape(namespace)}'", title_justify="left")
    for col in ("name", "description", "updated", "by"):
        table.add_column(col)
    for s in _store(namespace).secrets.list():
        table.add_row(
            escape(s.name), escape(s.description or ""), _when(s.updated_at), s.updated_by or ""
        )
    out.print(table)


@secrets_app.command("delete")
def secrets_delete(
    name: Annotated[str, typer.Argument()], namespace: Namespace = "default"
) -> None:
    """Delete secret NAME (tasks that need it fail until it is set again)."""
    _store(namespace).secrets.delete(name)
    out.print(f"secret {escape(name)} deleted from namespace {escape(namespace)}")


@secrets_app.command("rotate-key")
def secrets_rotate_key() -> None:
    """Encrypt every secret and connection password again with a new key.

    With the key file (HEADWATER_HOME/secret.key) a new key is made and the old one kept
    until every value is re-encrypted; run it again if it was interrupted. With
    HEADWATER_SECRET_KEY=NEW,OLD it re-encrypts with NEW; then set HEADWATER_SECRET_KEY=NEW.
    """
    from headwater.store import MetadataStore

    store: MetadataStore = _store("default")
    count = store.secrets.rotate_key()
    out.print(f"{count} value(s) encrypted with the new key")


# ------------------------------------------------------------------------------ connections


@connections_app.command("add")
def connections_add(
    name: Annotated[str, typer.Argument(help="The connection's name, e.g. warehouse.")],
    uri_stdin: Annotated[
        bool,
        typer.Option(
            "--uri-stdin",
            help="Read a URI (postgresql://user:pass@host:5432/db?sslmode=require) from stdin.",
        ),
    ] = False,
    uri: Annotated[
        str | None,
        typer.Option("--uri", help="A URI without a password (it would land in the history)."),
    ] = None,
    type: Annotated[str | None, typer.Option("--type", help="postgres, mysql, s3, ...")] = None,
    host: Annotated[str | None, typer.Option("--host")] = None,
    port: Annotated[int | None, typer.Option("--port")] = None,
    login: Annotated[str | None, typer.Option("--login")] = None,
    schema: Annotated[str | None, typer.Option("--schema", help="Schema or database.")] = None,
    extra: Annotated[
        list[str] | None, typer.Option("--extra", help="KEY=VALUE, repeatable.")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    password_file: Annotated[
        Path | None, typer.Option("--password-file", help="Read the password from this file.")
    ] = None,
    description: Description = None,
    namespace: Namespace = "default",
) -> None:
    """Create or replace connection NAME, from a URI or from its parts."""
    from headwater.store import parse_connection_uri

    if uri_stdin and (uri is not None or password_stdin):
        raise InvalidValue(
            "--uri-stdin reads the whole connection from stdin",
            hint="leave out --uri and --password-stdin",
        )
    parts: dict[str, Any] = {}
    if uri_stdin:
        parts = parse_connection_uri(_read_value("URI", True, None).strip())
    elif uri is not None:
        parts = parse_connection_uri(uri)
        if parts["password"] is not None:
            raise InvalidValue(
                "the URI given with --uri holds a password, which would land in the shell history",
                hint="pipe the URI in with --uri-stdin, or give the password with "
                "--password-stdin or --password-file",
            )
    for key, value in (
        ("type", type),
        ("host", host),
        ("port", port),
        ("login", login),
        ("schema", schema),
    ):
        if value is not None:
            parts[key] = value
    extras = dict(parts.get("extras") or {})
    for item in extra or ():
        key, eq, value = item.partition("=")
        if not eq or not key:
            raise InvalidValue(
                f"--extra {item!r} is not KEY=VALUE", hint="e.g. --extra sslmode=require"
            )
        extras[key] = value
    if password_stdin or password_file is not None:
        parts["password"] = _read_value("password", password_stdin, password_file)
    if not parts.get("type"):
        raise InvalidValue(
            f"connection '{name}' has no type",
            hint="give --type (postgres, mysql, s3, http, smtp, slack, generic, ...) or a URI",
        )
    info = _store(namespace).connections.set(
        name,
        type=parts["type"],
        host=parts.get("host"),
        port=parts.get("port"),
        login=parts.get("login"),
        password=parts.get("password"),
        schema=parts.get("schema"),
        extras=extras,
        description=description,
        actor=_actor(),
    )
    out.print(f"connection {escape(info.name)} ({info.type}) set in namespace {escape(namespace)}")


@connections_app.command("list")
def connections_list(namespace: Namespace = "default") -> None:
    """The connections of a namespace (no passwords)."""
    table = Table(title=f"connections of namespace '{escape(namespace)}'", title_justify="left")
    for col in ("name", "type", "host", "port", "login", "schema", "password"):
        table.add_column(col)
    for c in _store(namespace).connections.list():
        table.add_row(
            escape(c.name),
            c.type,
            escape(c.host or ""),
            str(c.port or ""),
            escape(c.login or ""),
            escape(c.schema or ""),
            "***" if c.has_password else "",
        )
    out.print(table)


@connections_app.command("show")
def connections_show(
    name: Annotated[str, typer.Argument()], namespace: Namespace = "default"
) -> None:
    """One connection as JSON; the password shows as *** (never its value)."""
    import dataclasses

    info = _store(namespace).connections.info(name)
    data = dataclasses.asdict(info)
    data["password"] = "***" if data.pop("has_password") else None
    for key in ("created_at", "updated_at"):
        data[key] = data[key].isoformat() if data[key] else None
    out.print_json(json.dumps(data))


@connections_app.command("delete")
def connections_delete(
    name: Annotated[str, typer.Argument()], namespace: Namespace = "default"
) -> None:
    """Delete connection NAME."""
    _store(namespace).connections.delete(name)
    out.print(f"connection {escape(name)} deleted from namespace {escape(namespace)}")


# ------------------------------------------------------------------------------ variables


def _json_arg(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise InvalidValue(
            f"the value of variable '{name}' is not JSON ({exc})",
            hint="""quote text as JSON: headwater variables set NAME '"text"'""",
        ) from None


@variables_app.command("set")
def variables_set(
    name: Annotated[str, typer.Argument()],
    value: Annotated[
        str | None, typer.Argument(help="A JSON value, e.g. 0.5, '\"text\"' or '{\"a\": 1}'.")
    ] = None,
    from_file: FromFile = None,
    description: Description = None,
    namespace: Namespace = "default",
) -> None:
    """Create or change variable NAME (a JSON value; from a file with --from-file)."""
    if (value is None) == (from_file is None):
        raise InvalidValue(
            "give the variable's JSON value as an argument or with --from-file (not both)",
            hint="e.g. headwater variables set threshold 0.5",
        )
    text = value if value is not None else _read_value("value", False, from_file, strip=False)
    record = _store(namespace).variables.set(
        name, _json_arg(name, text), description=description, actor=_actor()
    )
    out.print(f"variable {escape(record.name)} set in namespace {escape(namespace)}")


@variables_app.command("get")
def variables_get(name: Annotated[str, typer.Argument()], namespace: Namespace = "default") -> None:
    """Print variable NAME's value as JSON."""
    record = _store(namespace).variables.get(name)
    sys.stdout.write(json.dumps(record.value) + "\n")


@variables_app.command("list")
def variables_list(namespace: Namespace = "default") -> None:
    """The variables of a namespace with their values."""
    table = Table(title=f"variables of namespace '{escape(namespace)}'", title_justify="left")
    for col in ("name", "value", "description"):
        table.add_column(col)
    for v in _store(namespace).variables.list():
        text = json.dumps(v.value)
        table.add_row(
            escape(v.name),
            escape(text if len(text) <= 60 else text[:57] + "..."),
            escape(v.description or ""),
        )
    out.print(table)


@variables_app.command("delete")
def variables_delete(
    name: Annotated[str, typer.Argument()], namespace: Namespace = "default"
) -> None:
    """Delete variable NAME."""
    _store(namespace).variables.delete(name)
    out.print(f"variable {escape(name)} deleted from namespace {escape(namespace)}")
