"""Timetable tests pass ``now`` explicitly: nothing here sleeps or reads the clock.

scheduler_helpers.py (shared builders and a brute-force cron oracle) is importable by name.
"""

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
