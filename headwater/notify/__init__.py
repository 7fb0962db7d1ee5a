"""Telling people about runs: Slack, email, webhooks and Python callables.

The engine writes notifications to the store's outbox with the change they tell of; a
:class:`Sender` delivers them outside any transaction, retrying with backoff. A notifier
that fails is logged and recorded, and never fails the run.
"""

from headwater.notify._outbox import Sender, SenderSettings
from headwater.notify._send import Event, deliver

__all__ = ["Event", "Sender", "SenderSettings", "deliver"]
