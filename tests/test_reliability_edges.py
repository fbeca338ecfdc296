"""The client core at its edges: a hostile server, bad settings, cancellation, every httpx error.

Each class of attack is swept, not sampled once:
- an answer that echoes the token anywhere (keys, codes, trace ids, nested unknown keys) —
  property-based — must leave no trace of it in results, errors, reprs or the session log;
- tracebacks rendered with local variables (``capture_locals``, IPython's verbose mode) of
  every error the client raises must not print the token;
- a server that trickles its answer must not hold a wait past ``max_wait`` (plus the
  documented grace), sync or async; an endless download stops at the cap and caches nothing;
  an oversized API answer is not read past the cap;
- every exception httpx can raise becomes a typed luma_nb error, from every operation;
- an error code in a non-5xx envelope: only a definite refusal is proof that nothing was
  billed; every server-side failure code is an unknown outcome, whatever the status;
- a cancelled async submit that may have been sent surfaces as an unknown outcome;
- plain-http base URLs off this machine are refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import luma_nb
from luma_nb import errors
from luma_nb._flow_base import DEADLINE_GRACE
from luma_nb.config import MAX_ANSWER_BYTES
from luma_nb.errors import (
    ConfigError,
    LumaError,
    SubmitOutcomeUnknownError,
    UnexpectedResponseError,
    ValidationError,
    WaitTimeoutError,
)

TOKEN = "sk-EDGE-SECRET-77"
API = "https://api.acedata.cloud"
RECORD_OK = {
    "id": "t-1",
    "response": {
        "success": True,
        "task_id": "t-1",
        "video_id": "v-1",
        "state": "completed",
        "video_url": "https://cdn.example.com/t-1.mp4",
        "prompt": "a cat",
    },
}


def _client(handler: Callable[[httpx.Request], httpx.Response], tmp_path: Path, **kw: Any) -> Any:
    clock = _Clock()
    kw.setdefault("sleep", clock.sleep)
    kw.setdefault("clock", clock)
    kw.setdefault("max_retries", 1)
    return luma_nb.Client(
        TOKEN, transport=httpx.MockTransport(handler), cache_dir=tmp_path / "cache", **kw
    )


class _Clock:
    """Virtual time: only sleeping moves it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    async def async_sleep(self, seconds: float) -> None:
        self.now += seconds


def _no_token(where: str, text: str) -> None:
    assert TOKEN not in text, f"the token leaked into {where}"


# --------------------------------------------------------------------------- echoed secrets

_json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.just(TOKEN), st.text(max_size=6)
)
_echo = st.recursive(
    _json_leaf,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.one_of(st.text(max_size=4), st.just(TOKEN)), inner, max_size=3),
    ),
    max_leaves=8,
)


def _everything(task: luma_nb.Task) -> str:
    parts = (task.request, task.response, task.extra, task.raw_state, task.error, task.video)
    return json.dumps([repr(part) for part in parts], default=str)


