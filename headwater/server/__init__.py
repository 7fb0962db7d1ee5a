"""The HTTP API (FastAPI): thin routers over the engine, scheduler and store, with
bearer-token auth. :func:`serve` runs it with uvicorn, alone or with a scheduler."""

from headwater.errors import ApiError
from headwater.server._app import create_app
from headwater.server._deps import ServerState
from headwater.server._serve import first_admin_token, serve

__all__ = ["ApiError", "ServerState", "create_app", "first_admin_token", "serve"]
