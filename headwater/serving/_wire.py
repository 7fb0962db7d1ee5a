"""The messages between the serving front and a model worker, over one Unix socket pair.

Each message is a 4-byte little-endian length and a pickle (protocol 5) of a tuple.
Both ends are Headwater's own processes on one machine, started together: nothing a
client sent is unpickled (the front decodes requests into numpy arrays first), and the
socket is never bound to a name another process could open.

front -> worker::

    ("load", LoadSpec)                           first message: load the model
    ("infer", call, inputs, parameters, wanted)  inputs: {name: array}; wanted: names or None
    ("stop",)                                    finish and exit (EOF means the same)

worker -> front::

    ("ready", ModelMetadata)                     loaded; answers requests from now on
    ("failed", status, message)                  could not load; the worker exits
    ("ok", call, [(name, datatype, array), ...]) an answer
    ("error", call, status, message)             a refusal (400) or the model's failure (500)

Calls carry numbers so that answers may come back in any order: a worker that batches
requests, or runs several at once, answers as it finishes.
"""

from __future__ import annotations

import pickle
import socket
import struct
from collections.abc import Callable
from typing import Any

_HEADER = struct.Struct("<I")
#: A message larger than this is a broken peer, not a request (the front's own request
#: limit is far below it).
MAX_MESSAGE = 1 << 31


def pack(message: tuple[Any, ...]) -> bytes:
    data = pickle.dumps(message, protocol=5)
    return _HEADER.pack(len(data)) + data


class FrameReader:
    """Splits a byte stream into messages; ``on_message`` gets each as it completes."""

    def __init__(self, on_message: Callable[[tuple[Any, ...]], None]) -> None:
        self._buffer = bytearray()
        self._on_message = on_message

    def feed(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        start = 0
        end = len(buffer)
        while end - start >= 4:
            (size,) = _HEADER.unpack_from(buffer, start)
            if size > MAX_MESSAGE:
                raise ValueError(f"a message of {size} bytes from the peer: the stream is broken")
            if end - start - 4 < size:
                break
            message = pickle.loads(buffer[start + 4 : start + 4 + size])
            start += 4 + size
            self._on_message(message)
        if start:
            del buffer[:start]


class Channel:
    """The worker's end: blocking receive and send of whole messages."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending: list[tuple[Any, ...]] = []
        self._reader = FrameReader(self._pending.append)

    def receive(self) -> tuple[Any, ...] | None:
        """The next message, or None when the front has gone (EOF)."""
        while not self._pending:
            data = self._sock.recv(1 << 20)
            if not data:
                return None
            self._reader.feed(data)
        return self._pending.pop(0)

    def send(self, message: tuple[Any, ...]) -> None:
        self._sock.sendall(pack(message))
