"""Sending what the outbox holds, outside any transaction, with retries and backoff.

A :class:`Sender` runs in every process that drives runs: a thread of ``headwater
scheduler`` and ``headwater standalone``, and of ``headwater run`` while its run lasts
(which, before it exits, waits until each of its run's notifications was tried once).
Deliveries go through a small pool of threads, so one slow target does not hold up the
others; a user's callable runs in a child process of its own, never in the sender's.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from headwater.notify._send import Event, deliver
from headwater.spec import NotificationSpec
from headwater.store import (
    DATABASE_FAILURES,
    MetadataStore,
    NotificationRecord,
    failure_cause,
    new_id,
)

log = logging.getLogger("headwater.notify")


@dataclass(frozen=True)
class SenderSettings:
    """How hard a sender tries (``HEADWATER_NOTIFY_*``)."""

    # Tries of one notification before it is marked failed.
    attempts: int = 5
    # Seconds before the first retry; each later one waits twice as long, up to max_delay.
    retry_seconds: float = 10.0
    max_delay_seconds: float = 600.0
    # Seconds one target may take (HTTP, SMTP, a callable's process).
    timeout_seconds: float = 10.0
    # Deliveries at once.
    workers: int = 4
    # Seconds between looks at the outbox when nothing woke the sender.
    poll_seconds: float = 1.0

    @classmethod
    def from_env(cls) -> SenderSettings:
        env = os.environ
        return cls(
            attempts=max(1, int(env.get("HEADWATER_NOTIFY_ATTEMPTS", cls.attempts))),
            retry_seconds=float(env.get("HEADWATER_NOTIFY_RETRY_SECONDS", cls.retry_seconds)),
            max_delay_seconds=float(
                env.get("HEADWATER_NOTIFY_MAX_DELAY_SECONDS", cls.max_delay_seconds)
            ),
            timeout_seconds=float(env.get("HEADWATER_NOTIFY_TIMEOUT_SECONDS", cls.timeout_seconds)),
            workers=max(1, int(env.get("HEADWATER_NOTIFY_WORKERS", cls.workers))),
            poll_seconds=float(env.get("HEADWATER_NOTIFY_POLL_SECONDS", cls.poll_seconds)),
            lease=float(env["HEADWATER_NOTIFY_LEASE_SECONDS"])
            if "HEADWATER_NOTIFY_LEASE_SECONDS" in env
            else None,
        )

    # Seconds a claimed row stays ours (None: longer than any delivery can take); after
    # that a sender that died mid-delivery has its rows claimed by another.
    lease: float | None = None

    @property
    def lease_seconds(self) -> float:
        return self.lease if self.lease is not None else 2 * self.timeout_seconds + 5

    def delay(self, attempts_made: int) -> float:
        return min(self.retry_seconds * 2.0 ** max(0, attempts_made - 1), self.max_delay_seconds)


class Sender:
    """Delivers due outbox rows until :meth:`stop`; :meth:`send_due` does one pass."""

    def __init__(self, store: MetadataStore, settings: SenderSettings | None = None) -> None:
        self.store = store
        self.settings = settings or SenderSettings.from_env()
        self.owner = new_id()
        self._pool = ThreadPoolExecutor(self.settings.workers, thread_name_prefix="notify")
        self._in_flight = 0
        self._queues: dict[tuple[str | None, str], deque[NotificationRecord]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> Sender:
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name="notify-sender", daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, drain: float = 0.0) -> None:
        """Stop claiming; deliveries in flight finish (each is bounded by its timeout).

        With ``drain`` seconds, first wait (that long at most) until every due
        notification was tried at least once.
        """
        if drain > 0:
            self.start()
            deadline = time.monotonic() + drain
            self.wake()
            while time.monotonic() < deadline and (
                self._in_flight or self.store.outbox.untried_due()
            ):
                time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        self._pool.shutdown(wait=True)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                self.send_due()
            except DATABASE_FAILURES as exc:  # it may come back; the rows wait for us
                log.warning(
                    "reading the notification outbox failed: the database failed (%s); "
                    "trying again",
                    failure_cause(exc),
                )
            except Exception:  # a bug must not stop the deliveries either
                log.exception("reading the notification outbox failed; trying again")
            self._wake.wait(self.settings.poll_seconds)
            self._wake.clear()

    # ------------------------------------------------------------------ delivering

    def send_due(self) -> int:
        """Claim what there is room for and hand it to the delivery threads."""
        with self._lock:
            room = self.settings.workers * 2 - self._in_flight
        if room <= 0:
            return 0
        rows = self.store.outbox.claim(self.owner, self.settings.lease_seconds, limit=room)
        # One target hears of one run's events in the order they happened: a row joins
        # the queue of its (run, target) if one is being delivered (from this or an earlier
        # claim), so those go out one after another; other queues go out side by side.
        for row in rows:
            key = (row.run_id, json.dumps(row.target, sort_keys=True))
            with self._lock:
                self._in_flight += 1
                queue = self._queues.get(key)
                if queue is not None:
                    queue.append(row)
                    continue
                self._queues[key] = deque([row])
            self._pool.submit(self._drain, key)
        return len(rows)

    def _drain(self, key: tuple[str | None, str]) -> None:
        """Deliver the queue of ``key`` in order, until it is empty."""
        while True:
            with self._lock:
                queue = self._queues[key]
                if not queue:
                    del self._queues[key]
                    return
                row = queue.popleft()
            self._deliver(row)

    def _deliver(self, row: NotificationRecord) -> None:
        try:
            target = NotificationSpec(**row.target)
            event = Event(**row.payload)
            try:
                deliver(
                    target,
                    event,
                    timeout=self.settings.timeout_seconds,
                    source_root=row.source_root,
                )
            except Exception as exc:  # any target's failure: recorded, retried, never raised
                self._failed(row, f"{type(exc).__name__}: {exc}")
            else:
                self.store.outbox.delivered(row.id, self.owner)
        except DATABASE_FAILURES as exc:  # the lease runs out and the row is due again
            log.warning(
                "recording the delivery of notification %s failed: the database failed (%s)",
                row.id,
                failure_cause(exc),
            )
        except Exception:  # the store failed otherwise: the same, with the traceback
            log.exception("recording the delivery of notification %s failed", row.id)
        finally:
            with self._lock:
                self._in_flight -= 1
            self._wake.set()  # room for the next one

    def _failed(self, row: NotificationRecord, error: str) -> None:
        tried = row.attempts + 1
        target = f"{row.target.get('kind')} {row.target.get('target')}"
        if tried >= self.settings.attempts:
            log.warning(
                "notification to %s for %s of run %s failed (attempt %d of %d, giving up): %s",
                target,
                row.event,
                row.run_id,
                tried,
                self.settings.attempts,
                error,
            )
            self.store.outbox.give_up(row.id, self.owner, error)
            return
        delay = self.settings.delay(tried)
        log.warning(
            "notification to %s for %s of run %s failed (attempt %d of %d, next in %gs): %s",
            target,
            row.event,
            row.run_id,
            tried,
            self.settings.attempts,
            delay,
            error,
        )
        self.store.outbox.retry_later(row.id, self.owner, error, delay)

    def flush(self, run_id: str, timeout: float | None = None) -> list[NotificationRecord]:
        """Wait until each of ``run_id``'s notifications was tried at least once (or
        ``timeout`` passes); returns those still waiting to be delivered."""
        limit = timeout if timeout is not None else 2 * self.settings.timeout_seconds + 5
        deadline = time.monotonic() + limit
        self.wake()
        while True:
            unsent = self.store.outbox.unsent(run_id)
            if all(r.attempts > 0 for r in unsent) or time.monotonic() >= deadline:
                return unsent
            time.sleep(0.05)
