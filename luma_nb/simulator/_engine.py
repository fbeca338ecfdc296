"""The simulator's engine: one request in, one :class:`SimResponse` out, for both faces."""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import httpx

from ._callback import CallbackDelivery, CallbackDispatcher
from ._clock import Clock, ScaledClock
from ._enhance import enhance_prompt
from ._faults import FaultDecision, FaultInjector, FaultPlan, parse_faults
from ._keyframe import (
    ImageFetcher,
    OwnThumbnail,
    decode_data_url,
    default_image_fetcher,
    looks_like_image,
)
from ._library import MediaLibrary
from ._range import serve_bytes
from ._ratelimit import RateLimiter, parse_rate_limit
from ._response import (
    DROP,
    REFUSE,
    Rejection,
    SimResponse,
    bad_request,
    error_response,
    html_page,
    json_response,
)
from ._routes import parse_media_path, parse_media_url, route
from ._stats import JournalEntry, SimStats, StatsBook
from ._task import Account, Keyframe, Task, new_object_id, new_uuid, plan
from ._validation import SubmitRequest, parse_json_object, parse_submit

if TYPE_CHECKING:
    from ._media import ClipSpec, RenderedClip
    from ._transport import SimulatorTransport

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MEDIA_BASE_URL", "Simulator"]

DEFAULT_BASE_URL = "https://api.luma-simulator.invalid"
DEFAULT_MEDIA_BASE_URL = "https://media.luma-simulator.invalid"
MAX_BODY_BYTES = 32 * 1024 * 1024
SEGMENT_SECONDS = 5.0

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]
FaultsLike = FaultPlan | str | Sequence[FaultPlan | str] | None


def _faults_tuple(faults: FaultsLike) -> tuple[FaultPlan, ...]:
    if faults is None:
        return ()
    if isinstance(faults, FaultPlan):
        return (faults,)
    if isinstance(faults, str):
        return parse_faults(faults)
    out: list[FaultPlan] = []
    for item in faults:
        out.extend(parse_faults(item) if isinstance(item, str) else (item,))
    return tuple(out)


def _lower_headers(headers: HeadersLike | None) -> dict[str, str]:
    if headers is None:
        return {}
    items = headers.items() if isinstance(headers, Mapping) else headers
    out: dict[str, str] = {}
    for key, value in items:
        out.setdefault(key.lower(), value)
    return out


def _bearer(value: str | None) -> str:
    if value is None:
        return ""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    if scheme.lower() == "bearer":
        return rest.strip()
    return "" if value.lower() == "bearer" else value


def _short(url: str, limit: int = 80) -> str:
    return url if len(url) <= limit else url[: limit - 3] + "..."


