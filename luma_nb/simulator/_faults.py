"""Fault injection: what can go wrong between a client and the service, decided by a seed.

A :class:`FaultPlan` lists rates; a :class:`FaultInjector` turns them into per-request
decisions. Each (plan, endpoint) pair draws from its own seeded random stream, a fixed number of
draws per request, so the same seed and the same sequence of requests to an endpoint give the
same faults, whatever happens on the other endpoints.

Text syntax (``FaultPlan.parse``, the CLI's ``--faults``): comma-separated ``key=value`` items;
several plans are separated by ``;``::

    5xx=RATE[:BURST[:STATUSES]]     500 api_error / 502 HTML / 503 busy; STATUSES like 500/503
    429=RATE[:BURST[:RETRY_AFTER]]  429 too_many_requests with Retry-After (seconds)
    drop=RATE                       close the connection before the request is handled
    drop_after=RATE                 handle it (a submit creates its task), then close unanswered
    refuse=RATE                     refuse the connection; nothing is handled
    slow=RATE[:SECONDS]             answer SECONDS (client seconds, default 2) late
    malformed=RATE                  answer 200 with truncated JSON or an HTML page (after handling)
    stuck=RATE                      a new task stays ``processing`` forever
    fail=RATE[:CODE]                a new task fails with error CODE (default api_error)
    error=RATE:CODE                 answer the error CODE of docs/api.md's table, with its status
                                    and message (token_expired, token_mismatched, disabled...),
                                    before the request is handled
    on=videos+tasks+media           endpoints the request faults apply to (default videos+tasks)

Example: ``5xx=0.1:2,drop=0.05,slow=0.1:2,malformed=0.05,stuck=0.02,fail=0.1,429=0.05``.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Literal

from ._response import ERRORS

__all__ = ["ENDPOINTS", "FaultDecision", "FaultInjector", "FaultPlan", "parse_faults"]

Endpoint = Literal["videos", "tasks", "media"]
ENDPOINTS: tuple[Endpoint, ...] = ("videos", "tasks", "media")
_ERROR_STATUSES = (500, 502, 503)

_RATE_FIELDS = (
    "error_5xx",
    "rate_limit",
    "drop",
    "drop_after",
    "refuse",
    "slow",
    "malformed",
    "error",
)
_TASK_RATE_FIELDS = ("stuck", "fail")


@dataclass(frozen=True)
class FaultPlan:
    """Rates of injected faults (each a probability in [0, 1] per request or per task).

    Parameters
    ----------
    error_5xx : float
        Chance that a request starts a burst of server errors.
    error_5xx_burst : int
        Length of such a burst (that request and the next ``burst - 1`` to the same endpoint).
    error_5xx_statuses : tuple of int
        Statuses drawn from: 500 (JSON ``api_error``), 502 (an HTML gateway page), 503 (``busy``).
    rate_limit : float
        Chance that a request starts a burst of 429 ``too_many_requests``.
    rate_limit_burst : int
        Length of a 429 burst.
    retry_after : float
        ``Retry-After`` seconds sent with an injected 429.
    drop : float
        Chance that the connection closes before the request is handled.
    drop_after : float
        Chance that the request is handled (a submit creates and bills its task) and the
        connection then closes without an answer: the client cannot know the outcome.
    refuse : float
        Chance that the connection is refused before anything is sent.
    slow : float
        Chance that the answer is delayed by ``slow_seconds``.
    slow_seconds : float
        The delay, in client (wall) seconds.
    malformed : float
        Chance that a handled request is answered 200 with truncated JSON or an HTML page.
    stuck : float
        Chance that a new task stays ``processing`` forever.
    fail : float
        Chance that a new task fails.
    fail_code : str
        The error code of such a failure.
    error : float
        Chance that a request is answered with the error ``error_code`` (its status and message
        from docs/api.md's error table) instead of being handled: e.g. ``token_expired`` in the
        middle of a wait.
    error_code : str
        That code; required when ``error`` is set.
    endpoints : tuple of str
        Endpoints the request faults apply to: ``videos`` (submit), ``tasks`` (queries),
        ``media`` (clip and thumbnail downloads). ``stuck`` and ``fail`` apply to every task.
    """

    error_5xx: float = 0.0
    error_5xx_burst: int = 1
    error_5xx_statuses: tuple[int, ...] = _ERROR_STATUSES
    rate_limit: float = 0.0
    rate_limit_burst: int = 1
    retry_after: float = 1.0
    drop: float = 0.0
    drop_after: float = 0.0
    refuse: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0
    malformed: float = 0.0
    stuck: float = 0.0
    fail: float = 0.0
    fail_code: str = "api_error"
    error: float = 0.0
    error_code: str = ""
    endpoints: tuple[str, ...] = ("videos", "tasks")

    def __post_init__(self) -> None:
        for name in (*_RATE_FIELDS, *_TASK_RATE_FIELDS):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"{name} must be a number, got {value!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
        for name in ("error_5xx_burst", "rate_limit_burst"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        for name in ("retry_after", "slow_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} must be a number >= 0, got {value!r}")
        if not self.error_5xx_statuses or any(
            s not in _ERROR_STATUSES for s in self.error_5xx_statuses
        ):
            raise ValueError(f"error_5xx_statuses must be drawn from {_ERROR_STATUSES}")
        unknown = set(self.endpoints) - set(ENDPOINTS)
        if unknown or not self.endpoints:
            raise ValueError(f"endpoints must be a non-empty subset of {ENDPOINTS}")
        if not self.fail_code:
            raise ValueError("fail_code must not be empty")
        if (self.error or self.error_code) and self.error_code not in ERRORS:
            raise ValueError(f"error_code must be one of {', '.join(ERRORS)}")

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Build one plan from the text syntax of the module docstring.

        Raises
        ------
        ValueError
            On an unknown key or a bad value; the message names the item.
        """
        kwargs: dict[str, object] = {}
        for raw in text.split(","):
            item = raw.strip()
            if not item:
                continue
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"fault item {item!r} is not key=value")
            key = key.strip().lower().replace("-", "_")
            parts = [p.strip() for p in value.split(":")]
            try:
                _apply_item(kwargs, key, parts)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"bad fault item {item!r}: {exc}") from None
        try:
            return cls(**kwargs)  # type: ignore[arg-type]
        except (TypeError, ValueError) as exc:
            raise ValueError(f"bad fault plan {text!r}: {exc}") from None

    def to_text(self) -> str:
        """The plan in the text syntax (only what differs from the defaults)."""
        d = FaultPlan()
        out: list[str] = []
        if self.error_5xx:
            statuses = "/".join(str(s) for s in self.error_5xx_statuses)
            out.append(f"5xx={self.error_5xx:g}:{self.error_5xx_burst}:{statuses}")
        if self.rate_limit:
            out.append(f"429={self.rate_limit:g}:{self.rate_limit_burst}:{self.retry_after:g}")
        for name in ("drop", "drop_after", "refuse", "malformed", "stuck"):
            if getattr(self, name):
                out.append(f"{name}={getattr(self, name):g}")
        if self.slow:
            out.append(f"slow={self.slow:g}:{self.slow_seconds:g}")
        if self.fail:
            out.append(f"fail={self.fail:g}:{self.fail_code}")
        if self.error:
            out.append(f"error={self.error:g}:{self.error_code}")
        if self.endpoints != d.endpoints:
            out.append("on=" + "+".join(self.endpoints))
        return ",".join(out)

    def __bool__(self) -> bool:
        return any(getattr(self, n) for n in (*_RATE_FIELDS, *_TASK_RATE_FIELDS))


