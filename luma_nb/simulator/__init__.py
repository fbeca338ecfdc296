"""A faithful simulator of the Ace Data Cloud Luma video API, with real playable clips.

One engine, two faces::

    sim = Simulator(seed=1)                                    # the engine
    httpx.Client(transport=sim.transport(), base_url=sim.base_url)   # in-process (sync)
    httpx.AsyncClient(transport=sim.transport(), base_url=sim.base_url)  # in-process (async)
    with SimulatorServer(sim) as server: ...                   # loopback HTTP, server.url
    $ python -m luma_nb.simulator --port 8123 --speed 60       # from a shell (see --help)

What it answers (the API as described in ``docs/api.md``): ``POST /luma/videos`` (``generate``
and ``extend``; sync mode holds until the video is ready or answers 504 ``timeout`` after
``timeout`` simulated seconds; ``async`` / ``callback_url`` answer ``{"task_id", "trace_id"}``
at once by default), ``POST /luma/tasks`` (``retrieve``, ``retrieve_batch``), and
``GET``/``HEAD`` of the media URLs ``{media_base_url}/media/luma/{task_id}.mp4`` and ``.jpg``
(no token; ``Range`` answered with 206). Clips are rendered on the first media request and
cached.

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
                              malformed answers, stuck and failing tasks, any error code of
                              the error table of docs/api.md; text syntax below
``variants`` [--variant]      :class:`Variants`: which of the answer shapes docs/api.md lists
                              (error envelopes with or without ``success``, a bare string
                              ``error``, a queued ``response`` missing / ``null``, the
                              acknowledgement's keys and status, state words...)
``token_errors``              ``{token: code}``: that token is answered with that error,
  [--token-error T=CODE]      e.g. ``token_mismatched`` (400), ``token_expired`` (401),
                              ``disabled`` (400)
``video_size`` [--video-size] ``compact`` (default, ~83 kilopixels), ``service`` (1360x752
                              text-only, 1552x656 with a keyframe or extend) or ``(w, h)``;
                              the reported sizes are always those of the served file
``allow_remote_fetch``        ``False`` (default): callbacks and keyframe fetches reach only
  [--allow-remote-fetch]      loopback addresses (checked before connecting, pinned, every
                              redirect re-checked); others are refused in one fixed sentence
``image_fetcher``             how http(s) keyframes are fetched at submit time (it only sees
                              URLs the address policy allowed)
``callback_transport``        an httpx transport for callback POSTs (tests capture them)
============================  =============================================================

Fault text syntax (``--faults``; ``;`` separates plans)::

    5xx=RATE[:BURST[:500/502/503]]   429=RATE[:BURST[:RETRY_AFTER]]   drop=RATE
    drop_after=RATE   refuse=RATE   slow=RATE[:SECONDS]   malformed=RATE   stuck=RATE
    fail=RATE[:CODE]   error=RATE:CODE   on=videos+tasks+media

Variant text syntax (``--variant``): ``error_success=true,queued=null,ack=task_id`` (keys:
``error_success error_string ack ack_status success_trace_id queued running_state
failed_state top_level_state batch_count``).

Errors: the envelope is ``{"error": {"code", "message"}, "trace_id"}`` as in the provider's
published examples (``variants`` adds ``success: false`` or makes ``error`` a string), with the
provider's wording where it publishes one ("prompt is required", "The specified token is
invalid or wrong.", ...). Any malformed body (not UTF-8, not JSON, ``NaN``, a lone surrogate,
nesting deeper than 32, a wrong type in any field, a ``timeout`` outside (0, 3600]) is a 400
``bad_request``, a body over 32 MiB a 413 ``request_too_large``: never a 500.

The CLI refuses ``--allow-remote`` (binding a non-loopback address) without ``--token``.

Choices where the provider leaves the API open (the "Open questions" of ``docs/api.md``):

1. The async acknowledgement is HTTP 200 ``{"task_id": ..., "trace_id": ...}`` (the
   ``ack`` and ``ack_status`` variants give the other shapes, 202 included).
2. After a sync 504 the task goes on, and it was billed; the 504 body has no ``task_id``.
3. Callbacks are POSTed for failed tasks too (the failure body); up to 4 attempts, backoff
   1, 2, 4 wall seconds; any 2xx counts; no signature; redirects are not followed. A
   ``callback_url`` the address policy refuses is a 400 ``bad_request`` at submit time.
4. ``retrieve`` of an unknown id answers 404 ``not_found``; ``retrieve_batch`` omits unknown
   ids and ``count`` is the number of items returned.
5. ``state`` appears only inside ``response``.
6. Unknown body keys are ignored (and kept in the record's ``request``); aspect ratios outside
   the seven are 400 ``bad_request``; no prompt length limit; ``timeout`` in (0, 3600].
7. An ``extend`` keeps its parent's aspect ratio; ``loop`` and keyframes apply to the new part.
8. ``enhancement`` (default true) rewrites the echoed prompt deterministically (camera, light,
   style). Clips are captioned with the prompt as *sent*, whatever the option, so a blind study
   cannot be decoded from the text; the echoed prompt's words act on the picture instead: camera
   words move the camera (push-in zooms, pan slides, orbit turns, aerial rises, static holds,
   handheld shakes), light and style words grade the colours (golden hour warm, neon magenta
   and cyan, overcast grey...). A prompt's own such words act the same way; the first word of
   each kind wins.
9. Rate limits are off unless configured; media URLs never expire. A sync request of a task
   that fails answers HTTP 500 with the failure body. Keyframes that cannot be fetched or
   decoded fail the submit with 400 ``bad_request`` naming the field and the URL, in one
   sentence whatever the target did.
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
from ._variants import Variants

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
    "Variants",
    "VirtualClock",
    "enhance_prompt",
    "parse_faults",
    "serve",
]
