"""Running uvicorn: one configuration for `tiaokuai serve --no-supervise` and the supervised worker.

The supervised worker is `python -m api.http.worker --fd N`: it serves on the listening
socket the supervisor passes down. uvicorn's own `--fd` wraps that descriptor as an
AF_UNIX socket (`socket.fromfd(fd, AF_UNIX, SOCK_STREAM)`, protocol 0), so asyncio never
sets TCP_NODELAY on the connections it accepts, and each response on a kept-alive
connection waits for the client's delayed ACK (Nagle): about 40 ms per request.
`socket.socket(fileno=fd)` reads family, type and protocol from the descriptor itself, so
accepted TCP connections get TCP_NODELAY as they do without the supervisor.
"""

from __future__ import annotations

import argparse
import socket
import sys
from typing import Any

import uvicorn

from api.http.protocol import protocol_class

APP = "api.http.main:app"


def config(log_level: str = "info", access_log: bool = True, **kwargs: Any) -> uvicorn.Config:
    """uvicorn's configuration for the API: our app, over the UTF-8 tolerant HTTP protocol."""
    return uvicorn.Config(APP, http=protocol_class(), log_level=log_level, access_log=access_log, **kwargs)


def adopt(fd: int) -> socket.socket:
    """The inherited listening socket, with its real family (AF_INET/AF_INET6) and protocol."""
    return socket.socket(fileno=fd)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.http.worker", description="the supervised HTTP worker")
    parser.add_argument("--fd", type=int, required=True, help="the listening socket passed by the supervisor")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", action="store_true")
    args = parser.parse_args(argv)
    uvicorn.Server(config(args.log_level, not args.no_access_log)).run(sockets=[adopt(args.fd)])
    return 0


if __name__ == "__main__":
    sys.exit(main())
