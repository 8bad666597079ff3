"""Crash containment for `tiaokuai serve`: a small parent process that owns the listening
socket and runs the HTTP worker (uvicorn + the engine) as a child, restarting it when it dies.

Why: durable_rules runs in the worker's process (a child-process engine would add a pipe
round trip, ~100 µs, to every decision: docs/durable_rules.md §7) and its C core can
segfault or abort. The supervisor never imports the engine, so such a crash costs the
requests in flight, not the service: it is logged at ERROR with the signal, the worker is
started again (backoff 0.5 s doubling to 10 s, reset after a minute of uptime), and the
new worker reports the restart count and last exit in GET /healthz. Because the parent
keeps the socket open, connections made during the restart wait in the backlog instead of
being refused. SIGHUP is forwarded to the worker (policy reload); SIGTERM/SIGINT stop both.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from types import FrameType

from api.settings import STARTUP_REFUSED

log = logging.getLogger("tiaokuai.supervise")

MIN_BACKOFF, MAX_BACKOFF, STABLE_AFTER = 0.5, 10.0, 60.0


def _die_with_parent() -> None:
    """In the worker, before exec: if the supervisor dies (even by SIGKILL), the kernel sends
    the worker SIGTERM, so no orphan keeps serving on the socket unsupervised (Linux)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Linux copies TCP_NODELAY from the listening socket to each accepted connection; the
    # worker also adopts the socket as TCP (api/http/worker.py), so its event loop sets it too.
    # Without either, Nagle held back every keep-alive answer until the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def supervise(host: str, port: int, log_level: str = "info", access_log: bool = True) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code for the CLI."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    sock = bind(host, port)
    bound = sock.getsockname()[1]
    log.info("supervisor pid %d listening on http://%s:%d", os.getpid(), host, bound)
    stopping = False
    child: subprocess.Popen[bytes] | None = None

    def forward(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if signum in (signal.SIGTERM, signal.SIGINT):
            stopping = True
        if child is not None and child.poll() is None:
            child.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)

    restarts, backoff, last_exit = 0, MIN_BACKOFF, ""
    while not stopping:
        env = dict(os.environ, TIAOKUAI_WORKER_RESTARTS=str(restarts), TIAOKUAI_WORKER_LAST_EXIT=last_exit)
        argv = [sys.executable, "-m", "api.http.worker", "--fd", str(sock.fileno()), "--log-level", log_level]
        if not access_log:
            argv.append("--no-access-log")
        started = time.monotonic()
        child = subprocess.Popen(argv, env=env, pass_fds=(sock.fileno(),), preexec_fn=_die_with_parent)  # noqa: PLW1509
        log.info("worker pid %d started (restarts so far: %d)", child.pid, restarts)
        code = child.wait()
        if stopping:
            break
        if code == STARTUP_REFUSED:
            log.error("worker pid %d refused to start (configuration or policy, see above); not restarting", child.pid)
            sock.close()
            return STARTUP_REFUSED
        last_exit = describe_exit(code)
        restarts += 1
        if time.monotonic() - started > STABLE_AFTER:
            backoff = MIN_BACKOFF
        log.error("worker pid %d %s; restarting in %.1fs (restart %d)", child.pid, last_exit, backoff, restarts)
        time.sleep(backoff)
        backoff = min(backoff * 2, MAX_BACKOFF)
    if child is not None and child.poll() is None:
        child.wait()
    sock.close()
    log.info("supervisor stopped")
    return 0
