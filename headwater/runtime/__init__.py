"""What runs inside a task process: the task file protocol and the function call.

Task processes never open the metadata database: they read one task input file
and write one task output file (DESIGN.md, contract 2). Which URIs a confined run
may read is decided here too (:class:`UriPolicy`), so that the task process and the
server apply the same rule.
"""

from headwater.runtime._execute import execute
from headwater.runtime._protocol import TASK_SCHEMA, artifact_entry, read_json, write_json
from headwater.runtime._uris import Place, UriPolicy, local_path_of, locate, normalize_root

__all__ = [
    "TASK_SCHEMA",
    "Place",
    "UriPolicy",
    "artifact_entry",
    "execute",
    "local_path_of",
    "locate",
    "normalize_root",
    "read_json",
    "write_json",
]
