"""Who is asking: every request resolves to one Identity, the owner of the tasks it creates.

With API keys configured, a request must carry one (``Authorization: Bearer KEY``, or HTTP Basic
with the key's name as user and the key as password, as A1111's ``--api-auth`` does). Without
keys, the identity is a client id: the ``X-Client-Id`` header, else the ``pf_client`` cookie that
``ClientIdMiddleware`` sets when a browser loads the web UI, else — a script that sends neither — the
one anonymous local identity that every such request shares. That is what makes A1111's usual script
pattern work on a personal machine (one thread blocks in txt2img while another polls progress and
interrupts, all without cookies); keys keep every caller apart.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie

from fastapi import HTTPException, Request, status
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pixelforge.config import Settings

CLIENT_COOKIE = "pf_client"
CLIENT_HEADER = "X-Client-Id"
CLIENT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{8,128}$")
# A year: the cookie is the only thing that ties a browser to its own tasks in client-id mode.
COOKIE_MAX_AGE_S = 365 * 24 * 3600
MINTED_KEY = "pixelforge_minted_client_id"
ANONYMOUS = "client:local"
# Routes of the APIs: a cookie minted there would give a cookie-keeping script a second identity after
# its first request, so only the web UI's pages mint one.
API_PREFIXES = ("/api/", "/sdapi/", "/internal/", "/v1/", "/mcp")


@dataclass(frozen=True)
class Identity:
    owner: str
    """The owner string stored on tasks: ``key:<name>`` or ``client:<id>``."""
    admin: bool = False

    def can_access(self, owner: str) -> bool:
        return self.admin or owner == self.owner


@dataclass(frozen=True)
class KeyRing:
    """The configured keys, looked up in constant time per key so timing reveals nothing."""

    users: dict[str, str]
    admins: dict[str, str]

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyRing:
        return cls(users=dict(settings.api_keys), admins=dict(settings.admin_keys))

    @property
    def enabled(self) -> bool:
        return bool(self.users or self.admins)

    def by_key(self, key: str) -> Identity | None:
        found: Identity | None = None
        for admin, ring in ((True, self.admins), (False, self.users)):
            for name, expected in ring.items():
                if secrets.compare_digest(key.encode(), expected.encode()) and found is None:
                    found = Identity(owner=f"key:{name}", admin=admin)
        return found

    def by_name_and_key(self, name: str, key: str) -> Identity | None:
        identity = self.by_key(key)
        return identity if identity is not None and identity.owner == f"key:{name}" else None


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=message, headers={"WWW-Authenticate": 'Basic realm="pixelforge"'}
    )


def _from_authorization(header: str, keys: KeyRing) -> Identity:
    scheme, _, credentials = header.partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        identity = keys.by_key(credentials)
    elif scheme.lower() == "basic":
        try:
            name, sep, key = base64.b64decode(credentials, validate=True).decode().partition(":")
        except ValueError:  # not base64 (binascii.Error), not UTF-8, or not ASCII to begin with
            raise _unauthorized("malformed HTTP Basic credentials") from None
        identity = keys.by_name_and_key(name, key) if sep else None
    else:
        raise _unauthorized(f"unsupported authorization scheme {scheme!r}; use Bearer or Basic")
    if identity is None:
        raise _unauthorized("incorrect API key")
    return identity


def resolve_identity(request: Request, keys: KeyRing) -> Identity:
    header = request.headers.get("authorization")
    if keys.enabled:
        if not header:
            raise _unauthorized("an API key is required (Authorization: Bearer KEY, or HTTP Basic NAME:KEY)")
        return _from_authorization(header, keys)
    client_id = request.headers.get(CLIENT_HEADER)
    if client_id is not None:
        if not CLIENT_ID_PATTERN.match(client_id):
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST, detail=f"{CLIENT_HEADER} must be 8-128 characters of A-Z a-z 0-9 _ -"
            )
        return Identity(owner=f"client:{client_id}")
    cookie = request.cookies.get(CLIENT_COOKIE)
    if cookie and CLIENT_ID_PATTERN.match(cookie):
        return Identity(owner=f"client:{cookie}")
    minted = request.scope.get("state", {}).get(MINTED_KEY)
    return Identity(owner=f"client:{minted}" if minted else ANONYMOUS)


def _needs_client_id(scope: Scope) -> bool:
    if str(scope.get("path", "")).startswith(API_PREFIXES):
        return False
    headers = Headers(scope=scope)
    if CLIENT_HEADER.lower() in headers:
        return False
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except CookieError:
        return True
    morsel = cookie.get(CLIENT_COOKIE)
    return morsel is None or not CLIENT_ID_PATTERN.match(morsel.value)


class ClientIdMiddleware:
    """Client-id mode: give a browser its id when it first loads a page of the web UI."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _needs_client_id(scope):
            await self.app(scope, receive, send)
            return
        minted = secrets.token_urlsafe(18)
        scope.setdefault("state", {})[MINTED_KEY] = minted
        cookie = f"{CLIENT_COOKIE}={minted}; Path=/; Max-Age={COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_with_cookie)
