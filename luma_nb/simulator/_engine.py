"""The simulator's engine: one request in, one :class:`SimResponse` out, for both faces."""

from __future__ import annotations

import hashlib
import math
import random
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import httpx

from ._callback import CallbackDelivery, CallbackDispatcher
from ._clock import Clock, ScaledClock
from ._faults import FaultDecision, FaultInjector, FaultPlan, parse_faults
from ._keyframe import ImageFetcher, guarded_image_fetcher
from ._library import MediaLibrary
from ._netguard import AddressPolicy
from ._ratelimit import RateLimiter, parse_rate_limit
from ._response import DROP, ERRORS, REFUSE, Rejection, SimResponse, coded, html_page
from ._routes import route
from ._sizes import VideoSize, parse_video_size
from ._stats import JournalEntry, SimStats, StatsBook
from ._submit import SubmitPart
from ._task import GENERATION_SECONDS, Account, Task, new_uuid
from ._validation import short
from ._variants import Variants

if TYPE_CHECKING:
    from ._transport import SimulatorTransport

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_MEDIA_BASE_URL", "Simulator"]

DEFAULT_BASE_URL = "https://api.luma-simulator.invalid"
DEFAULT_MEDIA_BASE_URL = "https://media.luma-simulator.invalid"
MAX_BODY_BYTES = 32 * 1024 * 1024

HeadersLike = Mapping[str, str] | Iterable[tuple[str, str]]
FaultsLike = FaultPlan | str | Sequence[FaultPlan | str] | None
VariantsLike = Variants | str | None


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


def _variants(value: VariantsLike) -> Variants:
    if value is None:
        return Variants()
    if isinstance(value, str):
        return Variants.parse(value)
    if not isinstance(value, Variants):
        raise TypeError(f"variants must be a Variants or its text, got {value!r}")
    return value


