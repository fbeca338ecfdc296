"""The loopback face: a real HTTP/1.1 server (stdlib ``http.server``) over the engine.

The API answers at ``http://127.0.0.1:PORT`` and the media URLs it hands out use
``http://localhost:PORT``: the same server under another host name, on purpose, so a client that
sends its token only to the API host is exercised. A ``drop`` or ``refuse`` fault closes the
connection without an answer (a listening socket cannot refuse one connection, so over loopback
a refusal looks like a drop).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ._engine import MAX_BODY_BYTES, Simulator
from ._response import ERRORS, SimResponse, error_response

__all__ = ["SimulatorServer", "is_loopback", "serve"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names a loopback address (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # socketserver's default backlog of 5 overflows as soon as a client pool opens a few
    # dozen connections at once (httpx allows 100): the kernel then drops the handshakes
    # and those clients stall for a 1 s SYN retransmission.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], simulator: Simulator, log: bool) -> None:
        self.simulator = simulator
        self.log = log
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # a client that hung up (after a timeout, say) is not the server's error
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _HTTPServer6(_HTTPServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"
    # headers and body are separate writes: without TCP_NODELAY, Nagle's algorithm and the
    # peer's delayed ACK cost ~40 ms per keep-alive request
    disable_nagle_algorithm = True
    server_version = "luma-simulator/1"

    def version_string(self) -> str:
        return self.server_version

    def do_GET(self) -> None:
        self._handle()

    do_POST = do_HEAD = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_GET

    def _handle(self) -> None:
        body = self._read_body()
        if body is None:
            return
        host = self.headers.get("host") or "{}:{}".format(*self.server.server_address[:2])
        url = self.path if "://" in self.path else f"http://{host}{self.path}"
        try:
            answer = self.server.simulator.handle(self.command, url, self.headers.items(), body)
        except Exception as exc:  # a bug must not kill the connection thread silently
            self.log_error("engine error: %r", exc)
            answer = self._error(500, "api_error", "Internal server error.")
        if answer.outcome != "answer":
            self.close_connection = True
            return
        if answer.delay > 0:
            self.server.simulator.clock.wall_sleep(answer.delay)
        self._write(answer)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            if length > 0:
                self._write(self._error(413, "request_too_large", ERRORS["request_too_large"][1]))
            else:
                self._write(self._error(400, "bad_request", "Bad request body length."))
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                length = int(line.split(b";")[0].strip() or b"0", 16)
            except ValueError:
                self.close_connection = True
                return None
            if length == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            size += length
            if size > MAX_BODY_BYTES:
                self.close_connection = True
                self._write(self._error(413, "request_too_large", ERRORS["request_too_large"][1]))
                return None
            chunks.append(self.rfile.read(length))
            self.rfile.readline(1024)

    def _error(self, status: int, code: str, message: str) -> SimResponse:
        """An error envelope shaped like the engine's (no trace id: the engine never saw it)."""
        return error_response(status, code, message, "", variants=self.server.simulator.variants)

    def _write(self, answer: SimResponse) -> None:
        self.send_response(answer.status)
        names = set()
        for name, value in answer.headers:
            names.add(name)
            self.send_header(name, value)
        if "content-length" not in names:
            self.send_header("content-length", str(len(answer.body)))
        if self.close_connection:
            self.send_header("connection", "close")
        self.end_headers()
        if self.command != "HEAD" and answer.body:
            self.wfile.write(answer.body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log:
            sys.stderr.write(f"{self.address_string()} - {format % args}\n")


class SimulatorServer:
    """Serve a :class:`Simulator` over HTTP on loopback.

    Parameters
    ----------
    simulator : Simulator, optional
        The engine (default: a new ``Simulator()``, closed when the server stops).
    host : str
        Interface to bind; only loopback unless ``allow_remote``.
    port : int
        Port (0: any free port; read :attr:`port` after :meth:`start`).
    allow_remote : bool
        Allow binding a non-loopback address. The simulator must then accept only given tokens
        (``Simulator(accepted_tokens=...)``): an open simulator on the network would let anyone
        use it.
    media_host : str, optional
        Host name put in media URLs (default: ``localhost`` for an IPv4 loopback address,
        ``127.0.0.1`` for ``localhost``, else ``host``): another name for the same server.
    log : bool
        Write an access log to stderr.

    Raises
    ------
    ValueError
        If ``host`` is not loopback and ``allow_remote`` is false, or the simulator behind a
        non-loopback address accepts any token.

    Notes
    -----
    :meth:`start` points the simulator's ``base_url`` and ``media_base_url`` at this server.
    """

    def __init__(
        self,
        simulator: Simulator | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_remote: bool = False,
        media_host: str | None = None,
        log: bool = False,
    ) -> None:
        if not allow_remote and not is_loopback(host):
            raise ValueError(
                f"refusing to bind {host!r}: not a loopback address (pass allow_remote=True)"
            )
        self._owns_simulator = simulator is None
        self.simulator = simulator if simulator is not None else Simulator()
        if not is_loopback(host) and not self.simulator.accepted_tokens:
            if self._owns_simulator:
                self.simulator.close()
            raise ValueError(
                f"refusing to bind {host!r} with no accepted_tokens: anyone who can reach it "
                "could use the simulator (give Simulator(accepted_tokens=[...]))"
            )
        self.host = host.strip("[]")
        self._requested_port = port
        self._media_host = media_host
        self._log = log
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port.

        Raises
        ------
        RuntimeError
            If the server is not started.
        """
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The API base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self._netloc(self.host)}:{self.port}"

    @property
    def media_url(self) -> str:
        """The base of the media URLs, e.g. ``http://localhost:8123``."""
        media = self._media_host
        if media is None:
            if self.host == "localhost":
                media = "127.0.0.1"
            elif is_loopback(self.host) and ":" not in self.host:
                media = "localhost"
            else:
                media = self.host
        return f"http://{self._netloc(media)}:{self.port}"

    @staticmethod
    def _netloc(host: str) -> str:
        return f"[{host}]" if ":" in host else host

    def start(self) -> SimulatorServer:
        """Bind and serve from a daemon thread; return ``self``."""
        if self._httpd is not None:
            return self
        cls = _HTTPServer6 if ":" in self.host else _HTTPServer
        self._httpd = cls((self.host, self._requested_port), self.simulator, self._log)
        self.simulator.base_url = self.url
        self.simulator.media_base_url = self.media_url
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"luma-simulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (and the simulator, if this server made it)."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._owns_simulator:
            self.simulator.close()

    def __enter__(self) -> SimulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "stopped"
        return f"SimulatorServer({where})"


def serve(
    simulator: Simulator | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    allow_remote: bool = False,
) -> SimulatorServer:
    """Start a :class:`SimulatorServer` and return it (stop it with ``stop()`` or ``with``).

    Parameters
    ----------
    simulator : Simulator, optional
        The engine (default: a new one, closed with the server).
    host, port, allow_remote
        As for :class:`SimulatorServer`.
    """
    return SimulatorServer(simulator, host=host, port=port, allow_remote=allow_remote).start()
