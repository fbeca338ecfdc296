"""What the simulator saw: counters and a request journal (never a token value)."""

from __future__ import annotations

import threading
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

__all__ = ["JournalEntry", "SimStats", "StatsBook"]


@dataclass(frozen=True)
class JournalEntry:
    """One request as the simulator saw it.

    Attributes
    ----------
    at : float
        Simulated epoch seconds when it arrived.
    method, host, path : str
        What was asked, and of which host name (``127.0.0.1:PORT`` vs ``localhost:PORT``).
    authorized : bool
        Whether an ``Authorization`` header was present (its value is never kept).
    status : int or None
        The HTTP status answered (``None`` when the connection was dropped or refused).
    outcome : {"answer", "drop", "refuse"}
        How the request ended.
    faults : tuple of str
        Injected faults that fired.
    """

    at: float
    method: str
    host: str
    path: str
    authorized: bool
    status: int | None
    outcome: str
    faults: tuple[str, ...] = ()


@dataclass(frozen=True)
class SimStats:
    """A snapshot of the simulator's counters.

    Attributes
    ----------
    requests : int
        Every request handled, any path.
    by_path : Mapping of str to int
        Requests by ``"METHOD /path"`` (media paths grouped as ``/media/luma/*``).
    by_status : Mapping of int to int
        Answers by HTTP status (drops and refusals are not answers).
    submits : int
        Requests to ``POST /luma/videos``.
    tasks_created : int
        Submits accepted (each one created, and billed, a task).
    retrieves, batch_retrieves : int
        ``retrieve`` and ``retrieve_batch`` queries.
    media_requests : int
        Clip and thumbnail requests.
    renders : int
        Clips rendered (each task's clip is rendered once while it stays cached).
    render_seconds : float
        Real seconds spent rendering.
    faults : Mapping of str to int
        Injected faults by name.
    callbacks_delivered, callbacks_failed : int
        Callbacks delivered, and given up after every attempt failed.
    """

    requests: int
    by_path: Mapping[str, int]
    by_status: Mapping[int, int]
    submits: int
    tasks_created: int
    retrieves: int
    batch_retrieves: int
    media_requests: int
    renders: int
    render_seconds: float
    faults: Mapping[str, int]
    callbacks_delivered: int
    callbacks_failed: int


@dataclass
class StatsBook:
    """Mutable counters and journal behind :class:`SimStats`. Thread-safe."""

    journal_size: int = 10_000
    counts: Counter[str] = field(default_factory=Counter)
    by_path: Counter[str] = field(default_factory=Counter)
    by_status: Counter[int] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    _journal: deque[JournalEntry] = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._journal = deque(maxlen=self.journal_size)

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to the counter ``name``."""
        with self._lock:
            self.counts[name] += n

    def record(self, entry: JournalEntry, path_key: str, fault_names: Iterable[str]) -> None:
        """Journal one request and count it."""
        with self._lock:
            self._journal.append(entry)
            self.counts["requests"] += 1
            self.by_path[path_key] += 1
            if entry.status is not None:
                self.by_status[entry.status] += 1
            for name in fault_names:
                self.faults[name] += 1

    def journal(self) -> list[JournalEntry]:
        """The journal, oldest first (at most ``journal_size`` entries)."""
        with self._lock:
            return list(self._journal)

    def snapshot(
        self, renders: int, render_seconds: float, delivered: int, failed: int
    ) -> SimStats:
        """Freeze the counters."""
        with self._lock:
            c = self.counts
            return SimStats(
                requests=c["requests"],
                by_path=MappingProxyType(dict(self.by_path)),
                by_status=MappingProxyType(dict(self.by_status)),
                submits=c["submits"],
                tasks_created=c["tasks_created"],
                retrieves=c["retrieves"],
                batch_retrieves=c["batch_retrieves"],
                media_requests=c["media_requests"],
                renders=renders,
                render_seconds=render_seconds,
                faults=MappingProxyType(dict(self.faults)),
                callbacks_delivered=delivered,
                callbacks_failed=failed,
            )
