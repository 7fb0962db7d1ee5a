"""The provider seen from inside Airflow's own Python: how Airflow registers it (the
connection form, the hook, the link, the triggers), the connection forms the hook reads
and refuses, the triggers' serialize round trip, and cancelling a run when a task is
killed, whether it waits in a worker (the operator's on_kill) or in the triggerer (the
trigger's)."""

from __future__ import annotations

import textwrap
from typing import Any

from airflow_helpers import Airflow
from server_helpers import Standalone


def _run(airflow: Airflow, code: str, connections: dict[str, str] | None = None) -> Any:
    return airflow.python(textwrap.dedent(code), connections or {})


def test_airflow_registers_the_provider_its_connection_form_and_link(airflow: Airflow) -> None:
    found = _run(
        airflow,
        """
        import json, sys, warnings
        # Airflow reads the provider info on every start: it imports no Airflow module.
        from headwater_airflow.get_provider_info import get_provider_info
        info = get_provider_info()
        light = not [m for m in sys.modules if m == "airflow" or m.startswith("airflow.")]
        warnings.simplefilter("ignore")
        from airflow.providers_manager import ProvidersManager
        pm = ProvidersManager()
        hook = pm.hooks["headwater"]
        widgets = {k: v.field for k, v in pm.connection_form_widgets.items() if "headwater" in k}
        print(json.dumps({
            "light": light,
            "package": info["package-name"],
            "version": pm.providers["airflow-provider-headwater"].version,
            "hook": [hook.hook_class_name, hook.hook_name, hook.connection_id_attribute_name],
            "behaviour": pm.field_behaviours["headwater"],
            "widgets": widgets,
            "links": [l for l in pm.extra_links_class_names if "headwater" in l],
            "triggers": [t.trigger_class_name for t in pm.trigger if "headwater" in t.package_name],
        }))
        """,
    )
    assert found["light"] and found["package"] == "airflow-provider-headwater"
    assert found["version"]
    assert found["hook"] == [
        "headwater_airflow.hooks.HeadwaterHook",
        "Headwater",
        "headwater_conn_id",
    ]
    behaviour = found["behaviour"]
    assert behaviour["relabeling"] == {"host": "Headwater URL", "password": "Token"}
    assert {"schema", "login", "port", "extra"} <= set(behaviour["hidden_fields"])
    assert found["widgets"]["extra__headwater__timeout"]["schema"]["title"] == (
        "Request timeout (seconds)"
    )
    assert found["links"] == ["headwater_airflow.links.HeadwaterRunLink"]
    assert found["triggers"] == ["headwater_airflow.triggers"]


def test_the_hook_reads_each_form_of_connection_and_names_what_is_wrong(
    airflow: Airflow,
) -> None:
    forms = {
        "json": {"host": "http://hw.example:8080/", "password": "hw_a"},
        "uri_parts": {"host": "hw.example", "port": 8080, "password": "hw_a"},
        "https_schema": {"host": "hw.example", "schema": "https", "password": "hw_a"},
        "url_and_port": {"host": "https://hw.example", "port": 8443, "password": "hw_a"},
        "timeout": {"host": "http://hw", "password": "hw_a", "extra": '{"timeout": 5}'},
        "ftp": {"host": "ftp://hw.example", "password": "hw_a"},
        "blank_host": {"host": "  ", "password": "hw_a"},
        "bad_timeout": {"host": "http://hw", "password": "hw_a", "extra": '{"timeout": "soon"}'},
        "zero_timeout": {"host": "http://hw", "password": "hw_a", "extra": '{"timeout": 0}'},
    }
    found = _run(
        airflow,
        f"""
        import json
        from airflow.sdk import Connection
        from airflow.sdk.exceptions import AirflowException
        from headwater_airflow.hooks import HeadwaterHook
        out = {{}}
        for name, fields in {forms!r}.items():
            conn = Connection(conn_id="hw_" + name, conn_type="headwater", **fields)
            try:
                out[name] = list(HeadwaterHook.endpoint_of(conn))
            except AirflowException as exc:
                out[name] = str(exc)
        print(json.dumps(out))
        """,
    )
    assert found["json"] == ["http://hw.example:8080", "hw_a", 30.0]
    assert found["uri_parts"] == ["http://hw.example:8080", "hw_a", 30.0]
    assert found["https_schema"] == ["https://hw.example", "hw_a", 30.0]
    assert found["url_and_port"] == ["https://hw.example:8443", "hw_a", 30.0]
    assert found["timeout"] == ["http://hw", "hw_a", 5.0]
    assert (
        "'hw_ftp' has the Headwater URL 'ftp://hw.example', which is not an http" in (found["ftp"])
    )
    assert "'hw_blank_host' has no Headwater URL (its host field)" in found["blank_host"]
    assert "'hw_bad_timeout' has the timeout 'soon' in its extra" in found["bad_timeout"]
    assert "has the timeout 0 in its extra" in found["zero_timeout"]


