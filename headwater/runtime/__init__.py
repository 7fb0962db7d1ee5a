"""What runs inside a task process: the task file protocol and the function call.

Task processes never open the metadata database: they read one task input file
and write one task output file (DESIGN.md, contract 2).
"""

from headwater.runtime._execute import execute
from headwater.runtime._protocol import TASK_SCHEMA, read_json, write_json

__all__ = ["TASK_SCHEMA", "execute", "read_json", "write_json"]
