"""What Airflow learns about this provider without importing it (the
``apache_airflow_provider`` entry point): its hooks, operators, sensors, triggers, extra
link, and the ``headwater`` connection's form."""

from __future__ import annotations

from typing import Any

from headwater_airflow._version import __version__

INTEGRATION = "Headwater"


def get_provider_info() -> dict[str, Any]:
    def modules(*names: str) -> list[dict[str, Any]]:
        return [
            {
                "integration-name": INTEGRATION,
                "python-modules": [f"headwater_airflow.{n}" for n in names],
            }
        ]

    return {
        "package-name": "airflow-provider-headwater",
        "name": "Headwater",
        "description": "Trigger runs of Headwater pipelines, wait for runs and asset updates.",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": INTEGRATION,
                "tags": ["software"],
            }
        ],
        "hooks": modules("hooks"),
        "operators": modules("operators"),
        "sensors": modules("sensors"),
        "triggers": modules("triggers"),
        "extra-links": ["headwater_airflow.links.HeadwaterRunLink"],
        "connection-types": [
            {
                "connection-type": "headwater",
                "hook-class-name": "headwater_airflow.hooks.HeadwaterHook",
                "hook-name": "Headwater",
                "conn-fields": {
                    "timeout": {
                        "label": "Request timeout (seconds)",
                        "description": "How long one request to the server may take.",
                        "schema": {"type": ["number", "null"], "default": 30},
                    }
                },
                "ui-field-behaviour": {
                    "hidden-fields": ["schema", "login", "port", "extra"],
                    "relabeling": {"host": "Headwater URL", "password": "Token"},
                    "placeholders": {
                        "host": "http://headwater.internal:8080",
                        "password": "hw_... (headwater users create airflow)",
                    },
                },
            }
        ],
    }