def _apply_item(kwargs: dict[str, object], key: str, parts: list[str]) -> None:
    def rate() -> float:
        return float(parts[0])

    def at(i: int) -> str | None:
        return parts[i] if len(parts) > i and parts[i] else None

    if key in ("5xx", "error_5xx", "errors"):
        kwargs["error_5xx"] = rate()
        if (b := at(1)) is not None:
            kwargs["error_5xx_burst"] = int(b)
        if (s := at(2)) is not None:
            kwargs["error_5xx_statuses"] = tuple(int(x) for x in s.split("/"))
    elif key in ("429", "rate_limit", "ratelimit"):
        kwargs["rate_limit"] = rate()
        if (b := at(1)) is not None:
            kwargs["rate_limit_burst"] = int(b)
        if (r := at(2)) is not None:
            kwargs["retry_after"] = float(r)
    elif key in ("drop", "drop_after", "refuse", "malformed", "stuck"):
        kwargs[key] = rate()
    elif key == "slow":
        kwargs["slow"] = rate()
        if (s := at(1)) is not None:
            kwargs["slow_seconds"] = float(s)
    elif key == "fail":
        kwargs["fail"] = rate()
        if (c := at(1)) is not None:
            kwargs["fail_code"] = c
    elif key == "error":
        kwargs["error"] = rate()
        code = at(1)
        if code is None:
            raise ValueError("error=RATE:CODE needs a CODE")
        kwargs["error_code"] = code
    elif key in ("on", "endpoints"):
        names = ":".join(parts).replace("|", "+").replace("/", "+")
        kwargs["endpoints"] = tuple(n.strip() for n in names.split("+") if n.strip())
    else:
        raise ValueError(f"unknown fault {key!r}")


