"""A pipeline scheduled on an asset that external events update (tests of
``POST /assets/{name}/events``, ``headwater assets emit`` and
``store.assets.record_external_event``): its task reads the events that triggered it."""

from __future__ import annotations

from headwater import Asset, component, pipeline

ORDERS = Asset("lake://orders")


@component
def read_events(events: str) -> int:
    """The ``rows`` the newest triggering event's metadata gives (0 without any)."""
    import json

    found = json.loads(events)["lake://orders"]
    return int((found[-1]["metadata"] or {}).get("rows", 0))


@pipeline(schedule=ORDERS)
def on_orders(events: str = "{{ triggering_asset_events | tojson }}"):
    read_events(events=events)
