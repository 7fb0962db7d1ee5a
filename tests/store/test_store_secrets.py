"""Secrets, connections and variables in the store, on SQLite and PostgreSQL: values
encrypted at rest, clear errors that create nothing, key rotation that keeps them readable."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from headwater.errors import ConfigurationError, InvalidValue, LimitError, NotFound
from headwater.store import MetadataStore, parse_connection_uri
from headwater.store._schema import metadata

PLAIN = "plaintext-S3CRET-9f8e7d"
PASSWORD = "pw-Zq81-unique"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "hw-home"
    monkeypatch.setenv("HEADWATER_HOME", str(folder))
    monkeypatch.delenv("HEADWATER_SECRET_KEY", raising=False)
    return folder


def every_text_value(store: MetadataStore) -> str:
    """Every value of every column of every table, as text (what a dump would show)."""
    parts: list[str] = []
    with store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(sa.select(table)):
                parts.extend(str(v) for v in row)
    return "\n".join(parts)


def database_bytes(store: MetadataStore, db_url: str) -> bytes:
    """The database as stored: the SQLite file (and WAL), or a pg_dump of PostgreSQL."""
    if store.postgres:
        pg_dump = shutil.which("pg_dump")
        if pg_dump is None:
            return every_text_value(store).encode()
        url = sa.make_url(db_url).set(drivername="postgresql")
        return subprocess.run(
            [pg_dump, "--data-only", url.render_as_string(hide_password=False)],
            capture_output=True,
            check=True,
        ).stdout
    path = Path(sa.make_url(db_url).database or "")
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_values_are_encrypted_at_rest_and_read_back(
    store: MetadataStore, db_url: str, home: Path
) -> None:
    store.secrets.set("api_token", PLAIN, description="the API", actor="ann")
    store.connections.set("warehouse", type="postgres", host="db", port=5432, password=PASSWORD)
    store.variables.set("limits", {"rows": 10})

    assert store.secrets.get("api_token") == PLAIN
    assert store.connections.get("warehouse").password == PASSWORD
    assert store.variables.get("limits").value == {"rows": 10}
    [info] = store.secrets.list()
    assert (info.name, info.description, info.created_by) == ("api_token", "the API", "ann")
    assert not hasattr(info, "value")
    assert store.connections.info("warehouse").has_password
    # The key file was made on first need, for its owner only.
    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    with store.engine.connect():
        pass
    stored = database_bytes(store, db_url)
    assert PLAIN.encode() not in stored
    assert PASSWORD.encode() not in stored
    assert b"api_token" in stored  # the check looks where the rows are


def test_a_wrong_or_missing_key_is_a_clear_error_naming_the_secret(
    store: MetadataStore, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.secrets.set("api_token", PLAIN)
    monkeypatch.setenv("HEADWATER_SECRET_KEY", Fernet.generate_key().decode())
    with pytest.raises(ConfigurationError) as wrong:
        store.secrets.get("api_token")
    assert "secret 'api_token' cannot be decrypted" in wrong.value.message
    assert "HEADWATER_SECRET_KEY" in (wrong.value.hint or "")
    monkeypatch.delenv("HEADWATER_SECRET_KEY")
    (home / "secret.key").unlink()
    with pytest.raises(ConfigurationError, match="secret 'api_token' cannot be decrypted"):
        store.secrets.get("api_token")
    monkeypatch.setenv("HEADWATER_SECRET_KEY", "not-a-key")
    with pytest.raises(ConfigurationError, match="not a Fernet key"):
        store.secrets.get("api_token")


def test_rotate_key_re_encrypts_every_value_and_keeps_them_readable(
    store: MetadataStore, other_namespace: MetadataStore, home: Path
) -> None:
    store.secrets.set("api_token", PLAIN)
    other_namespace.secrets.set("api_token", "theirs")
    store.connections.set("warehouse", type="postgres", password=PASSWORD)
    old_key = (home / "secret.key").read_text()
    with store.engine.connect() as conn:
        before = conn.execute(sa.text("SELECT value FROM secrets ORDER BY namespace")).all()

    assert store.secrets.rotate_key() == 3

    new_key = (home / "secret.key").read_text()
    assert new_key != old_key and len(new_key.split()) == 1
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    with store.engine.connect() as conn:
        after = conn.execute(sa.text("SELECT value FROM secrets ORDER BY namespace")).all()
    assert set(before).isdisjoint(after)
    assert store.secrets.get("api_token") == PLAIN
    assert other_namespace.secrets.get("api_token") == "theirs"
    assert store.connections.get("warehouse").password == PASSWORD
    # The old key alone reads nothing any more.
    (home / "secret.key").write_text(old_key)
    with pytest.raises(ConfigurationError, match="cannot be decrypted"):
        store.secrets.get("api_token")


def test_an_interrupted_rotation_leaves_every_value_readable_and_finishes_when_rerun(
    store: MetadataStore, home: Path
) -> None:
    store.secrets.set("a", "one")
    store.secrets.set("b", "two")
    old = (home / "secret.key").read_text().strip()
    # What a crash after the new key was written and one value re-encrypted leaves.
    new = Fernet.generate_key().decode()
    (home / "secret.key").write_text(f"{new}\n{old}\n")
    token = Fernet(new).encrypt(b"one").decode()
    with store.engine.begin() as conn:
        conn.execute(sa.text("UPDATE secrets SET value = :v WHERE name = 'a'"), {"v": token})
    assert (store.secrets.get("a"), store.secrets.get("b")) == ("one", "two")

    assert store.secrets.rotate_key() == 2

    assert (home / "secret.key").read_text().split() == [new]
    assert (store.secrets.get("a"), store.secrets.get("b")) == ("one", "two")


@pytest.mark.parametrize(
    "name", ["", "1abc", "has space", "a-b", "a__b", "trailing_", "x" * 65, "é"]
)
def test_bad_names_are_refused_and_create_nothing(store: MetadataStore, name: str) -> None:
    with pytest.raises(InvalidValue) as err:
        store.secrets.set(name, "v")
    assert "letters, digits" in (err.value.hint or "")
    with pytest.raises(InvalidValue):
        store.connections.set(name, type="http")
    with pytest.raises(InvalidValue):
        store.variables.set(name, 1)
    assert store.secrets.list() == [] and store.connections.list() == []
    assert store.variables.list() == []


def test_oversized_and_bad_values_are_refused_and_create_nothing(
    store: MetadataStore, home: Path
) -> None:
    with pytest.raises(LimitError, match="secret 'big' is 65537 bytes"):
        store.secrets.set("big", "x" * (64 * 1024 + 1))
    with pytest.raises(InvalidValue, match="empty value"):
        store.secrets.set("empty", "")
    with pytest.raises(LimitError, match="over 65536"):
        store.variables.set("big", "x" * (64 * 1024))
    with pytest.raises(InvalidValue, match="not a JSON value"):
        store.variables.set("nan", float("nan"))
    with pytest.raises(InvalidValue, match="unknown type 'oracle'"):
        store.connections.set("db", type="oracle")
    with pytest.raises(InvalidValue, match="port 70000"):
        store.connections.set("db", type="postgres", port=70000)
    with pytest.raises(LimitError, match="description"):
        store.secrets.set("described", "v", description="d" * 2000)
    assert store.secrets.list() == [] and store.connections.list() == []
    assert store.variables.list() == []
    assert not (home / "secret.key").exists() or os.path.getsize(home / "secret.key") > 0


def test_missing_names_say_how_to_set_them(store: MetadataStore) -> None:
    with pytest.raises(NotFound) as err:
        store.secrets.get("nope")
    assert "headwater secrets set nope --value-stdin" in (err.value.hint or "")
    with pytest.raises(NotFound, match="no connection 'nope'"):
        store.connections.get("nope")
    with pytest.raises(NotFound, match="no variable 'nope'"):
        store.variables.get("nope")
    with pytest.raises(NotFound):
        store.secrets.delete("nope")


def test_setting_again_replaces_and_delete_removes(store: MetadataStore) -> None:
    store.secrets.set("tok", "one", description="first")
    store.secrets.set("tok", "two")
    assert store.secrets.get("tok") == "two"
    assert store.secrets.info("tok").description == "first"  # kept when not given
    store.secrets.delete("tok")
    assert store.secrets.list() == []


def test_connection_uris_are_parsed_into_parts() -> None:
    parts = parse_connection_uri("postgresql://us%40er:p%3Ass@db.example:5433/wh?sslmode=require")
    assert parts == {
        "type": "postgres",
        "host": "db.example",
        "port": 5433,
        "login": "us@er",
        "password": "p:ss",
        "schema": "wh",
        "extras": {"sslmode": "require"},
    }
    with pytest.raises(InvalidValue, match="no scheme"):
        parse_connection_uri("db.example:5432")
    with pytest.raises(InvalidValue, match="not valid"):
        parse_connection_uri("postgresql://db:notaport/x")
