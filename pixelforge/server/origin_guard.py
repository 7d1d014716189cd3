"""Requests another web site makes a browser send: refused before any route sees them.

* **Hosts.** A page of a site whose name an attacker points at 127.0.0.1 (DNS rebinding) is
  same-origin with the server, so the browser lets it read every answer. Only configured names in
  the ``Host`` header are answered (400 otherwise); by default, when the server is bound to a
  loopback address, localhost names only.
* **Cross-site forms.** A plain HTML form (or a ``no-cors`` fetch) on any site can POST to the server
  without a CORS preflight, and in client-id mode such a request acts as the shared anonymous
  identity (``POST /sdapi/v1/interrupt`` stopped its task). A state-changing request whose ``Origin``
  is neither the server's own nor one of ``cors_origins``, with a content type a form can send (or
  none), is refused with 403. Clients other than browsers send no ``Origin`` and are not affected.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from pixelforge.config import Settings
from pixelforge.server.errors import error_response, is_native
from pixelforge.tasks.vocabulary import ErrorCode

LOCAL_HOSTS = ("localhost", "*.localhost", "127.0.0.1", "::1")
# What an HTML form or a no-cors fetch can send without a preflight (none: a fetch without a body).
FORM_CONTENT_TYPES = frozenset({"", "application/x-www-form-urlencoded", "multipart/form-data", "text/plain"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": "80", "https": "443"}


def allowed_hosts(settings: Settings) -> list[str]:
    if settings.allowed_hosts is not None:
        return settings.allowed_hosts
    return [*LOCAL_HOSTS, settings.host] if _is_loopback(settings.host) else ["*"]


def _is_loopback(address: str) -> bool:
    if address.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(host: str) -> str:
    """The name of a Host header without its port: ``[::1]:7860`` -> ``::1``."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].partition("]")[0]
    return host.rpartition(":")[0] if host.count(":") == 1 else host


def host_allowed(host: str, patterns: list[str]) -> bool:
    name = _host_name(host)
    for pattern in (p.lower().strip("[]") for p in patterns):
        if pattern == "*" or name == pattern or (pattern.startswith("*.") and name.endswith(pattern[1:])):
            return True
    return False


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    netloc = parts.netloc.lower()
    if parts.port is not None and str(parts.port) == DEFAULT_PORTS.get(parts.scheme):
        netloc = netloc.rpartition(":")[0]
    return bool(netloc) and netloc == host.strip().lower()


class OriginGuardMiddleware:
    def __init__(self, app: ASGIApp, hosts: list[str], trusted_origins: list[str]) -> None:
        self.app = app
        self.hosts = hosts
        # '*' in cors_origins lets any site read answers, not submit forms as the anonymous identity.
        self.trusted_origins = {origin.rstrip("/").lower() for origin in trusted_origins if origin != "*"}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        native = is_native(scope["path"])
        if not host_allowed(host, self.hosts):
            message = (f"this server does not answer to the host {host!r}; its operator can add the name to "
                       "PIXELFORGE_ALLOWED_HOSTS")
            code = ErrorCode.BAD_REQUEST if native else None
            await error_response(400, message, code=code)(scope, receive, send)
            return
        if self._cross_site_form(scope["method"], headers, host):
            message = ("a cross-site form may not change anything here; send JSON, or serve the page from an origin "
                       "listed in PIXELFORGE_CORS_ORIGINS")
            await error_response(403, message, code=ErrorCode.FORBIDDEN if native else None)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _cross_site_form(self, method: str, headers: Headers, host: str) -> bool:
        origin = headers.get("origin")
        if method in SAFE_METHODS or origin is None:
            return False
        content_type = headers.get("content-type", "").partition(";")[0].strip().lower()
        if content_type not in FORM_CONTENT_TYPES:
            return False  # a browser asks first (CORS preflight), and only listed origins are let through
        return not _same_origin(origin, host) and origin.rstrip("/").lower() not in self.trusted_origins

