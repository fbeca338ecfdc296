"""The protocol core: every operation written once, as a generator of I/O steps.

A flow yields :class:`~luma_nb._flow_steps.Send` (make this request; the shell answers with
the ``httpx.Response`` or throws the ``httpx`` transport error into the flow),
:class:`~luma_nb._flow_steps.Fetch` (stream this URL into a sink) and
:class:`~luma_nb._flow_steps.Sleep` (wait). ``Client`` drives flows with blocking httpx and
``time.sleep``; ``AsyncClient`` with ``await``. The policies live here, once: the paid submit
is never retried after it may have reached the server, reads are retried with capped, jittered
backoff honouring ``Retry-After``, polling grows to a cap and stops at its own deadline, or as
soon as its ``stop`` signal is set (:meth:`Core.wait`).
"""

from __future__ import annotations

from luma_nb._download_flow import DownloadFlow
from luma_nb._flow_steps import Flow, OnUpdate
from luma_nb._submit_flow import SubmitFlow
from luma_nb._wait_flow import WaitFlow
from luma_nb.models import Task, VideoRequest


class Core(SubmitFlow, WaitFlow, DownloadFlow):
    """Builds requests, reads answers and owns the retry and polling policies.

    Each flow is written in its own module: the submit (:mod:`luma_nb._submit_flow`), reads
    and waits (:mod:`luma_nb._wait_flow`), downloads (:mod:`luma_nb._download_flow`), over the
    shared state of :class:`~luma_nb._flow_base.FlowBase`; the steps they yield are
    :mod:`luma_nb._flow_steps`.
    """

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
