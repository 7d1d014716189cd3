"""A deadline for a request's headers, which uvicorn has not: it closes a kept-alive connection that
sends nothing, but one that opens and never finishes its headers is held forever (300 such
connections were all still open after 70 s). The body has its own deadline (BodyLimitsMiddleware)."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pixelforge.server.errors import error_body


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing with 408 a connection whose request headers are not complete
    ``header_timeout_s`` after it opened (or after its next request began)."""

    def __init__(self, *args: Any, header_timeout_s: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self._header_deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_deadline is None:  # a later request on a kept-alive connection
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if self.transport.is_closing():
            return
        body = error_body(f"request headers not received within {self.header_timeout_s:g} s")
        self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
        self.transport.close()


def header_timeout_protocol(header_timeout_s: float) -> Any:
    """What uvicorn's ``Config(http=...)`` takes: it calls it for every connection, as it calls a class."""
    return partial(HeaderTimeoutProtocol, header_timeout_s=header_timeout_s)