class Simulator:
    """A faithful, seeded model of the Ace Data Cloud Luma API (``/luma/videos``, ``/luma/tasks``).

    Parameters
    ----------
    seed : int or str
        Seeds every id, timeline, task fate and injected fault.
    clock : Clock, optional
        Default: ``ScaledClock(speed)``. Tests pass a :class:`VirtualClock`.
    speed : float
        Simulated seconds per real second for the default clock (60: a ~150 s generation takes
        ~2.5 s).
    accepted_tokens : iterable of str, optional
        If given, only these bearer tokens are accepted (others: 401 ``invalid_token``); by
        default any non-empty token is.
    moderation_words : iterable of str
        A prompt containing one of these words (case-insensitive, whole word) is refused with
        403 ``forbidden``.
    credits : int, optional
        Balance: each accepted submit costs one credit; when spent, 403 ``used_up``. ``None``:
        unlimited.
    rate_limit : (int, float) or str, optional
        ``(n, seconds)`` or ``"n/seconds"``: at most n requests per window, per token and
        endpoint, counted in wall seconds; beyond, 429 ``too_many_requests`` with Retry-After.
    task_failure_rate : float
        Chance that a task fails (error code ``api_error``), drawn per task from the seed.
    faults : FaultPlan, str or sequence of them, optional
        Injected faults (see :class:`FaultPlan` for the text syntax).
    base_url, media_base_url : str
        The API's base URL, and the base of the media URLs put in responses. A loopback server
        replaces both when it starts.
    image_fetcher : callable, optional
        ``fetch(url) -> bytes`` for http(s) keyframes (default: an httpx GET, 5 s timeout).
    callback_transport : httpx.BaseTransport, optional
        Transport for callback POSTs (tests capture them); default real HTTP.
    callback_retry_delays : sequence of float
        Wall seconds before each callback retry (so ``1 + len(delays)`` attempts in all).
    max_cached_clips : int
        Rendered clips kept in memory.
    journal_size : int
        Requests kept in :attr:`journal`.
    """

    def __init__(
        self,
        *,
        seed: int | str = 0,
        clock: Clock | None = None,
        speed: float = 60.0,
        accepted_tokens: Iterable[str] | None = None,
        moderation_words: Iterable[str] = ("nsfw", "gore"),
        credits: int | None = None,
        rate_limit: tuple[int, float] | str | None = None,
        task_failure_rate: float = 0.0,
        faults: FaultsLike = None,
        base_url: str = DEFAULT_BASE_URL,
        media_base_url: str = DEFAULT_MEDIA_BASE_URL,
        image_fetcher: ImageFetcher | None = None,
        callback_transport: httpx.BaseTransport | None = None,
        callback_retry_delays: Sequence[float] = (1.0, 2.0, 4.0),
        max_cached_clips: int = 32,
        journal_size: int = 10_000,
    ) -> None:
        if not 0.0 <= task_failure_rate <= 1.0:
            raise ValueError("task_failure_rate must be in [0, 1]")
        if credits is not None and credits < 0:
            raise ValueError("credits must be >= 0 or None")
        self.seed = seed
        self.clock: Clock = clock if clock is not None else ScaledClock(speed)
        self.base_url = base_url.rstrip("/")
        self.media_base_url = media_base_url.rstrip("/")
        self.accepted_tokens = frozenset(accepted_tokens) if accepted_tokens is not None else None
        self.moderation_words = tuple(w.lower() for w in moderation_words if w.strip())
        self._moderation = (
            re.compile(
                r"\b(" + "|".join(re.escape(w) for w in self.moderation_words) + r")\b",
                re.IGNORECASE,
            )
            if self.moderation_words
            else None
        )
        self.task_failure_rate = float(task_failure_rate)
        self.fault_plans = _faults_tuple(faults)
        self._faults = FaultInjector(self.fault_plans, seed)
        if isinstance(rate_limit, str):
            rate_limit = parse_rate_limit(rate_limit)
        self._limiter = RateLimiter(*rate_limit, self.clock) if rate_limit else None
        self._fetch = image_fetcher or default_image_fetcher
        self._account = Account.from_seed(seed)
        self._lock = threading.RLock()
        self._credits = credits
        self._tasks: dict[str, Task] = {}
        self._by_video: dict[str, str] = {}
        self._trace_rng = random.Random(f"{seed}:trace")
        self._stats = StatsBook(journal_size)
        self._library = MediaLibrary(max_cached_clips)
        self._dispatcher = CallbackDispatcher(
            self.clock,
            self._callback_body,
            transport=callback_transport,
            retry_delays=callback_retry_delays,
        )
        self._closed = threading.Event()
        self._dims: dict[str, tuple[int, int]] = {}

    # -- public inspection -----------------------------------------------------------------

    @property
    def tasks(self) -> Mapping[str, Task]:
        """Every task so far by task id (a read-only snapshot)."""
        with self._lock:
            return MappingProxyType(dict(self._tasks))

    @property
    def credits(self) -> int | None:
        """Credits left (``None``: unlimited)."""
        with self._lock:
            return self._credits

    @property
    def stats(self) -> SimStats:
        """A snapshot of the counters."""
        deliveries = self._dispatcher.snapshot()
        return self._stats.snapshot(
            self._library.renders,
            self._library.render_seconds,
            sum(d.status == "delivered" for d in deliveries),
            sum(d.status == "failed" for d in deliveries),
        )

    @property
    def journal(self) -> list[JournalEntry]:
        """Requests seen, oldest first (no token values, only whether one was sent)."""
        return self._stats.journal()

    @property
    def callbacks(self) -> list[CallbackDelivery]:
        """Callback deliveries, in the order the tasks were created."""
        return self._dispatcher.snapshot()

    def _find(self, task_id: str) -> Task | None:
        with self._lock:
            return self._tasks.get(task_id)

    def _task(self, task_id: str) -> Task:
        with self._lock:
            return self._tasks[task_id]

    def record(self, task_id: str) -> dict[str, Any]:
        """The task record ``retrieve`` would answer now.

        Raises
        ------
        KeyError
            For an unknown task id.
        """
        task = self._task(task_id)
        return task.record_at(self.clock.now(), self._account, self.media_base_url)

    def state(self, task_id: str) -> str:
        """The state of a task now (``queued``, ``pending``, ``processing``, ``completed``...)."""
        return self._task(task_id).state_at(self.clock.now())

    def clip(self, task_id: str) -> RenderedClip:
        """The task's clip, rendered on first use and cached (whatever the task's state).

        Raises
        ------
        KeyError
            For an unknown task id.
        """
        task = self._task(task_id)
        return self._library.get(task.task_id, lambda: self._render(task))

    # -- faces and lifecycle -----------------------------------------------------------------

    def transport(self) -> SimulatorTransport:
        """An httpx transport serving both ``httpx.Client`` and ``httpx.AsyncClient``."""
        from ._transport import SimulatorTransport

        return SimulatorTransport(self)

    def flush_callbacks(self, timeout: float = 5.0) -> bool:
        """Deliver the callbacks that are due now and wait for them.

        Returns
        -------
        bool
            ``True`` when no callback is outstanding; ``False`` if some task is not over yet, a
            retry is scheduled later, or ``timeout`` real seconds ran out.
        """
        return self._dispatcher.flush(timeout)

    def close(self) -> None:
        """Stop the callback thread and release any held sync requests (they are dropped)."""
        self._closed.set()
        self._dispatcher.close()

    def __enter__(self) -> Simulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Simulator(seed={self.seed!r}, clock={self.clock!r}, tasks={len(self._tasks)})"

    # -- the request path --------------------------------------------------------------------

    def handle(
        self,
        method: str,
        url: str,
        headers: HeadersLike | None = None,
        body: bytes = b"",
    ) -> SimResponse:
        """Answer one HTTP request.

        Parameters
        ----------
        method : str
            HTTP method.
        url : str
            Full URL (its host is journaled; routing uses the path only).
        headers : mapping or iterable of pairs, optional
            Request headers (case-insensitive).
        body : bytes
            Request body.

        Returns
        -------
        SimResponse
            The answer, or a ``drop`` / ``refuse`` outcome for the face to enact.
        """
        method = method.upper()
        parts = urlsplit(url)
        path = parts.path or "/"
        lowered = _lower_headers(headers)
        endpoint = route(method, path)
        at = self.clock.now()
        with self._lock:
            trace_id = new_uuid(self._trace_rng)
        decision = self._faults.decide(endpoint)
        response, faults = self._respond(method, path, lowered, body, endpoint, decision, trace_id)
        self._dispatcher.poke()
        self._stats.record(
            JournalEntry(
                at=at,
                method=method,
                host=parts.netloc,
                path=path,
                authorized=bool(lowered.get("authorization", "").strip()),
                status=response.status if response.outcome == "answer" else None,
                outcome=response.outcome,
                faults=faults,
            ),
            self._path_key(method, path, endpoint),
            faults,
        )
        return response

    @staticmethod
    def _path_key(method: str, path: str, endpoint: str | None) -> str:
        if endpoint == "media":
            return f"{method} /media/luma/*"
        return f"{method} {path}"

    def _respond(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        endpoint: str | None,
        decision: FaultDecision,
        trace_id: str,
    ) -> tuple[SimResponse, tuple[str, ...]]:
        """The answer, and the names of the injected faults that shaped it."""
        if decision.refuse:
            return REFUSE, ("refuse",)
        if decision.drop_before:
            return DROP, ("drop",)
        applied: list[str] = []
        if decision.error_status is not None:
            response = self._server_error(decision.error_status, trace_id)
            applied.append(str(decision.error_status))
        elif decision.rate_limited:
            response = error_response(
                429,
                "too_many_requests",
                "Too many requests, please slow down.",
                trace_id,
                {"retry-after": str(math.ceil(decision.retry_after))},
            )
            applied.append("429")
        else:
            try:
                response = self._dispatch(method, path, headers, body, endpoint, trace_id)
            except Rejection as rejection:
                response = rejection.response(trace_id)
            if decision.drop_after:
                return DROP, ("drop_after",)
            if decision.malformed is not None and 200 <= response.status < 300:
                response = self._malformed(response, decision.malformed)
                applied.append(f"malformed_{decision.malformed}")
        if response.outcome == "answer" and decision.delay:
            response = response.with_delay(decision.delay)
            applied.append("slow")
        return response, tuple(applied)

    @staticmethod
    def _server_error(status: int, trace_id: str) -> SimResponse:
        if status == 502:
            return html_page(502)
        if status == 503:
            return error_response(
                503, "busy", "The service is busy, please try again later.", trace_id
            )
        return error_response(500, "api_error", "Internal server error.", trace_id)

    @staticmethod
    def _malformed(response: SimResponse, kind: str) -> SimResponse:
        if kind == "html":
            return html_page(502, answer_status=200)
        body = response.body[: max(1, len(response.body) // 2)]
        headers = tuple((k, v) for k, v in response.headers if k != "content-length")
        if response.header("content-length") is not None:
            headers = (*headers, ("content-length", str(len(body))))
        return SimResponse(200, headers, body)

    def _dispatch(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        endpoint: str | None,
        trace_id: str,
    ) -> SimResponse:
        if endpoint is None:
            raise Rejection(404, "no_api", f"No API found for {method} {path}.")
        if endpoint == "media":
            self._stats.count("media_requests")
            return self._media(method, path, headers)
        token = _bearer(headers.get("authorization"))
        if not token:
            raise Rejection(
                400, "no_token", "A token is required: send 'authorization: Bearer <token>'."
            )
        if self.accepted_tokens is not None and token not in self.accepted_tokens:
            raise Rejection(401, "invalid_token", "The token is invalid.")
        if len(body) > MAX_BODY_BYTES:
            raise Rejection(413, "request_too_large", "The request body is too large.")
        if self._limiter is not None:
            # the limiter keys on a digest: the token itself is never kept
            digest = hashlib.sha256(token.encode()).hexdigest()[:16]
            retry_after = self._limiter.check(f"{digest}:{endpoint}")
            if retry_after is not None:
                raise Rejection(
                    429,
                    "too_many_requests",
                    "Too many requests, please slow down.",
                    {"retry-after": str(retry_after)},
                )
        if endpoint == "videos":
            self._stats.count("submits")
            return self._submit(body, trace_id)
        return self._query(body)

    # -- POST /luma/videos -------------------------------------------------------------------

    def _submit(self, body: bytes, trace_id: str) -> SimResponse:
        request = parse_submit(body)
        if self._moderation is not None and self._moderation.search(request.prompt):
            raise Rejection(403, "forbidden", "The prompt was refused by content moderation.")
        parent = self._find_parent(request) if request.action == "extend" else None
        start = self._keyframe("start_image_url", request.start_image_url)
        end = self._keyframe("end_image_url", request.end_image_url)
        task = self._create(request, parent, start, end, trace_id)
        if request.callback_url is not None:
            self._dispatcher.add(task.task_id, request.callback_url, task.timeline.finished_at)
        if not request.holds:
            return json_response(200, {"task_id": task.task_id, "trace_id": trace_id})
        return self._hold(task, request.timeout, trace_id)

    def _find_parent(self, request: SubmitRequest) -> Task:
        with self._lock:
            if request.video_id:  # video_id wins over video_url
                task_id = self._by_video.get(request.video_id)
                if task_id is None:
                    raise bad_request(f"video_id {request.video_id!r} was not found")
                what = f"video_id {request.video_id!r}"
            else:
                url = request.video_url or ""
                parsed = parse_media_url(url)
                task_id = parsed[0] if parsed and parsed[1] == "mp4" else None
                if task_id is None or task_id not in self._tasks:
                    raise bad_request(f"video_url is not a video of this service: {_short(url)}")
                what = f"video_url {_short(url)}"
            parent = self._tasks[task_id]
        if parent.state_at(self.clock.now()) != "completed":
            raise bad_request(f"{what} is not a completed video")
        return parent

    def _keyframe(self, field: str, url: str | None) -> Keyframe | None:
        if url is None:
            return None
        if url[:5].lower() == "data:":
            try:
                data = decode_data_url(url)
            except ValueError:
                raise bad_request(f"{field} is not a valid data URL: {_short(url)}") from None
        elif (own := parse_media_url(url)) is not None:
            task = self._find(own[0])
            if task is None or task.state_at(self.clock.now()) != "completed":
                raise bad_request(f"{field} could not be fetched: {_short(url)}")
            if own[1] != "jpg":
                raise bad_request(f"{field} is not a decodable image: {_short(url)}")
            return OwnThumbnail(task.task_id)
        else:
            try:
                data = self._fetch(url)
            except Exception:  # any failure to fetch is the client's bad URL
                raise bad_request(f"{field} could not be fetched: {_short(url)}") from None
        if not looks_like_image(data):
            raise bad_request(f"{field} is not a decodable image: {_short(url)}")
        return data

    def _create(
        self,
        request: SubmitRequest,
        parent: Task | None,
        start: Keyframe | None,
        end: Keyframe | None,
        trace_id: str,
    ) -> Task:
        aspect = parent.aspect_ratio if parent else (request.aspect_ratio or "16:9")
        width, height = self._dimensions(aspect)
        echo = enhance_prompt(request.prompt) if request.enhancement else request.prompt
        with self._lock:
            if self._credits is not None:
                if self._credits <= 0:
                    raise Rejection(403, "used_up", "The balance is used up.")
                self._credits -= 1
            number = len(self._tasks) + 1
            base = f"{self.seed}:task:{number}"
            ids = random.Random(base + ":ids")
            stuck, fail_code = self._faults.task_fate(random.Random(base + ":fate"))
            if fail_code is None and random.Random(base + ":failure").random() < (
                self.task_failure_rate
            ):
                fail_code = "api_error"
            now = self.clock.now()
            timeline = plan(
                random.Random(base + ":time"), now, stuck=stuck, fails=fail_code is not None
            )
            task = Task(
                number=number,
                task_id=new_uuid(ids),
                video_id=new_uuid(ids),
                object_id=new_object_id(ids, now),
                trace_id=trace_id,
                request=request.raw,
                action=request.action,
                prompt=echo,
                clip_text=echo or (parent.clip_text if parent else ""),
                aspect_ratio=aspect,
                loop=request.loop,
                width=width,
                height=height,
                seed=ids.getrandbits(31),
                timeline=timeline,
                error_code=fail_code,
                callback_url=request.callback_url,
                parent_task_id=parent.task_id if parent else None,
                start_image=start,
                end_image=end,
            )
            self._tasks[task.task_id] = task
            self._by_video[task.video_id] = task.task_id
        self._stats.count("tasks_created")
        return task

    def _hold(self, task: Task, timeout: float, trace_id: str) -> SimResponse:
        deadline = task.timeline.created_at + timeout
        while True:
            if self._closed.is_set():
                return DROP
            now = self.clock.now()
            if task.is_terminal_at(now):
                final = task.final_body(self.media_base_url)
                return json_response(200 if final["success"] else 500, final)
            if now >= deadline:
                return error_response(
                    504,
                    "timeout",
                    f"The request timed out after {timeout:g} seconds.",
                    trace_id,
                )
            step = min(task.timeline.next_change(now), deadline) - now
            self.clock.sleep(max(1e-3, min(step, self.clock.granularity)))

    # -- POST /luma/tasks --------------------------------------------------------------------

    def _query(self, body: bytes) -> SimResponse:
        raw = parse_json_object(body)
        action = raw.get("action")
        now = self.clock.now()
        if action == "retrieve":
            self._stats.count("retrieves")
            task_id = raw.get("id")
            if not isinstance(task_id, str) or not task_id:
                raise bad_request("id is required")
            task = self._find(task_id)
            if task is None:
                raise Rejection(404, "not_found", f"Task {task_id!r} was not found.")
            return json_response(200, task.record_at(now, self._account, self.media_base_url))
        if action == "retrieve_batch":
            self._stats.count("batch_retrieves")
            ids = raw.get("ids")
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
                raise bad_request("ids must be a list of task ids")
            seen: set[str] = set()
            items = []
            for task_id in ids:
                task = self._find(task_id)
                if task is not None and task_id not in seen:
                    seen.add(task_id)
                    items.append(task.record_at(now, self._account, self.media_base_url))
            return json_response(200, {"items": items, "count": len(items)})
        raise Rejection(400, "api_not_implemented", f"action {action!r} is not implemented")

    # -- media -------------------------------------------------------------------------------

    def _media(self, method: str, path: str, headers: dict[str, str]) -> SimResponse:
        parsed = parse_media_path(path)
        task = self._find(parsed[0]) if parsed else None
        if parsed is None or task is None or task.state_at(self.clock.now()) != "completed":
            return SimResponse(
                404, (("content-type", "text/plain; charset=utf-8"),), b"Not Found\n"
            )
        clip = self.clip(task.task_id)
        ext = parsed[1]
        data, kind = (clip.mp4, "video/mp4") if ext == "mp4" else (clip.jpeg, "image/jpeg")
        etag = '"' + hashlib.sha256(data).hexdigest()[:20] + '"'
        return serve_bytes(method, data, kind, headers.get("range"), etag)

    def _dimensions(self, aspect: str) -> tuple[int, int]:
        cached = self._dims.get(aspect)
        if cached is None:
            from . import _media

            if _media.can_render():
                cached = _media.clip_size(aspect)
            else:
                fallback = _media.fallback_clip()
                cached = (fallback.width, fallback.height)
            self._dims[aspect] = cached
        return cached

    def _spec(self, task: Task) -> ClipSpec:
        from ._media import ClipSpec

        parent = self._task(task.parent_task_id) if task.parent_task_id else None
        return ClipSpec(
            text=task.clip_text,
            aspect_ratio=task.aspect_ratio,
            seconds=SEGMENT_SECONDS,
            seed=task.seed,
            start_image=self._keyframe_bytes(task.start_image),
            end_image=self._keyframe_bytes(task.end_image),
            loop=task.loop,
            parent=self._spec(parent) if parent else None,
        )

    def _keyframe_bytes(self, keyframe: Keyframe | None) -> bytes | None:
        if isinstance(keyframe, OwnThumbnail):
            return self.clip(keyframe.task_id).jpeg
        return keyframe

    def _render(self, task: Task) -> RenderedClip:
        from . import _media

        try:
            return _media.render_clip(self._spec(task))
        except ValueError:  # an image that passed the submit check but not the decoder
            return _media.fallback_clip()

    def _callback_body(self, task_id: str) -> dict[str, Any]:
        return self._task(task_id).final_body(self.media_base_url)
