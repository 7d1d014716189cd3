"""Text fields of a multipart form must be UTF-8: Starlette decodes a field that is not as Latin-1
without a word, so a client's mis-encoded ``params`` of ``POST /api/v1/tasks/upload`` became a
stored prompt of mojibake. The raw bytes are only visible before Starlette parses the form, so the
fields are checked here, on the body BodyLimitsMiddleware has already read (and bounded)."""

from __future__ import annotations

from python_multipart.multipart import MultipartParser, parse_options_header


def is_multipart(content_type: bytes | None) -> bool:
    return content_type is not None and content_type.split(b";", 1)[0].strip().lower() == b"multipart/form-data"


class _Part:
    def __init__(self) -> None:
        self.headers: dict[bytes, bytes] = {}
        self.data = bytearray()
        self.field = b""
        self.is_file = False


def non_utf8_fields(body: bytes, content_type: bytes) -> list[str]:
    """Names of the form's text fields (parts without a file name) whose bytes are not UTF-8. A malformed
    form gives none: Starlette's own parser reports it."""
    _, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if not boundary:
        return []
    found: list[str] = []
    part = _Part()
    header = [b"", b""]  # the name and value of the header being read

    def on_part_begin() -> None:
        nonlocal part
        part = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header[0] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header[1] += data[start:end]

    def on_header_end() -> None:
        part.headers[header[0].lower()] = header[1]
        header[0] = header[1] = b""

    def on_headers_finished() -> None:
        _, disposition = parse_options_header(part.headers.get(b"content-disposition", b""))
        part.field, part.is_file = disposition.get(b"name", b""), b"filename" in disposition

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if not part.is_file:
            part.data += data[start:end]

    def on_part_end() -> None:
        if part.is_file:
            return
        try:
            part.data.decode("utf-8")
        except UnicodeDecodeError:
            found.append(part.field.decode("latin-1"))

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })
    try:
        parser.write(body)
    except Exception:  # python-multipart's errors for a malformed form; Starlette answers those
        return []
    return found
