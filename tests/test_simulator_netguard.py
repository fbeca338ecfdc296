"""The simulator is no relay: callbacks and keyframe fetches reach loopback only, unless allowed.

Refused targets get one fixed sentence and never a connection: ``socket.socket.connect`` is
watched (and anything but loopback refused before it leaves the host) and DNS is faked, so no
test here touches a real network. Also: the CLI refuses to listen beyond loopback without a
token.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from _simtools import CallbackRecorder, make_sim, png_bytes, submit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from luma_nb.simulator import Simulator, SimulatorServer
from luma_nb.simulator.__main__ import main
from luma_nb.simulator._netguard import refusal_message

FIELDS = ("callback_url", "start_image_url", "end_image_url")
# A fake DNS: no test here ever asks a real resolver.
DNS = {
    "localhost": ["127.0.0.1"],
    "loop.example": ["127.0.0.5"],
    "v6loop.example": ["::1"],
    "intranet.example": ["10.1.2.3"],
    "mixed.example": ["127.0.0.1", "10.0.0.7"],
    "metadata.example": ["169.254.169.254"],
    "public.example": ["93.184.216.34"],
}
REFUSED_HOSTS = [
    "10.0.0.1",
    "10.255.255.254",
    "192.168.1.20",
    "172.16.0.1",
    "169.254.169.254",
    "100.64.0.1",
    "8.8.8.8",
    "93.184.216.34",
    "0.0.0.0",
    "224.0.0.1",
    "255.255.255.255",
    "[fe80::1]",
    "[fc00::1]",
    "[::ffff:10.0.0.1]",
    "[2001:db8::1]",
    "[::]",
    "intranet.example",
    "mixed.example",
    "metadata.example",
    "public.example",
    "no-such-name.invalid",
]


class Network:
    """Records every socket connect; anything but loopback is refused before leaving the host."""

    def __init__(self) -> None:
        self.attempts: list[str] = []
        self.dns = dict(DNS)
        self.lock = threading.Lock()

    def outside(self) -> list[str]:
        with self.lock:
            return [a for a in self.attempts if not ipaddress.ip_address(a).is_loopback]


@pytest.fixture
def network(monkeypatch: pytest.MonkeyPatch) -> Network:
    net = Network()
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        host = address[0] if isinstance(address, tuple) else str(address)
        with net.lock:
            net.attempts.append(host.split("%")[0])
        if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
            raise ConnectionRefusedError(f"test network: no route to {host}")
        real_connect(self, address)

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name not in net.dns:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            out = []
            for address in net.dns[name]:
                family = socket.AF_INET6 if ":" in address else socket.AF_INET
                sockaddr = (address, port, 0, 0) if ":" in address else (address, port)
                out.append((family, socket.SOCK_STREAM, 6, "", sockaddr))
            return out
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return net


class _Images(BaseHTTPRequestHandler):
    """/img: a PNG; /to?u=URL: a redirect to URL; /junk: not an image; /loop: redirects forever."""

    image = png_bytes((30, 160, 90))

    def do_GET(self) -> None:
        self.server.seen.append((self.path, self.headers.get("host")))  # type: ignore[attr-defined]
        path, _, query = self.path.partition("?")
        if path == "/img":
            self._answer(200, self.image)
        elif path == "/junk":
            self._answer(200, b"<html>not an image</html>")
        elif path in ("/to", "/loop"):
            target = query[2:] if path == "/to" else "/loop"
            self._answer(302, b"", {"location": target})
        else:
            self._answer(404, b"missing")

    def _answer(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def images() -> Iterator[tuple[int, list[tuple[str, str]]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Images)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_address[1], server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def body_of(field: str, url: str) -> dict[str, Any]:
    return {"prompt": "x", "async": True, field: url}


# -- refusals, pinning, redirects, the flag --------------------------------------------------


@pytest.mark.parametrize("field", FIELDS)
def test_non_loopback_targets_are_refused_without_connecting(network: Network, field: str) -> None:
    recorder = CallbackRecorder()
    sim, _ = make_sim(callback_transport=recorder.transport())
    messages = set()
    try:
        for host in REFUSED_HOSTS:
            for scheme, port in (("http", ""), ("https", ":8443")):
                response = submit("sync", sim, **body_of(field, f"{scheme}://{host}{port}/a.png"))
                assert response.status_code == 400, (host, response.text)
                assert response.json()["error"]["code"] == "bad_request"
                messages.add(response.json()["error"]["message"])
        assert messages == {refusal_message(field)}  # one sentence, whatever the target
        assert network.attempts == []
        assert sim.stats.tasks_created == 0 and recorder.received == []
    finally:
        sim.close()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(address=st.ip_addresses(), field=st.sampled_from(FIELDS))
def test_any_address_outside_loopback_is_refused(
    network: Network, address: ipaddress.IPv4Address | ipaddress.IPv6Address, field: str
) -> None:
    host = f"[{address}]" if address.version == 6 else str(address)
    sim, _ = make_sim(
        image_fetcher=lambda url: png_bytes((1, 2, 3)),
        callback_transport=httpx.MockTransport(lambda r: httpx.Response(200)),
    )
    try:
        response = submit("sync", sim, **body_of(field, f"http://{host}/hook"))
        mapped = getattr(address, "ipv4_mapped", None)
        if address.is_loopback or (mapped is not None and mapped.is_loopback):
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 400
            assert response.json()["error"]["message"] == refusal_message(field)
        assert network.outside() == []
    finally:
        sim.close()


def test_loopback_targets_are_fetched_at_the_checked_address(
    network: Network, images: tuple[int, list[tuple[str, str]]]
) -> None:
    port, seen = images
    sim, _ = make_sim()
    network.dns["loop.example"] = ["127.0.0.1"]
    try:
        for host in ("127.0.0.1", "localhost", "loop.example"):
            ok = submit("sync", sim, **body_of("start_image_url", f"http://{host}:{port}/img"))
            assert ok.status_code == 200, ok.text
        # the name stays in the Host header; the connection went to the checked address
        assert [h for _, h in seen] == [
            f"{h}:{port}" for h in ("127.0.0.1", "localhost", "loop.example")
        ]
        assert set(network.attempts) == {"127.0.0.1"}
        assert all(t.start_image == _Images.image for t in sim.tasks.values())
    finally:
        sim.close()


def test_redirects_are_rechecked_hop_by_hop(
    network: Network, images: tuple[int, list[tuple[str, str]]]
) -> None:
    port, seen = images
    base = f"http://127.0.0.1:{port}"
    sim, _ = make_sim()
    try:
        inside = submit("sync", sim, **body_of("end_image_url", f"{base}/to?u={base}/to?u=/img"))
        assert inside.status_code == 200, inside.text  # a loopback chain is followed
        for target in (
            "http://10.0.0.1/x.png",
            "http://intranet.example/x.png",
            "http://[::ffff:a00:1]/",
        ):
            seen.clear()
            url = f"{base}/to?u={base}/to?u={target}"
            response = submit("sync", sim, **body_of("end_image_url", url))
            assert response.status_code == 400
            message = response.json()["error"]["message"]
            assert message == f"end_image_url could not be fetched as an image: {url}"
            assert [p for p, _ in seen] == [f"/to?u={base}/to?u={target}", f"/to?u={target}"]
        looping = submit("sync", sim, **body_of("end_image_url", f"{base}/loop"))
        assert looping.status_code == 400
        assert network.outside() == []
    finally:
        sim.close()


def test_callbacks_are_pinned_and_rechecked_at_delivery(network: Network) -> None:
    recorder = CallbackRecorder()
    sim, clock = make_sim(callback_transport=recorder.transport(), callback_retry_delays=())
    try:
        network.dns["hook.example"] = ["127.0.0.5"]
        network.dns["rebind.example"] = ["127.0.0.1"]
        for host in ("hook.example", "rebind.example"):
            ack = submit("sync", sim, prompt="x", callback_url=f"http://{host}:8000/cb")
            assert ack.status_code == 200, ack.text
        network.dns["rebind.example"] = ["10.9.9.9"]  # DNS rebinding after the submit check
        clock.advance(200)
        assert sim.flush_callbacks(5.0)
        ((url, _),) = recorder.received  # only the first one was sent, to the checked address
        assert url == "http://127.0.0.5:8000/cb"
        delivered, refused = sim.callbacks
        assert (delivered.status, refused.attempts) == ("delivered", 1)
        assert refused.status == "failed" and refused.error == refusal_message("callback_url")
        assert network.attempts == []
    finally:
        sim.close()


def test_allow_remote_fetch_lifts_the_restriction(network: Network) -> None:
    asked: list[str] = []
    recorder = CallbackRecorder()

    def fetch(url: str) -> bytes:
        asked.append(url)
        return png_bytes((1, 2, 3))

    sim, clock = make_sim(
        allow_remote_fetch=True, image_fetcher=fetch, callback_transport=recorder.transport()
    )
    try:
        ack = submit(
            "sync",
            sim,
            prompt="x",
            start_image_url="https://images.example.invalid/a.png",
            callback_url="https://hooks.example.invalid/cb",
        )
        assert ack.status_code == 200, ack.text
        clock.advance(200)
        assert sim.flush_callbacks(5.0)
        assert asked == ["https://images.example.invalid/a.png"]
        assert [u for u, _ in recorder.received] == ["https://hooks.example.invalid/cb"]
    finally:
        sim.close()


@pytest.mark.parametrize("allow_remote", [False, True])
def test_fetch_failures_all_read_alike(
    network: Network, images: tuple[int, list[tuple[str, str]]], allow_remote: bool
) -> None:
    port, _ = images
    base = f"http://127.0.0.1:{port}"
    sim, _ = make_sim(allow_remote_fetch=allow_remote)
    try:
        texts = set()
        for path in ("/missing", "/junk", "/loop", "/to?u=http://10.0.0.1/", ":1/closed"):
            url = f"{base}{path}" if not path.startswith(":") else f"http://127.0.0.1{path}"
            response = submit("sync", sim, **body_of("start_image_url", url))
            assert response.status_code == 400
            texts.add(response.json()["error"]["message"].replace(url, "<url>"))
        assert texts == {"start_image_url could not be fetched as an image: <url>"}
    finally:
        sim.close()


def test_cli_refuses_remote_listening_without_a_token(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--allow-remote", "--host", "0.0.0.0"], ["--allow-remote"], ["--token", " "]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
        assert "--token" in capsys.readouterr().err
    with pytest.raises(ValueError, match="accepted_tokens"):
        SimulatorServer(Simulator(), host="0.0.0.0", allow_remote=True)
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for flag in (
        "--allow-remote-fetch",
        "--variant",
        "error_success",
        "--token-error",
        "--video-size",
        "error=RATE:CODE",
    ):
        assert flag in out
