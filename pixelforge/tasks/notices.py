"""A task's end notice (``callback_url``): which addresses it may go to, and how its body is signed.

Only hosts the operator lists (``callback_hosts``, none by default) are ever sent to: a URL naming any other is
refused at submission, so a client cannot make the server reach into its own network. The body is signed with
HMAC-SHA256 under the server's ``callback_secret``, so the receiver knows the server sent it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import urlsplit

from pixelforge.tasks.model import Problem

SIGNATURE_HEADER = "X-Pixelforge-Signature"
MAX_URL_CHARS = 2000


@dataclass(frozen=True)
class CallbackPolicy:
    """Where end notices may go (exact host names or addresses) and the key that signs them."""

    hosts: frozenset[str] = frozenset()
    secret: str = ""

    def problems(self, url: str) -> list[Problem]:
        """Why ``url`` cannot be a task's callback here (empty when it can)."""

        def refused(message: str) -> list[Problem]:
            return [Problem(field="callback_url", message=message)]

        if len(url) > MAX_URL_CHARS:
            return refused(f"at most {MAX_URL_CHARS} characters, got {len(url)}")
        try:
            parts = urlsplit(url)
            host = parts.hostname
            parts.port  # noqa: B018 (a bad port raises here)
        except ValueError as exc:
            return refused(f"not a URL: {exc}")
        if parts.scheme not in ("http", "https") or not host:
            return refused("must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            return refused("must not carry a user name or password")
        if host.lower() not in {h.lower() for h in self.hosts}:
            allowed = ", ".join(sorted(self.hosts)) or "none"
            return refused(f"host {host!r} is not in the server's callback_hosts setting (allowed: {allowed})")
        if not self.secret:
            return refused("the server has no callback_secret setting to sign notices with")
        return []

    def sign(self, body: bytes) -> str:
        """The signature header's value: ``sha256=<hex HMAC-SHA256 of the body>``."""
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
