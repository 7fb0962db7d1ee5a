"""Tiny pipelines for the scheduler benchmarks: one no-op task each.

``hourly`` is copied under 1,000 names for the scheduler pass; ``tiny`` is triggered
over the API; ``every_2s`` is deployed on an interval schedule to measure lateness.
"""

from datetime import timedelta

from headwater import component, pipeline


@component
def noop() -> int:
    return 1


@pipeline(schedule="0 * * * *", start_date="2026-01-01T00:00:00+00:00", catchup=True)
def hourly():
    noop()


@pipeline
def tiny():
    noop()


@pipeline(schedule=timedelta(seconds=2))
def every_2s():
    noop()
