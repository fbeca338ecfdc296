"""Image hosts for the keyframe preflight tests: real HTTP servers on loopback.

A loopback server is exactly what the preflight refuses, so tests mark it public with
``KeyframePreflight(allow_hosts={"127.0.0.1"})`` (see :func:`policy`) and reach it under
public-looking names through an injected resolver (:func:`public_names`).
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from luma_nb._preflight import KeyframePreflight


def image_bytes(fmt: str, size: tuple[int, int] = (1280, 720), exif_orientation: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    image = Image.new("RGB", size, (180, 60, 30))
    options: dict[str, Any] = {}
    if exif_orientation:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        options["exif"] = exif.tobytes()
    if fmt == "WEBP_LOSSLESS":
        image.save(buffer, format="WEBP", lossless=True)
    else:
        image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


PNG = image_bytes("PNG")
JPEG = image_bytes("JPEG")
GIF = image_bytes("GIF")


# ----------------------------------------------------------------------------- image hosts


@dataclass
class Route:
    status: int = 200
    body: bytes = PNG
    content_type: str | None = "image/png"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # before the answer
    trickle: float = 0.0  # between body chunks of 1 KB
    length: bool = True  # send Content-Length


class ImageHost:
    """An HTTP server on loopback that answers from ``routes`` and records every request."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.seen: list[tuple[str, dict[str, str]]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                host.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                route = host.routes.get(self.path, Route(404, b"not found", "text/plain"))
                time.sleep(route.delay)
                self.send_response(route.status)
                if route.content_type is not None:
                    self.send_header("content-type", route.content_type)
                for name, value in route.headers.items():
                    self.send_header(name, value)
                if route.length:
                    self.send_header("content-length", str(len(route.body)))
                else:
                    self.send_header("connection", "close")
                self.end_headers()
                try:
                    for start in range(0, len(route.body), 1024):
                        self.wfile.write(route.body[start : start + 1024])
                        if route.trickle:
                            self.wfile.flush()
                            time.sleep(route.trickle)
                except OSError:
                    pass  # the client stopped reading (a cap, a deadline)
                if not route.length:
                    self.close_connection = True

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def serve(self, path: str, **route: Any) -> str:
        self.routes[path] = Route(**route)
        return self.url(path)

    def paths(self) -> list[str]:
        return [path for path, _ in self.seen]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def public_names(*names: str) -> Callable[[str, int], list[str]]:
    """A resolver that puts ``names`` on loopback (and refuses any other name)."""

    def resolve(name: str, port: int) -> list[str]:
        if name in names:
            return ["127.0.0.1"]
        raise OSError(f"no such host {name}")

    return resolve


#: The policy of most tests: loopback stands in for a public host; short limits.
def policy(**changes: Any) -> KeyframePreflight:
    options: dict[str, Any] = {
        "allow_hosts": {"127.0.0.1"},
        "resolver": public_names("img.test", "cdn.test"),
        "timeout": 3.0,
    }
    options.update(changes)
    return KeyframePreflight(**options)
