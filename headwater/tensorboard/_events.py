"""The event file of a task's scalars, written with TensorBoard's own summary writer.

TensorBoard's ``DirectoryOutput`` names its file after the clock, the host and the
process, and stamps the file's first record with the time it was opened: a second export
of the same run would add a second file, and TensorBoard would show every point twice.
So the ``tensorboard.summary.Writer`` here writes into an ``Output`` that keeps the records
in memory, with the first record stamped with the first point's time: the same scalars
give the same bytes, which the export writes under a fixed name.

This module imports TensorBoard; import it only once TensorBoard is known to be there.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.summary import Output, Writer
from tensorboard.summary.writer.record_writer import RecordWriter
from tensorboard.util import tensor_util

from headwater.tensorboard._scalars import Scalar


def event_file(points: Sequence[Scalar]) -> bytes:
    """The bytes of an event file holding ``points``, in their order."""
    output = _MemoryOutput(points[0].wall_time if points else 0.0)
    writer = Writer(output)
    for p in points:
        writer.add_scalar(p.tag, p.value, p.step, wall_time=p.wall_time)
    writer.close()
    return output.data


class _MemoryOutput(Output):  # type: ignore[misc]
    """A ``tensorboard.summary.Output`` that keeps the event records in memory."""

    def __init__(self, opened_at: float) -> None:
        self._buffer = io.BytesIO()
        self._records = RecordWriter(self._buffer)
        # The first record of an event file names the format's version.
        first = event_pb2.Event(wall_time=opened_at, file_version="brain.Event:2")
        self._records.write(first.SerializeToString())
        self.data = b""

    def emit_scalar(
        self,
        *,
        plugin_name: str,
        tag: str,
        data: Any,
        step: Any,
        wall_time: float,
        tag_metadata: bytes | None = None,
        description: str | None = None,
    ) -> None:
        metadata = summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(
                plugin_name=plugin_name, content=tag_metadata or b""
            ),
            summary_description=description or "",
            data_class=summary_pb2.DataClass.DATA_CLASS_SCALAR,
        )
        event = event_pb2.Event(wall_time=wall_time, step=int(step))
        event.summary.value.add(
            tag=tag, tensor=tensor_util.make_tensor_proto(data), metadata=metadata
        )
        self._records.write(event.SerializeToString())

    def flush(self) -> None:
        """Nothing to flush: the records are in memory until :meth:`close`."""

    def close(self) -> None:
        self.data = self._buffer.getvalue()
