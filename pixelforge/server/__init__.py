"""The HTTP server (FastAPI). No torch: it reaches the engine only through the task store and bus."""

from pixelforge.server.app import create_app, serve
from pixelforge.server.deps import ServerRuntime

__all__ = ["ServerRuntime", "create_app", "serve"]
