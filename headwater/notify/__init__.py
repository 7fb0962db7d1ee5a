"""Telling people about runs: Slack, email, webhooks and Python callables.

A notifier that fails is logged and never fails the run.
"""

from headwater.notify._send import Event, NotifyResult, notify

__all__ = ["Event", "NotifyResult", "notify"]
