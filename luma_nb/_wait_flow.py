"""Reading task records, and waiting on them: retrieve, retrieve in batches, poll.

Reads are retried with capped, jittered backoff honouring ``Retry-After``; a wait polls with
the adaptive (or fixed) schedule of :mod:`luma_nb._schedule` until every task is terminal, its
own deadline passes, or its ``stop`` signal is set.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from luma_nb import _wire
from luma_nb._flow_base import FlowBase
from luma_nb._flow_steps import (
    HTTPX_ERRORS,
    LOCAL_ERRORS,
    Flow,
    OnUpdate,
    Send,
    Sleep,
    StopSignal,
    stopped,
)
from luma_nb._schedule import duration_seen, next_interval
from luma_nb.errors import (
    LumaError,
    RateLimitError,
    ServerError,
    TransportError,
    UnexpectedResponseError,
    WaitCancelledError,
    WaitTimeoutError,
)
from luma_nb.models import Task


class WaitFlow(FlowBase):
    """The read and wait flows of :class:`luma_nb._flows.Core`."""

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
            except LOCAL_ERRORS as exc:
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
            if stopped(stop):
                raise error
            yield Sleep(delay, stop)
            if stopped(stop):
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
            if stopped(stop):
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
            if stopped(stop):
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
