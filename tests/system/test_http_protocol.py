"""Raw UTF-8 in the request target (as curl sends `?q=采砂`) is accepted by the real server;
what the HTTP parser still refuses is answered in the API's JSON error shape."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from api.http.app import create_app
from api.http.protocol import Utf8H11Protocol, percent_encode_non_ascii, protocol_class
from api.http.worker import adopt
from api.settings import Settings
from tests.conftest import SEED_POLICY
from tests.support.live import serve


@pytest.fixture(scope="module")
def address() -> Iterator[tuple[str, int]]:
    with serve(create_app(Settings(SEED_POLICY, "sqlite://"))) as url:
        parts = urlsplit(url)
        yield parts.hostname or "127.0.0.1", parts.port or 80


def exchange(address: tuple[str, int], request: bytes, pieces: int = 1) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes (in `pieces` writes, as a slow client would) and read one response."""
    with socket.create_connection(address, timeout=10) as conn:
        step = max(1, len(request) // pieces)
        for start in range(0, len(request), step):
            conn.sendall(request[start : start + step])
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        while len(body) < int(headers.get("content-length", "0")):
            body += conn.recv(65536)
        return int(lines[0].split()[1]), headers, body


def test_percent_encoding_touches_only_non_ascii_bytes() -> None:
    assert percent_encode_non_ascii("GET /v1/matters?q=采砂 HTTP/1.1".encode()) == b"GET /v1/matters?q=%E9%87%87%E7%A0%82 HTTP/1.1"
    assert percent_encode_non_ascii(b"GET /a%20b?x=1 HTTP/1.1") == b"GET /a%20b?x=1 HTTP/1.1"


@pytest.mark.parametrize("pieces", [1, 7])
def test_raw_utf8_in_the_query_is_the_same_search_as_percent_encoded(address: tuple[str, int], pieces: int) -> None:
    raw = exchange(address, "GET /v1/matters?q=采砂 HTTP/1.1\r\nHost: t\r\n\r\n".encode(), pieces)
    encoded = exchange(address, b"GET /v1/matters?q=%E9%87%87%E7%A0%82 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert raw[0] == 200 and raw[2] == encoded[2]
    assert [m["id"] for m in json.loads(raw[2])["items"]] == ["WAT-01"]


def test_raw_utf8_in_the_path_and_keep_alive(address: tuple[str, int]) -> None:
    with socket.create_connection(address, timeout=10) as conn:
        for _ in range(2):  # the second request on the same connection is encoded too
            conn.sendall("GET /v1/matters/采砂 HTTP/1.1\r\nHost: t\r\n\r\n".encode())
            data = b""
            while not data.endswith(b"}}"):
                data += conn.recv(65536)
            body = json.loads(data.partition(b"\r\n\r\n")[2])
            assert body["error"]["code"] == "unknown_matter" and body["error"]["message"] == "unknown matter `采砂`"


def test_what_the_parser_refuses_is_answered_in_the_error_shape(address: tuple[str, int]) -> None:
    status, headers, body = exchange(address, b"GET /v1/matters?q=\x01 HTTP/1.1\r\nHost: t\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["code"] == "bad_http_request" and "percent-encode" in error["hint"]


def test_the_server_uses_the_tolerant_protocol() -> None:
    assert issubclass(protocol_class(), Utf8H11Protocol) or protocol_class().__name__ == "Utf8HttpToolsProtocol"


@pytest.mark.parametrize(("family", "host"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_the_worker_adopts_the_inherited_socket_as_tcp(family: socket.AddressFamily, host: str) -> None:
    """asyncio sets TCP_NODELAY only on AF_INET/AF_INET6 TCP sockets: uvicorn's `--fd`
    (AF_UNIX, protocol 0) left keep-alive responses waiting ~40 ms for a delayed ACK."""
    if family == socket.AF_INET6 and not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with socket.socket(family, socket.SOCK_STREAM) as listener:
        try:
            listener.bind((host, 0))
        except OSError:
            pytest.skip(f"cannot bind {host}")
        listener.listen()
        adopted = adopt(socket.dup(listener.fileno()))
        with adopted:
            assert (adopted.family, adopted.type, adopted.proto) == (family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