def _token_errors(value: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(value or {})
    for token, code in out.items():
        if not token or code not in ERRORS:
            raise ValueError(
                f"token_errors maps non-empty tokens to codes of {', '.join(ERRORS)}; got {code!r}"
            )
    return out


class Simulator(SubmitPart):
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
    generation_seconds : (float, float)
        How long a generation takes, drawn uniformly per task (default 120 to 160 s).
    faults : FaultPlan, str or sequence of them, optional
        Injected faults (see :class:`FaultPlan` for the text syntax).
    base_url, media_base_url : str
        The API's base URL, and the base of the media URLs put in responses. A loopback server
        replaces both when it starts.
    allow_remote_fetch : bool
        ``False`` (default): callbacks and keyframe fetches reach only loopback addresses
        (127.0.0.0/8, ``::1``, names resolving to nothing else), checked before any connection
        and again on every redirect; any other ``callback_url`` / ``start_image_url`` /
        ``end_image_url`` is refused with 400 ``bad_request`` in one fixed sentence. ``True``:
        any http(s) address. This holds whatever fetcher or transport is plugged in below.
    image_fetcher : callable, optional
        ``fetch(url) -> bytes`` for http(s) keyframes the address policy allowed (default: a
        guarded httpx GET, 5 s timeout, redirects re-checked hop by hop).
    callback_transport : httpx.BaseTransport, optional
        Transport for callback POSTs (tests capture them); default real HTTP. It only sees
        requests the address policy allowed, sent to the checked address.
    variants : Variants or str, optional
        The shapes of the answers, among those docs/api.md lists (see :class:`Variants`): error
        envelopes without ``success`` by default, a queued record's ``response`` missing or
        ``null``, the acknowledgement's keys, state words...
    token_errors : mapping of str to str, optional
        ``{token: code}``: requests with that bearer token are answered with that error code of
        the error table of docs/api.md (``token_mismatched`` 400, ``token_expired`` 401,
        ``disabled`` 400, ``used_up`` 403...), its status and message.
    video_size : {"compact", "service"} or (int, int) or str
        Clip sizes: ``compact`` (default, ~83 kilopixels, fast), ``service`` (the real
        service's: 1360x752 text-only, 1552x656 with a keyframe or extend, for 16:9), or one
        fixed ``(width, height)`` / ``"WxH"``. The reported ``video_width`` /
        ``video_height`` are always those of the file served.
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
        generation_seconds: tuple[float, float] = GENERATION_SECONDS,
        faults: FaultsLike = None,
        base_url: str = DEFAULT_BASE_URL,
        media_base_url: str = DEFAULT_MEDIA_BASE_URL,
        allow_remote_fetch: bool = False,
        image_fetcher: ImageFetcher | None = None,
        callback_transport: httpx.BaseTransport | None = None,
        variants: VariantsLike = None,
        token_errors: Mapping[str, str] | None = None,
        video_size: VideoSize = "compact",
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
        low, high = (float(x) for x in generation_seconds)
        if not 6.0 < low <= high < 7 * 24 * 3600:
            raise ValueError("generation_seconds must be (low, high) with 6 < low <= high")
        self.generation_seconds = (low, high)
        self.fault_plans = _faults_tuple(faults)
        self._faults = FaultInjector(self.fault_plans, seed)
        if isinstance(rate_limit, str):
            rate_limit = parse_rate_limit(rate_limit)
        self._limiter = RateLimiter(*rate_limit, self.clock) if rate_limit else None
        self.address_policy = AddressPolicy(allow_remote=bool(allow_remote_fetch))
        self._fetch = image_fetcher or guarded_image_fetcher(self.address_policy)
        self.variants = _variants(variants)
        self.token_errors: Mapping[str, str] = MappingProxyType(_token_errors(token_errors))
        self.video_size = parse_video_size(video_size)
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
            policy=self.address_policy,
            retry_delays=callback_retry_delays,
        )
        self._closed = threading.Event()
        self._dims: dict[tuple[str, bool], tuple[int, int]] = {}

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

    def state(self, task_id: str) -> str:
        """The state of a task now (``queued``, ``pending``, ``processing``, ``completed``...)."""
        return self._task(task_id).state_at(self.clock.now())

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
            retry_after = {"retry-after": str(math.ceil(decision.retry_after))}
            response = coded("too_many_requests", headers=retry_after).response(
                trace_id, self.variants
            )
            applied.append("429")
        elif decision.error_code is not None:
            response = coded(decision.error_code).response(trace_id, self.variants)
            applied.append(f"error_{decision.error_code}")
        else:
            try:
                response = self._dispatch(method, path, headers, body, endpoint, trace_id)
            except Rejection as rejection:
                response = rejection.response(trace_id, self.variants)
            if decision.drop_after:
                return DROP, ("drop_after",)
            if decision.malformed is not None and 200 <= response.status < 300:
                response = self._malformed(response, decision.malformed)
                applied.append(f"malformed_{decision.malformed}")
        if response.outcome == "answer" and decision.delay:
            response = response.with_delay(decision.delay)
            applied.append("slow")
        return response, tuple(applied)

    def _server_error(self, status: int, trace_id: str) -> SimResponse:
        if status == 502:
            return html_page(502)
        code = "busy" if status == 503 else "api_error"
        return coded(code).response(trace_id, self.variants)

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
            raise coded("no_api", f"No API found for {method} {short(path)}.")
        if endpoint == "media":
            self._stats.count("media_requests")
            return self._media(method, path, headers)
        token = _bearer(headers.get("authorization"))
        if not token:
            raise coded("no_token")
        if token in self.token_errors:
            raise coded(self.token_errors[token])
        if self.accepted_tokens is not None and token not in self.accepted_tokens:
            raise coded("invalid_token")
        if len(body) > MAX_BODY_BYTES:
            raise coded("request_too_large")
        if self._limiter is not None:
            # the limiter keys on a digest: the token itself is never kept
            digest = hashlib.sha256(token.encode()).hexdigest()[:16]
            retry_after = self._limiter.check(f"{digest}:{endpoint}")
            if retry_after is not None:
                raise coded("too_many_requests", headers={"retry-after": str(retry_after)})
        if endpoint == "videos":
            self._stats.count("submits")
            return self._submit(body, trace_id)
        return self._query(body)
