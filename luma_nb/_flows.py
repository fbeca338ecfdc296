"""The protocol core: every operation written once, as a generator of I/O steps.

A flow yields :class:`Send` (make this request; the shell answers with the
``httpx.Response`` or throws the ``httpx`` transport error into the flow), :class:`Fetch`
(stream this URL into a sink) and :class:`Sleep` (wait). ``Client`` drives flows with
blocking httpx and ``time.sleep``; ``AsyncClient`` with ``await``. The policies live here,
once: the paid submit is never retried after it may have reached the server, reads are
retried with capped, jittered backoff honouring ``Retry-After``, polling grows to a cap and
stops at its own deadline, or as soon as its ``stop`` signal is set (:meth:`Core.wait`).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Protocol, TypeVar

import httpx

from luma_nb import _wire
from luma_nb._media_cache import MediaCache
from luma_nb._schedule import DurationModel, duration_seen, next_interval
from luma_nb.config import RetryPolicy, Settings, origin_of
from luma_nb.errors import (
    APIError,
    LumaError,
    RateLimitError,
    ServerError,
    SubmitOutcomeUnknownError,
    TransportError,
    UnexpectedResponseError,
    WaitCancelledError,
    WaitTimeoutError,
    proves_nothing_billed,
)
from luma_nb.models import Task, VideoRequest

T = TypeVar("T")

#: The API's own default for the sync hold, used to size the HTTP read timeout.
API_DEFAULT_TIMEOUT = 300.0
#: How much longer than the API ``timeout`` a sync call's HTTP read timeout is.
SYNC_READ_MARGIN = 30.0
#: How long past a wait's deadline its last request may take (the last look at the task is
#: made at the deadline, so a wait ends at most this much after ``max_wait``).
DEADLINE_GRACE = 1.0


@dataclass(frozen=True)
class Send:
    """Make one JSON request. ``authorized`` adds the bearer token (API host only).

    ``deadline`` (on the core's clock) bounds the whole request, answer included: a driver
    stops reading at it and throws ``httpx.ReadTimeout`` into the flow. The driver reads at
    most :data:`~luma_nb.config.MAX_ANSWER_BYTES` (+1) of the answer. ``paid`` marks the
    submit, whose cancellation in flight is reported as an unknown outcome.
    """

    method: str
    url: str
    json: Mapping[str, Any]
    authorized: bool = True
    read_timeout: float | None = None
    deadline: float | None = None
    paid: bool = False


@dataclass(frozen=True)
class Fetch:
    """GET ``url``; on 2xx stream at most ``max_bytes`` + 1 bytes of the body into ``sink``
    (the flow refuses anything past ``max_bytes``), else read the body into the response."""

    url: str
    sink: BinaryIO
    authorized: bool = False
    max_bytes: int = 1 << 30


class StopSignal(Protocol):
    """Anything that says "stop waiting": a ``threading.Event`` or an ``asyncio.Event``."""

    def is_set(self) -> bool: ...


@dataclass(frozen=True)
class Sleep:
    """Wait this many seconds; with ``stop``, end early once it is set (drivers check it
    during the sleep: they wait on the event, or sleep in short slices)."""

    seconds: float
    stop: StopSignal | None = None


Step = Send | Fetch | Sleep
Flow = Generator[Step, Any, T]
OnUpdate = Callable[[Task], object]

# Never sent a byte: safe to retry even the paid submit.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Our own mistakes: retrying cannot help.
_LOCAL = (httpx.LocalProtocolError, httpx.UnsupportedProtocol, httpx.InvalidURL)
#: What drivers throw into a flow: every httpx failure of a request (transport errors, an
#: undecodable body, too many redirects, a URL httpx refuses).
HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL)


class Core:
    """Builds requests, reads answers and owns the retry and polling policies."""

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float],
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.rng = rng or random.Random()
        self._sent: dict[str, VideoRequest] = {}
        #: What this client has seen of how long generations take (shapes its polling).
        self.durations = DurationModel()
        # When (on ``clock``) each task this client submitted was accepted.
        self._submitted_at: dict[str, float] = {}

    # ------------------------------------------------------------------ helpers

    def url(self, path: str) -> str:
        """Absolute URL of an API path."""
        return self.settings.base_url + path

    def is_api_url(self, url: str) -> bool:
        """True when ``url`` is on the API's origin: only then may the token go with it."""
        return origin_of(url) == self.settings.api_origin

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds before retry number ``attempt`` (0-based)."""
        policy: RetryPolicy = self.settings.retry
        delay = min(policy.cap, policy.base * 2**attempt)
        delay *= 1 - policy.jitter * self.rng.random()
        if retry_after is not None:
            delay = max(delay, min(retry_after, policy.max_retry_after))
        return float(delay)

    def _error(self, response: httpx.Response) -> APIError:
        return _wire.error_from_answer(
            response.status_code,
            response.content,
            response.headers,
            secret=self.settings.token,
        )

    def _decode(self, response: httpx.Response) -> dict[str, Any]:
        return _wire.decode_object(
            response.status_code, response.content, secret=self.settings.token
        )

    def _transport_error(self, exc: Exception, what: str) -> TransportError:
        return TransportError(
            f"{what} failed: {type(exc).__name__}: {self.settings.token.scrub(str(exc))}"
        )

    def _request_deadline(self, budget: float, deadline: float | None = None) -> float:
        """When one request must be over: ``budget`` seconds from now, and no later than a
        wait's ``deadline`` (plus :data:`DEADLINE_GRACE`)."""
        own = self.clock() + budget
        return own if deadline is None else min(own, deadline + DEADLINE_GRACE)

    # ------------------------------------------------------------------ submit

    def submit(self, request: VideoRequest, *, sync: bool = False) -> Flow[Task]:
        """POST /luma/videos once. Retried only when it surely did not reach the server."""
        body = request.to_body(async_mode=not sync)
        read_timeout = None
        if sync:
            read_timeout = (request.timeout or API_DEFAULT_TIMEOUT) + SYNC_READ_MARGIN
        budget = (read_timeout or 0.0) + self.settings.timeout
        max_retries = self.settings.retry.max_retries
        attempt = 0
        while True:
            step = Send(
                "POST",
                self.url(_wire.VIDEOS_PATH),
                body,
                read_timeout=read_timeout,
                deadline=self._request_deadline(budget),
                paid=True,
            )
            try:
                response = yield step
            except _NOT_SENT as exc:
                if attempt < max_retries:
                    yield Sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                raise self._transport_error(exc, "submitting the video request") from None
            except _LOCAL as exc:
                raise self._transport_error(exc, "submitting the video request") from None
            except HTTPX_ERRORS as exc:
                # Read timeout, drop, an undecodable answer: the POST may have been billed.
                cause = self._transport_error(exc, "submitting the video request")
                raise _unknown_outcome(cause) from None
            status = response.status_code
            if status == 429 and attempt < max_retries:
                # An explicit refusal: nothing was processed, so a retry cannot bill twice.
                retry_after = _wire.parse_retry_after(response.headers)
                yield Sleep(self.backoff(attempt, retry_after))
                attempt += 1
                continue
            return self._read_submit_answer(response, request, sync)

    def _read_submit_answer(
        self, response: httpx.Response, request: VideoRequest, sync: bool
    ) -> Task:
        status = response.status_code
        if status >= 500:
            failed = self._failed_sync_task(response, request) if sync else None
            if failed is not None:
                return failed
            error = self._error(response)
            raise _unknown_outcome(error) from error
        if not 200 <= status < 300:
            raise _unless_refused(self._error(response))
        try:
            body = self._decode(response)
        except UnexpectedResponseError as exc:
            raise _unknown_outcome(exc) from exc
        if _wire.is_error_envelope(body):
            # A 2xx that carries an error: only a definite refusal proves nothing was billed.
            raise _unless_refused(self._error(response))
        backend = self.settings.backend
        if sync:
            task = Task.from_sync_response(body, sent=request, backend=backend)
            if not task.id:
                raise _unknown_outcome(
                    UnexpectedResponseError(
                        "the sync answer carries no task_id", status_code=status
                    )
                )
            self._sent[task.id] = request
            return task
        task_id, trace_id = _wire.parse_ack(body)
        if task_id is None:
            raise _unknown_outcome(
                UnexpectedResponseError(
                    "the API accepted the request but sent no task_id: "
                    f"{_wire.snippet(response.content, secret=self.settings.token)!r}",
                    status_code=status,
                )
            )
        self._sent[task_id] = request
        self._submitted_at[task_id] = self.clock()
        return Task(
            id=task_id, trace_id=trace_id, sent=request, backend=backend, request=request.to_body()
        )

    def _failed_sync_task(self, response: httpx.Response, request: VideoRequest) -> Task | None:
        """A sync 5xx that names its task and says it failed is an answer, not a mystery."""
        try:
            body = self._decode(response)
        except UnexpectedResponseError:
            return None
        if not body.get("task_id") or body.get("success") is not False:
            return None
        task = Task.from_sync_response(body, sent=request, backend=self.settings.backend)
        if not task.failed:
            return None
        self._sent[task.id] = request
        return task

    # ------------------------------------------------------------------ reads

    def _query(
        self,
        body: Mapping[str, Any],
        deadline: float | None = None,
        stop: StopSignal | None = None,
    ) -> Flow[dict[str, Any]]:
        """POST /luma/tasks with retries on network errors, 429, 5xx and garbled answers.

        A retry that would sleep past ``deadline`` (a wait's own) is not made: the error is
        raised at once so the wait can stop on time. Once ``stop`` is set (a wait's own, also
        during the backoff) no further retry is made either.
        """
        max_retries = self.settings.retry.max_retries
        attempt = 0
        while True:
            retry_after: float | None = None
            step = Send(
                "POST",
                self.url(_wire.TASKS_PATH),
                body,
                deadline=self._request_deadline(self.settings.timeout, deadline),
            )
            try:
                response = yield step
            except _LOCAL as exc:
                raise self._transport_error(exc, "querying the task") from None
            except HTTPX_ERRORS as exc:
                error: LumaError = self._transport_error(exc, "querying the task")
            else:
                status = response.status_code
                if 200 <= status < 300:
                    try:
                        answer = self._decode(response)
                    except UnexpectedResponseError as exc:
                        error = exc
                    else:
                        if _wire.is_error_envelope(answer):
                            raise self._error(response)
                        return answer
                else:
                    error = self._error(response)
                    if not isinstance(error, (RateLimitError, ServerError)):
                        raise error
                    retry_after = _wire.parse_retry_after(response.headers)
            delay = self.backoff(attempt, retry_after)
            if attempt >= max_retries or (deadline is not None and self.clock() + delay > deadline):
                raise error
            if _stopped(stop):
                raise error
            yield Sleep(delay, stop)
            if _stopped(stop):
                raise error
            attempt += 1

    def get_task(
        self, task_id: str, deadline: float | None = None, stop: StopSignal | None = None
    ) -> Flow[Task]:
        """Retrieve one task record."""
        answer = yield from self._query(_wire.retrieve_body(task_id), deadline, stop)
        return self._task(answer, task_id)

    def get_tasks(
        self, task_ids: list[str], deadline: float | None = None, stop: StopSignal | None = None
    ) -> Flow[list[Task]]:
        """Retrieve many records, 50 ids per request; ids the server did not return are left out."""
        found: list[Task] = []
        for start in range(0, len(task_ids), _wire.BATCH_LIMIT):
            chunk = task_ids[start : start + _wire.BATCH_LIMIT]
            answer = yield from self._query(_wire.retrieve_batch_body(chunk), deadline, stop)
            items = answer.get("items")
            if not isinstance(items, list):
                data = answer.get("data")
                items = data if isinstance(data, list) else []
            for item in items:
                if isinstance(item, Mapping):
                    task = self._task(item, None)
                    if task.id:
                        found.append(task)
        return found

    def _task(self, record: Mapping[str, Any], task_id: str | None) -> Task:
        """Parse a record, attaching what this client sent for it (if it submitted it)."""
        record_id = record.get("id")
        if not (isinstance(record_id, str) and record_id) and task_id:
            record = {**record, "id": task_id}
            record_id = task_id
        sent = self._sent.get(record_id) if isinstance(record_id, str) else None
        return Task.from_record(record, sent=sent, backend=self.settings.backend)

    # ------------------------------------------------------------------ waiting

    def wait(
        self,
        task_ids: list[str],
        *,
        max_wait: float | None,
        on_update: OnUpdate | None,
        known: list[Task] | None = None,
        stop: StopSignal | None = None,
    ) -> Flow[list[Task]]:
        """Poll until every task is terminal or the deadline passes.

        One request per round per 50 tasks. Transient errors (network, 429, 5xx) are
        tolerated until the deadline; other errors end the wait at once. ``known`` are
        records already seen (and reported), so ``on_update`` hears only of changes.

        ``stop`` is checked before every round (so a wait stopped before it starts sends
        nothing) and after every round, and each sleep carries it, so a driver wakes as soon as
        it is set. Once it is seen the wait raises :class:`WaitCancelledError` with the
        unfinished ids. A request already in flight is not interrupted (it is bounded by the
        HTTP timeout); a round that finds every task terminal returns them.
        """
        ids = list(dict.fromkeys(task_ids))
        poll = self.settings.poll
        budget = poll.max_wait if max_wait is None else max_wait
        started = self.clock()
        deadline = started + budget
        latest: dict[str, Task] = {task.id: task for task in known or ()}
        backoff = poll.initial
        pending = ids
        # When each task was last seen unfinished: a finish between two looks is dated at
        # their midpoint, which teaches the duration model.
        last_look = {i: self._submitted_at.get(i, started) for i in ids}
        learned: list[float] = []

        def cancelled() -> WaitCancelledError:
            last = {i: latest[i] for i in pending if i in latest}
            return WaitCancelledError(pending, waited=self.clock() - started, last=last)

        while True:
            if _stopped(stop):
                raise cancelled()
            round_started = self.clock()
            try:
                if len(pending) == 1:
                    fresh = [(yield from self.get_task(pending[0], deadline, stop))]
                else:
                    fresh = yield from self.get_tasks(pending, deadline, stop)
            except (TransportError, ServerError, RateLimitError, UnexpectedResponseError):
                fresh = []
            for task in fresh:
                before = latest.get(task.id)
                latest[task.id] = task
                if task.succeeded and task.id in self._submitted_at and task.id in last_look:
                    learned.append(
                        duration_seen(
                            task, self._submitted_at[task.id], last_look[task.id], round_started
                        )
                    )
                if on_update is not None and (
                    before is None
                    or (before.state, before.raw_state) != (task.state, task.raw_state)
                ):
                    on_update(task)
            pending = [i for i in pending if i not in latest or not latest[i].is_terminal]
            if not pending:
                # Learned only now: a batch's first finishers are its fastest, and would
                # narrow the window for the rest of the same batch.
                self.durations.observe_all(learned)
                return [latest[i] for i in ids]
            for i in pending:
                last_look[i] = round_started
            if _stopped(stop):
                raise cancelled()
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise WaitTimeoutError(
                    pending,
                    waited=self.clock() - started,
                    last={i: latest[i] for i in pending if i in latest},
                )
            if poll.adaptive:
                # One round serves every pending task: the soonest look any of them wants.
                interval = min(
                    next_interval(
                        poll, self.durations, round_started - self._submitted_at.get(i, started)
                    )
                    for i in pending
                )
            else:
                interval, backoff = backoff, min(backoff * poll.factor, poll.maximum)
            # Rounds start `interval` apart (start to start): a slow answer, or several batch
            # requests, must not stretch the cadence, nor how late a finished task is seen.
            spent = max(0.0, self.clock() - round_started)
            yield Sleep(max(0.0, min(interval - spent, remaining)), stop)

    def complete(
        self,
        request: VideoRequest,
        *,
        sync: bool,
        max_wait: float | None,
        on_update: OnUpdate | None,
    ) -> Flow[Task]:
        """Submit, report the new task, and wait until it is terminal (generate/extend)."""
        task = yield from self.submit(request, sync=sync)
        if on_update is not None:
            on_update(task)
        if task.is_terminal:
            return task
        [task] = yield from self.wait(
            [task.id], max_wait=max_wait, on_update=on_update, known=[task]
        )
        return task

    # ------------------------------------------------------------------ media

    def download(self, url: str, cache: MediaCache, path: str | Path | None) -> Flow[Path]:
        """Download ``url`` through the content-addressed cache; a hit costs no request."""
        cached = cache.lookup(url)
        if cached is None:
            temp = cache.open_temp()
            try:
                response = yield from self.fetch(url, temp)
                cached = cache.commit(temp, url, response.headers.get("content-type"))
            except BaseException:
                cache.discard(temp)
                raise
        return cache.place(cached, path)

    def fetch(self, url: str, sink: BinaryIO) -> Flow[httpx.Response]:
        """Stream a media URL into ``sink``; the token goes only to the API's own origin.

        A body larger than ``settings.max_download_bytes`` stops there with an
        :class:`UnexpectedResponseError` (the caller discards what was written).
        """
        authorized = self.is_api_url(url)
        cap = self.settings.max_download_bytes
        max_retries = self.settings.retry.max_retries
        attempt = 0
        while True:
            sink.seek(0)
            sink.truncate()
            try:
                response = yield Fetch(url, sink, authorized, cap)
            except _LOCAL as exc:
                raise self._transport_error(exc, "downloading the video") from None
            except HTTPX_ERRORS as exc:
                if attempt >= max_retries:
                    raise self._transport_error(exc, "downloading the video") from None
            else:
                if 200 <= response.status_code < 300:
                    if sink.tell() > cap:
                        raise UnexpectedResponseError(
                            f"the download of {url!r} grew past the cap of {cap:,} bytes and "
                            "was stopped; raise it with Client(max_download_bytes=...) or "
                            "LUMA_NB_MAX_DOWNLOAD_BYTES if the file is really that large",
                            status_code=response.status_code,
                        )
                    fetched: httpx.Response = response
                    return fetched
                error = self._error(response)
                transient = response.status_code >= 500 or response.status_code == 429
                if not transient or attempt >= max_retries:
                    raise error
            yield Sleep(self.backoff(attempt))
            attempt += 1


def _stopped(stop: StopSignal | None) -> bool:
    return stop is not None and bool(stop.is_set())


def _unless_refused(error: APIError) -> LumaError:
    """The error itself when it proves nothing was billed, else an unknown outcome."""
    return error if proves_nothing_billed(error) else _unknown_outcome(error)


def unknown_outcome_of_cancel() -> SubmitOutcomeUnknownError:
    """What a submit cancelled after its POST may have left the server becomes."""
    return _unknown_outcome(
        TransportError("the submit was cancelled while its request was in flight")
    )


def _unknown_outcome(cause: LumaError) -> SubmitOutcomeUnknownError:
    status = getattr(cause, "status_code", None)
    code = getattr(cause, "code", None)
    trace_id = getattr(cause, "trace_id", None)
    text = (
        "the submit may or may not have reached the server, so it was not retried (a retry "
        "could bill twice). Check your task list (or luma_nb's session log) before you "
        f"resubmit. Cause: {cause}"
    )
    return SubmitOutcomeUnknownError(
        text, cause=cause, status_code=status, code=code, trace_id=trace_id
    )
