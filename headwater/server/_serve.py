"""Running the API with uvicorn, alone (``headwater server``) or with a scheduler in the
same process (``headwater standalone``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from headwater.engine import Workspace

log = logging.getLogger("headwater.server")


def first_admin_token(ws: Workspace) -> str | None:
    """On a store with no users: an ``admin`` user, owner of the server, and a token for
    it (the secret, to be shown once). None when users exist already."""
    if ws.store.auth.has_users():
        return None
    from headwater.errors import Conflict

    try:
        ws.store.auth.create_user("admin", "owner")
    except Conflict:  # another process created it at the same moment
        return None
    _, secret = ws.store.auth.create_token("admin", "standalone")
    return secret


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8080,
    scheduler: bool = False,
    ui_dir: str | None = None,
    ws: Workspace | None = None,
    on_ready: Callable[[Any], None] | None = None,
    scheduler_options: dict[str, Any] | None = None,
) -> None:
    """Serve the API (and drive runs, with ``scheduler``) until interrupted."""
    import uvicorn

    from headwater._limits import limits
    from headwater.engine import warm_renderer
    from headwater.server._app import create_app

    ws = ws or Workspace.open()
    warm_renderer(limits().max_render_memory_bytes)  # the first template renders at once
    service = None
    thread = None
    state_args: dict[str, Any] = {}
    if scheduler:
        from headwater.scheduler import SchedulerService

        service = SchedulerService(ws, **(scheduler_options or {}))
        state_args = {"wake_scheduler": service.wake, "cancel_local": service.runner.cancel}
        thread = threading.Thread(target=service.serve, name="scheduler", daemon=True)
    app = create_app(ws, ui_dir=ui_dir, **state_args)
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    if thread is not None:
        thread.start()
    if on_ready is not None:
        on_ready(server)
    try:
        server.run()
    finally:
        if service is not None:
            service.stop()
            if thread is not None:
                thread.join(5)
            service.runner.wait(10)
            service.close()