def _salt(value: str) -> str:
    return f"before {TOKEN} after {value}"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    extra=_echo,
    where=st.sampled_from(["code", "message", "trace_id", "state", "error_text", "unknown_key"]),
    status=st.sampled_from([200, 400, 403, 429, 500]),
)
def test_a_token_echoed_anywhere_in_an_answer_reaches_nothing(
    tmp_path: Path, extra: Any, where: str, status: int
) -> None:
    record: dict[str, Any] = json.loads(json.dumps(RECORD_OK))
    response: dict[str, Any] = record["response"]
    error: dict[str, Any] = {"code": "api_error", "message": "failed"}
    if where == "code":
        error["code"] = _salt("x")
    elif where == "message":
        error["message"] = _salt("m")
    elif where == "trace_id":
        record["trace_id"] = response["trace_id"] = _salt("t")
    elif where == "state":
        response["state"] = _salt("s")
    elif where == "error_text":
        response.update(success=False, state="failed", error={"code": TOKEN, "message": TOKEN})
        response.pop("video_url")
    record[TOKEN] = extra
    response["extra"] = {TOKEN: extra, "echo": _salt("e")}

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/luma/videos":
            if status == 200:
                return httpx.Response(200, json={"task_id": "t-1", "trace_id": _salt("a")})
            body = {"error": error, "trace_id": _salt("tr"), TOKEN: extra}
            return httpx.Response(status, json=body)
        return httpx.Response(200, json=record)

    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    with _client(handler, tmp_path) as client:
        shown: list[str] = []
        try:
            task = client.submit("a cat")
            shown += [repr(task), _everything(task), str(task.trace_id)]
            waited = client.wait(task, max_wait=5)
            shown += [repr(waited), _everything(waited), repr(waited.error), str(waited.video)]
            it = log.begin(task.sent or luma_nb.VideoRequest(prompt="x"), backend="api")
            log.submitted(it, task)
            log.update(it, waited)
        except LumaError as exc:
            shown += [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
            shown += [str(getattr(exc, name, "")) for name in ("code", "message", "trace_id")]
        for index, text in enumerate(shown):
            _no_token(f"output {index}", text)
    if log.path.exists():
        _no_token("the session log", log.path.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- verbose tracebacks


def _all_frames_text(exc: BaseException) -> str:
    """The exception (and its chain) rendered with every frame's local variables."""
    parts = [
        "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())
    ]
    from IPython.core.ultratb import VerboseTB

    try:
        verbose = VerboseTB(theme_name="nocolor")
    except TypeError:  # IPython < 9
        verbose = VerboseTB(color_scheme="NoColor")
    parts.append(verbose.text(type(exc), exc, exc.__traceback__))
    return "\n".join(parts)


@pytest.mark.parametrize(
    "answer",
    [
        lambda r: httpx.Response(500, json={"error": {"code": "api_error", "message": TOKEN}}),
        lambda r: httpx.Response(403, json={"error": {"code": "used_up", "message": "poor"}}),
        lambda r: httpx.Response(200, content=b"<html>" + TOKEN.encode()),
        lambda r: httpx.Response(200, content=b"plain", headers={"content-encoding": "gzip"}),
        lambda r: (_ for _ in ()).throw(httpx.ReadTimeout("slow", request=r)),
        lambda r: (_ for _ in ()).throw(httpx.RemoteProtocolError("drop " + TOKEN, request=r)),
    ],
    ids=["5xx", "balance", "html", "bad-gzip", "read-timeout", "drop"],
)
@pytest.mark.parametrize("operation", ["submit", "get_task", "wait", "generate"])
def test_tracebacks_with_local_variables_never_print_the_token(
    tmp_path: Path, answer: Callable[[httpx.Request], httpx.Response], operation: str
) -> None:
    with _client(answer, tmp_path) as client:
        call: dict[str, Callable[[], object]] = {
            "submit": lambda: client.submit("a cat"),
            "get_task": lambda: client.get_task("t-1"),
            "wait": lambda: client.wait("t-1", max_wait=2),
            "generate": lambda: client.generate("a cat", max_wait=2),
        }
        with pytest.raises(LumaError) as info:
            call[operation]()
    _no_token("a verbose traceback", _all_frames_text(info.value))
    _no_token("the repr of the client's auth", repr(client._auth))


def test_a_real_connection_failure_renders_no_token_in_any_frame(tmp_path: Path) -> None:
    with _HostileServer(lambda conn: conn.close()) as url:
        client = luma_nb.Client(TOKEN, base_url=url, max_retries=0, cache_dir=tmp_path)
        with client, pytest.raises(LumaError) as info:
            client.submit("a cat")
    assert isinstance(info.value, SubmitOutcomeUnknownError)
    _no_token("a verbose traceback", _all_frames_text(info.value))


# ------------------------------------------------------------------ hostile loopback server


class _HostileServer:
    """A raw TCP server on loopback whose every connection is handed to ``behave``."""

    def __init__(self, behave: Callable[[socket.socket], None]) -> None:
        self._behave = behave
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> str:
        self._accept = threading.Thread(target=self._serve, daemon=True)
        self._accept.start()
        return f"http://127.0.0.1:{self._sock.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except OSError:
                continue
            thread = threading.Thread(target=self._handle, args=(conn,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _handle(self, conn: socket.socket) -> None:
        with contextlib.suppress(OSError), conn:
            _read_request(conn)
            self._behave(conn)

    def stopped(self) -> bool:
        return self._stop.is_set()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._accept.join(2)
        self._sock.close()
        for thread in self._threads:
            thread.join(5)


def _read_request(conn: socket.socket) -> bytes:
    conn.settimeout(2)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += conn.recv(65536)
    return head


def _trickle(stop: Callable[[], bool]) -> Callable[[socket.socket], None]:
    def behave(conn: socket.socket) -> None:
        body = json.dumps({"id": "t-1", "response": {"state": "processing"}}).encode() * 50
        conn.sendall(
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
            + f"content-length: {len(body)}\r\n\r\n".encode()
        )
        for byte in body:
            if stop():
                return
            conn.sendall(bytes([byte]))
            time.sleep(0.1)  # the attack itself: a server that trickles

    return behave


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_a_trickled_answer_cannot_hold_a_wait_past_its_deadline(tmp_path: Path, kind: str) -> None:
    holder: list[_HostileServer] = []
    server = _HostileServer(_trickle(lambda: holder[0].stopped()))
    holder.append(server)
    max_wait = 1.0
    with server as url:

        def sync_wait() -> None:
            with luma_nb.Client(TOKEN, base_url=url, cache_dir=tmp_path) as client:
                client.wait("t-1", max_wait=max_wait)

        async def async_wait() -> None:
            async with luma_nb.AsyncClient(TOKEN, base_url=url, cache_dir=tmp_path) as client:
                await client.wait("t-1", max_wait=max_wait)

        started = time.monotonic()
        with pytest.raises(WaitTimeoutError):
            sync_wait() if kind == "sync" else asyncio.run(async_wait())
        took = time.monotonic() - started
    # The trickled answer alone would take minutes; the wait ends at its deadline + grace.
    assert took < max_wait + DEADLINE_GRACE + 1.5, took


def _endless(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: video/mp4\r\n\r\n")
    chunk = b"\0" * 65536
    for _ in range(2000):  # bounded: 128 MiB at most, the client must stop long before
        conn.sendall(chunk)


def test_an_endless_download_stops_at_the_cap_and_caches_nothing(tmp_path: Path) -> None:
    with _HostileServer(_endless) as url:
        client = luma_nb.Client(
            TOKEN, base_url=url, cache_dir=tmp_path / "cache", max_download_bytes=1 << 20
        )
        with client, pytest.raises(UnexpectedResponseError, match="cap of 1,048,576 bytes"):
            client.download(url + "/media/clip.mp4")
    leftovers = [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
    assert leftovers == []


def test_the_download_cap_is_a_setting_with_a_typed_error_for_bad_values() -> None:
    for bad in (0, -1, 1.5, True, "1", 10**400, 1 << 41):
        with pytest.raises(ConfigError):
            luma_nb.Client(TOKEN, max_download_bytes=bad)
    assert luma_nb.Client(TOKEN).settings.max_download_bytes == 1 << 30


class _CountingStream(httpx.SyncByteStream):
    """An endless answer that counts what the client pulled from it."""

    def __init__(self) -> None:
        self.sent = 0

    def __iter__(self) -> Iterator[bytes]:
        chunk = b" " * 65536
        while self.sent < 64 * MAX_ANSWER_BYTES:
            self.sent += len(chunk)
            yield chunk


@pytest.mark.parametrize("operation", ["submit", "get_task"])
def test_an_oversized_answer_is_not_read_past_the_cap(tmp_path: Path, operation: str) -> None:
    stream = _CountingStream()

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=stream, headers={"content-type": "application/json"})

    with _client(handler, tmp_path) as client:
        expected = SubmitOutcomeUnknownError if operation == "submit" else UnexpectedResponseError
        with pytest.raises(expected):
            client.submit("a cat") if operation == "submit" else client.get_task("t-1")
    attempts = 1 if operation == "submit" else 2  # a read is retried once (max_retries=1)
    assert stream.sent <= attempts * (MAX_ANSWER_BYTES + 65536)


# --------------------------------------------------------------------------- every httpx error


def _httpx_errors() -> list[type[Exception]]:
    found: list[type[Exception]] = []
    for name in dir(httpx):
        value = getattr(httpx, name)
        if (
            isinstance(value, type)
            and issubclass(value, Exception)
            and value.__module__.startswith("httpx")
            and not issubclass(value, httpx.HTTPStatusError)  # raised only by raise_for_status
            and value not in (httpx.StreamError,)
            and not issubclass(value, httpx.StreamError)  # misuse of a stream, not a failure
            and value is not httpx.CookieConflict
        ):
            found.append(value)
    return found


def _make(cls: type[Exception], request: httpx.Request) -> Exception:
    try:
        return cls("boom " + TOKEN, request=request)  # type: ignore[call-arg]
    except TypeError:
        return cls("boom " + TOKEN)


@pytest.mark.parametrize("cls", _httpx_errors(), ids=lambda c: c.__name__)
@pytest.mark.parametrize("operation", ["submit", "get_task", "wait", "download", "generate"])
@pytest.mark.parametrize("kind", ["sync", "async"])
def test_every_httpx_exception_becomes_a_typed_error(
    tmp_path: Path, cls: type[Exception], operation: str, kind: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise _make(cls, request)

    clock = _Clock()
    options: dict[str, Any] = {"cache_dir": tmp_path, "max_retries": 1, "clock": clock}
    calls: dict[str, Callable[[Any], Any]] = {
        "submit": lambda c: c.submit("a cat"),
        "get_task": lambda c: c.get_task("t-1"),
        "wait": lambda c: c.wait("t-1", max_wait=3),
        "download": lambda c: c.download("https://cdn.example.com/v.mp4"),
        "generate": lambda c: c.generate("a cat", max_wait=3),
    }
    if kind == "sync":
        client: Any = luma_nb.Client(
            TOKEN, transport=httpx.MockTransport(handler), sleep=clock.sleep, **options
        )
        with client, pytest.raises(LumaError) as info:
            calls[operation](client)
    else:

        async def run() -> None:
            async with luma_nb.AsyncClient(
                TOKEN, transport=httpx.MockTransport(handler), sleep=clock.async_sleep, **options
            ) as client:
                await calls[operation](client)

        with pytest.raises(LumaError) as info:
            asyncio.run(run())
    _no_token("the error", str(info.value))


# --------------------------------------------------------------------------- refusal or unknown

SERVER_CODES = ["timeout", "api_error", "busy"]
REFUSALS = {
    "bad_request": errors.BadRequestError,
    "token_mismatched": errors.TokenMismatchError,
    "invalid_token": errors.AuthenticationError,
    "token_expired": errors.AuthenticationError,
    "disabled": errors.AuthenticationError,
    "forbidden": errors.ModerationError,
    "used_up": errors.InsufficientBalanceError,
    "too_many_requests": errors.RateLimitError,
}


@pytest.mark.parametrize("status", [200, 201, 202, 400, 401, 403, 404, 409, 422, 500, 503])
@pytest.mark.parametrize("code", SERVER_CODES)
@pytest.mark.parametrize("with_success", [True, False])
def test_a_server_failure_code_is_an_unknown_outcome_whatever_the_status(
    tmp_path: Path, status: int, code: str, with_success: bool
) -> None:
    body: dict[str, Any] = {"error": {"code": code, "message": "upstream"}, "trace_id": "tr-1"}
    if with_success:
        body["success"] = False

    error, state = _submit_and_log(tmp_path, httpx.Response(status, json=body))
    assert isinstance(error, SubmitOutcomeUnknownError)
    assert error.trace_id == "tr-1"
    assert state == "outcome_unknown"


def _submit_and_log(tmp_path: Path, answer: httpx.Response) -> tuple[LumaError, str]:
    """Submit once against ``answer`` as the helpers do; the error and the logged state."""
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    request = luma_nb.VideoRequest(prompt="a cat")
    with _client(lambda _request: answer, tmp_path, max_retries=0) as client:
        it = log.begin(request, backend="api")
        with pytest.raises(LumaError) as info:
            client.submit(request)
        log.submit_failed(it, info.value)
    return info.value, log.row(it)["state"]


@pytest.mark.parametrize("status", [200, 400, 401, 403, 429])
@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_a_definite_refusal_is_typed_and_logged_failed(
    tmp_path: Path, status: int, code: str
) -> None:
    answer = httpx.Response(status, json={"error": {"code": code, "message": "no"}})
    error, state = _submit_and_log(tmp_path, answer)
    assert type(error) is REFUSALS[code]
    assert state == "failed"


@pytest.mark.parametrize("status", [200, 201])
def test_a_2xx_error_without_a_code_is_no_proof(tmp_path: Path, status: int) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json={"error": "something went wrong"})

    with _client(handler, tmp_path) as client, pytest.raises(SubmitOutcomeUnknownError):
        client.submit("a cat")


# --------------------------------------------------------------------------- cancellation


def test_a_cancelled_async_submit_in_flight_is_an_unknown_outcome(tmp_path: Path) -> None:
    arrived = asyncio.Event()

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            arrived.set()
            await asyncio.sleep(30)  # cancelled long before
            raise AssertionError("not reached")

    async def run() -> BaseException | None:
        async with luma_nb.AsyncClient(TOKEN, transport=Slow(), cache_dir=tmp_path) as client:
            task = asyncio.ensure_future(client.submit("a cat"))
            await arrived.wait()
            task.cancel()
            try:
                await task
            except BaseException as exc:  # what the submit ended with
                return exc
        return None

    outcome = asyncio.run(run())
    assert isinstance(outcome, SubmitOutcomeUnknownError)
    assert "cancelled" in str(outcome)


def test_a_cancelled_async_read_stays_a_plain_cancellation(tmp_path: Path) -> None:
    arrived = asyncio.Event()

    class Slow(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            arrived.set()
            await asyncio.sleep(30)
            raise AssertionError("not reached")

    async def run() -> None:
        async with luma_nb.AsyncClient(TOKEN, transport=Slow(), cache_dir=tmp_path) as client:
            task = asyncio.ensure_future(client.get_task("t-1"))
            await arrived.wait()
            task.cancel()
            await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())


def test_the_send_tracker_knows_a_request_that_never_left() -> None:
    from luma_nb._http import SendTracker

    untraced = SendTracker()
    assert untraced.maybe_sent  # an in-process transport tells nothing: assume sent
    connecting = SendTracker()
    connecting.note("connection.connect_tcp.started")
    assert not connecting.maybe_sent
    connecting.note("http11.send_request_headers.started")
    assert connecting.maybe_sent


def test_a_cancel_between_attempts_is_a_plain_cancellation(tmp_path: Path) -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens: every connect is refused at once (never sent)

    async def run() -> None:
        async with luma_nb.AsyncClient(
            TOKEN, base_url=f"http://127.0.0.1:{port}", max_retries=3, cache_dir=tmp_path
        ) as client:
            task = asyncio.ensure_future(client.submit("a cat"))
            await asyncio.sleep(0.05)  # inside the backoff sleep between connect attempts
            task.cancel()
            await task

    with pytest.raises(asyncio.CancelledError):
        asyncio.run(run())


# --------------------------------------------------------------------------- settings


@pytest.mark.parametrize(
    "url",
    [
        "http://api.acedata.cloud",
        "http://example.com:8080/",
        "http://10.0.0.5",
        "http://[2001:db8::1]:80",
        "HTTP://api.acedata.cloud",
    ],
)
def test_plain_http_off_this_machine_is_refused_unless_allowed(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LUMA_NB_ALLOW_INSECURE_HTTP", raising=False)
    with pytest.raises(ConfigError, match="cleartext") as info:
        luma_nb.Client(TOKEN, base_url=url)
    assert "allow_insecure_http=True" in str(info.value)
    luma_nb.Client(TOKEN, base_url=url, allow_insecure_http=True).close()
    monkeypatch.setenv("LUMA_NB_ALLOW_INSECURE_HTTP", "1")
    luma_nb.Client(TOKEN, base_url=url).close()


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000", "http://localhost:1", "http://[::1]:9", "http://127.9.9.9"]
)
def test_plain_http_on_loopback_is_fine(url: str) -> None:
    luma_nb.Client(TOKEN, base_url=url).close()


@pytest.mark.parametrize(
    "url", ["http://[::1", "https://host:99999", "https://host:abc", "https://h:0", "https://a b"]
)
def test_a_malformed_base_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        luma_nb.Client(TOKEN, base_url=url)


@pytest.mark.parametrize("value", [10**400, -(10**400), float("nan"), float("inf"), True, "30"])
def test_numbers_no_float_can_hold_are_typed_errors(value: object) -> None:
    with pytest.raises(ConfigError):
        luma_nb.Client(TOKEN, timeout=value)  # type: ignore[arg-type]
    with luma_nb.Client(TOKEN) as client, pytest.raises(ValidationError):
        client.wait("t-1", max_wait=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "task_id", ["", " ", "a b", "\ud800", "x\x1b[2J", "t\n1", "é" * 300, 12, None, ["t"]]
)
def test_bad_task_ids_are_refused_before_any_request(tmp_path: Path, task_id: object) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=RECORD_OK)

    with _client(handler, tmp_path) as client:
        for call in (client.get_task, client.wait, lambda t: client.wait_many([t])):
            with pytest.raises(ValidationError):
                call(task_id)
    assert sent == []


def test_a_cancelled_submit_on_a_real_socket_is_an_unknown_outcome(tmp_path: Path) -> None:
    holder: list[_HostileServer] = []
    received = threading.Event()

    def hang(conn: socket.socket) -> None:
        received.set()  # the whole request has arrived
        while not holder[0].stopped():  # and is never answered
            time.sleep(0.02)

    server = _HostileServer(hang)
    holder.append(server)

    async def run() -> BaseException | None:
        async with luma_nb.AsyncClient(TOKEN, base_url=url, cache_dir=tmp_path) as client:
            task = asyncio.ensure_future(client.submit("a cat"))
            assert await asyncio.to_thread(received.wait, 10)
            task.cancel()
            try:
                await task
            except BaseException as exc:  # what the submit ended with
                return exc
        return None

    with server as url:
        outcome = asyncio.run(run())
    assert isinstance(outcome, SubmitOutcomeUnknownError)


_MAKERS: dict[str, Callable[..., object]] = {
    "client": luma_nb.Client,
    "async-client": luma_nb.AsyncClient,
    "connect": lambda *a, **kw: luma_nb.connect(*a, banner=False, **kw),
}


@pytest.mark.parametrize("how", sorted(_MAKERS))
def test_a_settings_error_renders_no_token_in_any_frame(
    how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LUMA_NB_ALLOW_INSECURE_HTTP", raising=False)
    monkeypatch.setenv("ACEDATACLOUD_API_TOKEN", TOKEN)
    bad = "http://api.example.com"  # cleartext: refused after the token was read
    with pytest.raises(ConfigError) as info:
        _MAKERS[how](base_url=bad)
    _no_token("a verbose traceback", _all_frames_text(info.value))
    # Passed explicitly, the token is in the caller's frame (the user's own cell) but in no
    # frame of luma_nb.
    with pytest.raises(ConfigError) as info:
        _MAKERS[how](TOKEN, base_url=bad)
    summary = traceback.TracebackException.from_exception(info.value, capture_locals=True)
    for frame in summary.stack:
        if "/luma_nb/" in frame.filename:
            _no_token(f"the locals of {frame.name}", repr(frame.locals))
