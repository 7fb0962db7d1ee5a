"""A real FTP server on loopback serving a folder (an fsspec ``ftp://`` root), for the
tests of remote artifact stores and of sensors watching one."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_SERVER = """
import sys
from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import FTPHandler
from pyftpdlib.servers import FTPServer

authorizer = DummyAuthorizer()
authorizer.add_anonymous(sys.argv[1], perm="elradfmwMT")
FTPHandler.authorizer = authorizer
server = FTPServer(("127.0.0.1", 0), FTPHandler)
print(server.address[1], flush=True)
server.serve_forever()
"""


@contextlib.contextmanager
def ftp_server(folder: Path) -> Iterator[int]:
    """Serve ``folder`` (anonymous, read and write) on 127.0.0.1; yields the port."""
    server = subprocess.Popen(
        [sys.executable, "-c", _SERVER, str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        yield int(server.stdout.readline())
    finally:
        server.kill()
        server.wait()
