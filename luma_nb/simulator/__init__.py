"""A faithful simulator of the Ace Data Cloud Luma video API, with real playable clips.

One engine, two faces::

    sim = Simulator(seed=1)                                    # the engine
    httpx.Client(transport=sim.transport(), base_url=sim.base_url)   # in-process (sync)
    httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url)  # in-process (async)
    with SimulatorServer(sim) as server: ...                   # loopback HTTP, server.url
    $ python -m luma_nb.simulator --port 8123 --speed 60       # from a shell (see --help)

What it answers (``spec/luma-api.md``): ``POST /luma/videos`` (``generate`` and ``extend``;
sync mode holds until the video is ready or answers 504 ``timeout`` after ``timeout`` simulated
seconds; ``async`` / ``callback_url`` answer ``{"task_id", "trace_id"}`` at once), ``POST
/luma/tasks`` (``retrieve``, ``retrieve_batch``), and ``GET``/``HEAD`` of the media URLs
``{media_base_url}/media/luma/{task_id}.mp4`` and ``.jpg`` (no token; ``Range`` answered with
206). Clips are rendered on the first media request and cached.

Knobs (keyword arguments of :class:`Simulator`; CLI flags in brackets):

============================  =============================================================
``seed`` [--seed]             every id, timeline, task fate and fault derives from it
``clock`` / ``speed``         simulated time: ``ScaledClock(speed)`` by default (speed 60: a
  [--speed]                   ~150 s generation takes ~2.5 s; ``realtime`` = 1); tests pass
                              ``VirtualClock()`` and ``advance()`` it
``accepted_tokens`` [--token] only these bearer tokens (else 401 ``invalid_token``); default:
                              any non-empty token; none at all is 400 ``no_token``
``moderation_words``          prompts with these words: 403 ``forbidden``
``credits`` [--credits]       balance, one credit per accepted submit; then 403 ``used_up``
``rate_limit`` [--rate-limit] ``(n, seconds)`` per token and endpoint: 429 with Retry-After
``task_failure_rate``         chance a task ends ``failed`` (code ``api_error``)
  [--task-failure-rate]
``faults`` [--faults]         :class:`FaultPlan`: 5xx bursts, 429 bursts, dropped/refused
                              connections (before or after the task is created), slow and
                              malformed answers, stuck and failing tasks; text syntax below
``image_fetcher``             how http(s) keyframes are fetched at submit time
``callback_transport``        an httpx transport for callback POSTs (tests capture them)
============================  =============================================================

Fault text syntax (``--faults``; ``;`` separates plans)::

    5xx=RATE[:BURST[:500/502/503]]   429=RATE[:BURST[:RETRY_AFTER]]   drop=RATE
    drop_after=RATE   refuse=RATE   slow=RATE[:SECONDS]   malformed=RATE   stuck=RATE
    fail=RATE[:CODE]   on=videos+tasks+media

Choices where the spec is open (its "Open questions"):

1. The async acknowledgement is HTTP 200 ``{"task_id": ..., "trace_id": ...}``.
2. After a sync 504 the task goes on, and it was billed; the 504 body has no ``task_id``.
3. Callbacks are POSTed for failed tasks too (the failure body); up to 4 attempts, backoff
   1, 2, 4 wall seconds; any 2xx counts; no signature.
4. ``retrieve`` of an unknown id answers 404 ``not_found``; ``retrieve_batch`` omits unknown
   ids and ``count`` is the number of items returned.
5. ``state`` appears only inside ``response``.
6. Unknown body keys are ignored (and kept in the record's ``request``); aspect ratios outside
   the seven are 400 ``bad_request``; no prompt length limit.
7. An ``extend`` keeps its parent's aspect ratio; ``loop`` and keyframes apply to the new part.
8. ``enhancement`` (default true) rewrites the echoed prompt deterministically (camera, light,
   style) and the clip shows the rewritten text.
9. Rate limits are off unless configured; media URLs never expire. A sync request of a task
   that fails answers HTTP 500 with the failure body. Keyframes that cannot be fetched or
   decoded fail the submit with 400 ``bad_request`` naming the field and the URL.
"""

from __future__ import annotations

from ._callback import CallbackDelivery
from ._clock import Clock, RealClock, ScaledClock, VirtualClock
from ._engine import DEFAULT_BASE_URL, DEFAULT_MEDIA_BASE_URL, Simulator
from ._enhance import enhance_prompt
from ._faults import FaultPlan, parse_faults
from ._response import SimResponse
from ._server import SimulatorServer, serve
from ._stats import JournalEntry, SimStats
from ._task import API_ID, Task
from ._transport import SimulatorTransport
from ._validation import ASPECT_RATIOS

__all__ = [
    "API_ID",
    "ASPECT_RATIOS",
    "DEFAULT_BASE_URL",
    "DEFAULT_MEDIA_BASE_URL",
    "CallbackDelivery",
    "Clock",
    "FaultPlan",
    "JournalEntry",
    "RealClock",
    "ScaledClock",
    "SimResponse",
    "SimStats",
    "Simulator",
    "SimulatorServer",
    "SimulatorTransport",
    "Task",
    "VirtualClock",
    "enhance_prompt",
    "parse_faults",
    "serve",
]
