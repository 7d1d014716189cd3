"""The web UI's protocol.js is generated from the Python enums: the committed file must be what the generator
writes now, or the browser would follow states, events or error codes the server no longer has."""

from __future__ import annotations

from pixelforge.server.protocol_js import PROTOCOL_JS, render
from pixelforge.tasks.vocabulary import ErrorCode, EventType


def test_the_committed_protocol_js_is_what_the_generator_writes() -> None:
    assert PROTOCOL_JS.read_text(encoding="utf-8") == render(), (
        "pixelforge/web/js/protocol.js is stale: run `python -m pixelforge.server.protocol_js` and commit it")


def test_protocol_js_names_every_event_type_and_error_code() -> None:
    text = render()
    assert all(f'"{event.value}"' in text for event in EventType)
    assert all(f'{code.name}: "{code.value}"' in text for code in ErrorCode)