def parse_faults(text: str) -> tuple[FaultPlan, ...]:
    """Parse one or more ``;``-separated plans."""
    return tuple(FaultPlan.parse(chunk) for chunk in text.split(";") if chunk.strip())


@dataclass(frozen=True)
class FaultDecision:
    """What happens to one request. Fields not set mean "no fault"."""

    refuse: bool = False
    drop_before: bool = False
    error_status: int | None = None
    rate_limited: bool = False
    retry_after: float = 0.0
    drop_after: bool = False
    malformed: Literal["truncated", "html"] | None = None
    delay: float = 0.0
    error_code: str | None = None


NO_FAULT = FaultDecision()


@dataclass
class _Stream:
    rng: random.Random
    code_rng: random.Random  # its own stream: adding it left the other draws unchanged
    burst_5xx: int = 0
    burst_429: int = 0


@dataclass
class FaultInjector:
    """Draws per-request fault decisions from seeded streams. Thread-safe."""

    plans: tuple[FaultPlan, ...]
    seed: int | str = 0
    _streams: dict[tuple[int, str], _Stream] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def decide(self, endpoint: str | None) -> FaultDecision:
        """Decide the faults of one request to ``endpoint`` (``None``: unknown path, none)."""
        if endpoint is None or not self.plans:
            return NO_FAULT
        acc: dict[str, object] = {}
        with self._lock:
            for index, plan in enumerate(self.plans):
                if endpoint not in plan.endpoints:
                    continue
                self._draw(index, plan, endpoint, acc)
        return FaultDecision(**acc) if acc else NO_FAULT  # type: ignore[arg-type]

    def _draw(self, index: int, plan: FaultPlan, endpoint: str, acc: dict[str, object]) -> None:
        key = (index, endpoint)
        stream = self._streams.get(key)
        if stream is None:
            base = f"{self.seed}:faults:{index}:{endpoint}"
            stream = _Stream(random.Random(base), random.Random(base + ":code"))
            self._streams[key] = stream
        rng = stream.rng
        # a fixed number of draws per request keeps the sequence stable under a seed
        d = [rng.random() for _ in range(9)]
        if d[0] < plan.refuse:
            acc.setdefault("refuse", True)
        if d[1] < plan.drop:
            acc.setdefault("drop_before", True)
        if stream.burst_5xx == 0 and d[2] < plan.error_5xx:
            stream.burst_5xx = plan.error_5xx_burst
        if stream.burst_5xx > 0:
            stream.burst_5xx -= 1
            statuses = plan.error_5xx_statuses
            acc.setdefault("error_status", statuses[int(d[3] * len(statuses)) % len(statuses)])
        if stream.burst_429 == 0 and d[4] < plan.rate_limit:
            stream.burst_429 = plan.rate_limit_burst
        if stream.burst_429 > 0:
            stream.burst_429 -= 1
            if "rate_limited" not in acc:
                acc["rate_limited"] = True
                acc["retry_after"] = plan.retry_after
        if d[5] < plan.drop_after:
            acc.setdefault("drop_after", True)
        if d[6] < plan.malformed:
            acc.setdefault("malformed", "truncated" if d[7] < 0.5 else "html")
        if d[8] < plan.slow and plan.slow_seconds > 0:
            acc.setdefault("delay", float(plan.slow_seconds))
        if stream.code_rng.random() < plan.error:
            acc.setdefault("error_code", plan.error_code)

    def task_fate(self, rng: random.Random) -> tuple[bool, str | None]:
        """Decide whether a new task is stuck and whether (with which code) it fails.

        Draws two numbers per plan from the task's own ``rng``.
        """
        stuck = False
        fail_code: str | None = None
        for plan in self.plans:
            d_stuck, d_fail = rng.random(), rng.random()
            if d_stuck < plan.stuck:
                stuck = True
            if fail_code is None and d_fail < plan.fail:
                fail_code = plan.fail_code
        return stuck, fail_code
