"""uvicorn's HTTP protocols, made to accept raw UTF-8 in the request target.

Browsers percent-encode a URL's non-ASCII characters; curl and many HTTP clients send
them as raw UTF-8 (`curl 'localhost:8000/v1/matters?q=采砂'`). h11 and httptools both
reject such a request line (RFC 9112 allows only visible ASCII there), and uvicorn then
answers a text/plain 400. These protocols percent-encode the bytes >= 0x80 of the request
line before the parser sees it — exactly what a browser would have sent — and answer any
request the parser still refuses in the API's JSON error shape.

Only the request line is touched: from the start of a request to its first newline.
A request pipelined behind another in the same read keeps the parser's own check.
"""

from __future__ import annotations

import json
from importlib.util import find_spec

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from engine import ErrorCode

ERROR_CODE = ErrorCode.BAD_HTTP_REQUEST
HINT = "percent-encode the URL (curl: --data-urlencode with -G), and send HTTP/1.1 with ASCII header names"


def percent_encode_non_ascii(line: bytes) -> bytes:
    """`GET /v1/matters?q=采砂` → `GET /v1/matters?q=%E9%87%87%E7%A0%82` (ASCII bytes unchanged)."""
    if line.isascii():
        return line
    return b"".join(b"%%%02X" % byte if byte >= 0x80 else bytes((byte,)) for byte in line)


def _encode_request_line(data: bytes) -> tuple[bytes, bool]:
    """`data` with its first line percent-encoded; True when the line ended in `data`."""
    line, newline, rest = data.partition(b"\n")
    return percent_encode_non_ascii(line) + newline + rest, bool(newline)


def error_body(msg: str) -> bytes:
    error = {"code": ERROR_CODE, "message": f"the HTTP request could not be parsed: {msg}", "hint": HINT}
    return json.dumps({"error": error}).encode()


class Utf8H11Protocol(H11Protocol):
    """uvicorn's h11 protocol, accepting raw UTF-8 in the request target."""

    def data_received(self, data: bytes) -> None:
        # h11 waits for a request and holds no complete line: `data` starts with (the rest of) one.
        if self.conn.their_state is h11.IDLE and b"\n" not in self.conn.trailing_data[0]:
            data, _ = _encode_request_line(data)
        super().data_received(data)

    def send_400_response(self, msg: str) -> None:
        body = error_body(msg)
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body)), (b"connection", b"close")]
        self.transport.write(self.conn.send(h11.Response(status_code=400, headers=headers, reason=b"Bad Request")))
        self.transport.write(self.conn.send(h11.Data(data=body)))
        self.transport.write(self.conn.send(h11.EndOfMessage()))
        self.transport.close()


def protocol_class() -> type:
    """The protocol uvicorn's `http="auto"` would pick (httptools when installed), made UTF-8 tolerant."""
    if find_spec("httptools") is None:
        return Utf8H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class Utf8HttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, accepting raw UTF-8 in the request target."""

        _at_request_line = True

        def data_received(self, data: bytes) -> None:
            if self._at_request_line:
                data, ended = _encode_request_line(data)
                self._at_request_line = not ended
            super().data_received(data)

        def on_message_complete(self) -> None:
            self._at_request_line = True
            super().on_message_complete()

        def send_400_response(self, msg: str) -> None:
            body = error_body(msg)
            head = [b"HTTP/1.1 400 Bad Request\r\n"]
            head += [name + b": " + value + b"\r\n" for name, value in self.server_state.default_headers]
            head += [b"content-type: application/json\r\n", b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n"]
            self.transport.write(b"".join(head) + body)
            self.transport.close()

    return Utf8HttpToolsProtocol
