"""The keys that encrypt secrets at rest (Fernet: AES-128-CBC with HMAC-SHA256).

Where the keys come from, first found wins:

1. ``HEADWATER_SECRET_KEY``: one Fernet key, or several separated by commas. The first
   encrypts; every one decrypts (a ``MultiFernet``), so a rotation can be done by hand:
   set ``NEW,OLD``, run ``headwater secrets rotate-key``, then set ``NEW``.
2. The key file ``HEADWATER_HOME/secret.key`` (one key a line, the first encrypts),
   written with mode 0600 when a secret is first stored and no key exists yet.

A key file is changed only by replacing it whole (write a temporary file, fsync, rename),
so a crash leaves the old file or the new one, never half of either.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from headwater.errors import ConfigurationError

if TYPE_CHECKING:
    from cryptography.fernet import MultiFernet

KEY_SETTING = "HEADWATER_SECRET_KEY"
KEY_FILE = "secret.key"


def _home() -> Path:
    return Path(os.environ.get("HEADWATER_HOME") or Path.home() / ".headwater").expanduser()


def _parse(text: str, where: str) -> list[bytes]:
    from cryptography.fernet import Fernet  # only where secrets are used: start-up stays light

    keys = [k.strip() for k in text.replace(",", "\n").splitlines() if k.strip()]
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ConfigurationError(
                f"{where} holds a value that is not a Fernet key",
                hint="a key is 32 url-safe base64-encoded bytes (44 characters); make one "
                "with 'python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"'",
            ) from None
    return [k.encode() for k in keys]


def write_key_file(path: Path, keys: list[bytes]) -> None:
    """Replace the key file at ``path`` whole, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, b"\n".join(keys) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    with contextlib.suppress(OSError):  # the rename itself survives a crash
        dfd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)


@dataclass
class KeyRing:
    """The keys secrets are encrypted with: ``keys[0]`` encrypts, all decrypt.

    ``source`` says where they came from (for messages); ``path`` is the key file, when
    the keys are in one (None: they come from ``HEADWATER_SECRET_KEY``).
    """

    keys: list[bytes]
    source: str
    path: Path | None = None

    @classmethod
    def load(cls, *, create: bool = False) -> KeyRing | None:
        """The keys in use; with ``create``, a new key file if there are none (else None)."""
        from cryptography.fernet import Fernet

        env = os.environ.get(KEY_SETTING)
        if env:
            return cls(_parse(env, KEY_SETTING), KEY_SETTING)
        path = _home() / KEY_FILE
        try:
            text = path.read_text(encoding="ascii")
        except FileNotFoundError:
            if not create:
                return None
            keys = [Fernet.generate_key()]
            try:  # another process may create it at the same moment: the first one wins
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return cls.load()
            except FileNotFoundError:
                path.parent.mkdir(parents=True, exist_ok=True)
                return cls.load(create=True)
            with os.fdopen(fd, "wb") as f:
                f.write(keys[0] + b"\n")
                f.flush()
                os.fsync(f.fileno())
            return cls(keys, str(path), path)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"cannot read the secret key file {path} ({exc})",
                hint=f"make it readable by this user, or set {KEY_SETTING}",
            ) from None
        keys = _parse(text, f"the secret key file {path}")
        if not keys:
            raise ConfigurationError(
                f"the secret key file {path} is empty",
                hint=f"restore it from a backup, or set {KEY_SETTING}",
            )
        return cls(keys, str(path), path)

    def _fernet(self) -> MultiFernet:
        from cryptography.fernet import Fernet, MultiFernet

        return MultiFernet([Fernet(k) for k in self.keys])

    def encrypt(self, value: str) -> str:
        return self._fernet().encrypt(value.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str, what: str) -> str:
        """The plaintext of ``token``; ``what`` names it in the error if no key fits."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet().decrypt(token.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise ConfigurationError(
                f"{what} cannot be decrypted with the key(s) from {self.source}",
                hint=f"the key changed: set {KEY_SETTING} (or restore {KEY_FILE}) to the key "
                "it was stored with, or set the value again",
            ) from None

    def reencrypt(self, token: str, what: str) -> str:
        """``token`` encrypted again with the first key (it must decrypt with one of them)."""
        from cryptography.fernet import InvalidToken

        try:
            return self._fernet().rotate(token.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise ConfigurationError(
                f"{what} cannot be decrypted with the key(s) from {self.source}",
                hint="no key in use fits it: add the key it was stored with, or set it again",
            ) from None


def missing_key(what: str) -> ConfigurationError:
    return ConfigurationError(
        f"{what} cannot be decrypted: there is no secret key (no {KEY_SETTING} and no "
        f"{_home() / KEY_FILE})",
        hint=f"set {KEY_SETTING} or restore the key file the value was stored with",
    )