def test_the_connection_test_button_reaches_the_server_and_checks_the_token(
    airflow: Airflow, headwater: Standalone, connections: dict[str, str]
) -> None:
    found = _run(
        airflow,
        """
        import json
        from headwater_airflow import HeadwaterHook
        print(json.dumps({n: HeadwaterHook(n).test_connection()
                          for n in ("headwater_default", "headwater_bad_token",
                                    "headwater_unreachable", "headwater_no_token")}))
        """,
        connections,
    )
    ok, said = found["headwater_default"]
    assert ok and f"at {headwater.url} as admin (owner)" in said
    assert found["headwater_bad_token"] == [False, found["headwater_bad_token"][1]]
    assert "the token is not known (HTTP 401)" in found["headwater_bad_token"][1]
    assert not found["headwater_unreachable"][0]
    assert "cannot reach the Headwater server" in found["headwater_unreachable"][1]
    assert not found["headwater_no_token"][0] and "has no token" in found["headwater_no_token"][1]


def test_triggers_serialize_to_what_rebuilds_them(airflow: Airflow) -> None:
    found = _run(
        airflow,
        """
        import json
        from airflow.sdk._shared.module_loading import import_string
        from airflow.sdk.serde import deserialize, serialize
        from headwater_airflow import HeadwaterAssetTrigger, HeadwaterRunTrigger
        made = [
            HeadwaterRunTrigger(headwater_conn_id="hw", run_id="01ABC", poll_interval=2,
                                end_time=1767225600.5, cancel_on_kill=False),
            HeadwaterAssetTrigger(headwater_conn_id="hw", asset="s3://lake/features",
                                  after="2026-01-15T00:00:00+00:00", poll_interval=3),
        ]
        out = []
        for trigger in made:
            path, kwargs = trigger.serialize()
            # As the triggerer does: the kwargs go through Airflow's serde, the class is
            # imported by its path.
            again = import_string(path)(**deserialize(serialize(kwargs)))
            out.append([path, kwargs, again.serialize() == (path, kwargs)])
        print(json.dumps(out))
        """,
    )
    (run_path, run_kwargs, run_same), (asset_path, asset_kwargs, asset_same) = found
    assert run_path == "headwater_airflow.triggers.HeadwaterRunTrigger" and run_same
    assert run_kwargs == {
        "headwater_conn_id": "hw",
        "run_id": "01ABC",
        "poll_interval": 2.0,
        "end_time": 1767225600.5,
        "cancel_on_kill": False,
    }
    assert asset_path == "headwater_airflow.triggers.HeadwaterAssetTrigger" and asset_same
    assert asset_kwargs["after"] == "2026-01-15T00:00:00+00:00"


