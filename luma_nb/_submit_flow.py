"""The paid submit, as a flow: ``POST /luma/videos`` once, and never blindly again.

The submit is retried only when it surely did not reach the server (the connection was never
made, or an explicit 429 refusal). Once it may have been billed, any failure becomes a
:class:`~luma_nb.errors.SubmitOutcomeUnknownError` that tells the user to check before
resubmitting.
"""

from __future__ import annotations

import httpx

from luma_nb import _wire
from luma_nb._flow_base import FlowBase
from luma_nb._flow_steps import HTTPX_ERRORS, LOCAL_ERRORS, NOT_SENT, Flow, Send, Sleep
from luma_nb.errors import (
    APIError,
    LumaError,
    SubmitOutcomeUnknownError,
    TransportError,
    UnexpectedResponseError,
    proves_nothing_billed,
)
from luma_nb.models import Task, VideoRequest

#: The API's own default for the sync hold, used to size the HTTP read timeout.
API_DEFAULT_TIMEOUT = 300.0
#: How much longer than the API ``timeout`` a sync call's HTTP read timeout is.
SYNC_READ_MARGIN = 30.0


class SubmitFlow(FlowBase):
    """The submit flow of :class:`luma_nb._flows.Core`."""

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
            except NOT_SENT as exc:
                if attempt < max_retries:
                    yield Sleep(self.backoff(attempt))
                    attempt += 1
                    continue
                raise self._transport_error(exc, "submitting the video request") from None
            except LOCAL_ERRORS as exc:
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