def test_killing_a_waiting_task_cancels_its_run(
    airflow: Airflow, headwater: Standalone, connections: dict[str, str]
) -> None:
    """The operator's on_kill (a task waiting in a worker) and the trigger's (a deferred
    task, in the triggerer); a trigger whose run was cancelled fires ``ended``."""
    found = _run(
        airflow,
        """
        import asyncio, json, time
        from headwater_airflow import (
            HeadwaterHook, HeadwaterRunTrigger, HeadwaterTriggerRunOperator)

        hook = HeadwaterHook()

        async def first(trigger):
            async for event in trigger.run():
                return event.payload

        in_worker = hook.trigger_run("airflow_sleepy", {"seconds": 60})["id"]
        operator = HeadwaterTriggerRunOperator(task_id="t", pipeline="airflow_sleepy")
        operator.run_id = in_worker
        operator.on_kill()

        deferred = hook.trigger_run("airflow_sleepy", {"seconds": 60})["id"]
        trigger = HeadwaterRunTrigger(headwater_conn_id="headwater_default", run_id=deferred,
                                      poll_interval=0.1, end_time=time.time() + 0.3)
        timed_out = asyncio.run(first(trigger))
        asyncio.run(trigger.on_kill())
        trigger.end_time = None
        ended = asyncio.run(first(trigger))
        print(json.dumps({"in_worker": in_worker, "deferred": deferred,
                          "timed_out": timed_out, "ended": ended}))
        """,
        connections,
    )
    assert headwater.wait(found["in_worker"])["status"] == "cancelled"
    assert headwater.wait(found["deferred"])["status"] == "cancelled"
    assert found["timed_out"] == {"run_id": found["deferred"], "event": "timeout"}
    assert found["ended"] == {"run_id": found["deferred"], "event": "ended", "status": "cancelled"}


def test_a_trigger_without_a_usable_connection_fires_an_error(
    airflow: Airflow, connections: dict[str, str]
) -> None:
    found = _run(
        airflow,
        """
        import asyncio, json
        from headwater_airflow import HeadwaterAssetTrigger, HeadwaterRunTrigger

        async def first(trigger):
            async for event in trigger.run():
                return event.payload

        print(json.dumps([
            asyncio.run(first(HeadwaterRunTrigger(
                headwater_conn_id="headwater_bad_token", run_id="01ABC"))),
            asyncio.run(first(HeadwaterAssetTrigger(
                headwater_conn_id="headwater_no_host", asset="a", after="2026-01-01"))),
            asyncio.run(first(HeadwaterAssetTrigger(
                headwater_conn_id="headwater_default", asset="a", after="yesterday"))),
        ]))
        """,
        connections,
    )
    bad_token, no_host, bad_after = found
    assert bad_token["event"] == "error" and "token is not known (HTTP 401)" in bad_token["message"]
    assert no_host["event"] == "error" and "has no Headwater URL" in no_host["message"]
    assert bad_after["event"] == "error"
    assert "'yesterday' is not an ISO 8601 date and time" in bad_after["message"]


def test_bad_operator_arguments_are_refused_naming_the_argument(airflow: Airflow) -> None:
    found = _run(
        airflow,
        """
        import json
        from airflow.sdk.exceptions import AirflowException
        from headwater_airflow import HeadwaterTriggerRunOperator as Op
        out = {}
        for name, kwargs in {
            "poke": {"pipeline": "p", "poke_interval": 0},
            "timeout": {"pipeline": "p", "timeout": -5},
        }.items():
            try:
                Op(task_id=name, **kwargs)
            except ValueError as exc:
                out[name] = str(exc)
        for name, kwargs in {
            "text": {"pipeline": "p", "parameters": "{not json"},
            "list": {"pipeline": "p", "parameters": [1, 2]},
            "blank": {"pipeline": " "},
            "json_text": {"pipeline": "p", "parameters": '{"n": 3}'},
        }.items():
            try:
                out[name] = list(Op(task_id=name, **kwargs)._checked())
            except AirflowException as exc:
                out[name] = str(exc)
        print(json.dumps(out))
        """,
    )
    assert found["poke"] == "poke_interval must be seconds above 0 or a timedelta, not 0"
    assert found["timeout"] == "timeout must be seconds above 0 or a timedelta, not -5"
    assert found["text"].startswith("parameters is text that is not a JSON object")
    assert found["list"] == "parameters must be a dict of parameter values, not list"
    assert found["blank"] == "pipeline must name a deployed Headwater pipeline, not ' '"
    assert found["json_text"] == ["p", {"n": 3}]
