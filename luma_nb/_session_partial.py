"""Session-log lines read by DuckDB and folded a batch at a time (for _session_stream).

DuckDB parses the lines and checks them (:func:`~luma_nb._session_sql.stream_sql`), then
streams them out in order, a batch at a time. :class:`PartialFold` folds each batch into
one *partial row* per key (a hash of the line's file and iteration): its first and last
line, its counts, and for each slot of :data:`~luma_nb._session_sql.SLOTS` the line the
row takes those values from (the last line that counts for the slot, or the first). Of
the batch it keeps only those lines' values, so nothing holds more than one batch of
lines besides the values that may win; an iteration's lines lie close together in a log,
so almost every value kept is one that wins.

:func:`read_batches` reads ranges of lines at once, each on a thread of its own (DuckDB
numbers lines on one core), and hands the batches to the caller's thread, which folds
them: the fold's memory is taken and given back on one thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

from luma_nb._session_sql import FLAGS, SLOTS, stream_sql

__all__ = [
    "FOLDS",
    "NEVER",
    "NEVER32",
    "NONE",
    "HashCollision",
    "PartialFold",
    "check_keys",
    "read_batches",
    "reduce",
    "widened",
]

NONE = -1  #: a line number's "none" where the largest counts
NEVER = 2**62  #: ... and where the smallest counts
NEVER32 = 2**31 - 1  #: NEVER, in 32 bits

#: What each row counts of its lines: name -> how two counts combine (a batch's lines, then
#: the partial rows): the smallest line number, the largest, a sum, or whether any; and
#: for each slot of SLOTS, the line it takes its values from (``@<slot>``).
FOLDS = {
    "first_ord": "min",
    "last_ord": "max",
    "lines": "sum",
    "torn": "sum",
    "bytes": "sum",
    "n_odd": "sum",
    "odd": "any",
    "begins": "sum",
    "first_tag_ord": "min",
    "term_ord": "min",
    "reopened": "any",
    **{f"@{name}": which for name, (which, _, _) in SLOTS.items()},
}
_START = {"min": NEVER, "max": NONE, "sum": 0, "any": 0}
_BIT = {name: bit for bit, name in enumerate([*(f"@{slot}" for slot in SLOTS), *FLAGS])}


class HashCollision(Exception):
    """Two keys share a hash (:data:`~luma_nb._session_sql.ROW_HASH`, 64 bits: about once
    in 10**9 batches of a million rows): the files are folded another way."""


def check_keys(files: Any, its: Any, firsts: Any) -> None:
    """Raise :class:`HashCollision` unless every row (file in ``files``, iteration in
    ``its``) is of the same file and iteration as the first of its key (``firsts``)."""
    import pyarrow.compute as pc

    other = its.take(firsts)
    same = pc.or_kleene(pc.equal(its, other), pc.and_(its.is_null(), other.is_null()))
    if (files != files[firsts]).any() or not pc.all(same.fill_null(False)).as_py():
        raise HashCollision


class PartialFold:
    """The batches of one range of lines, folded: per batch, a partial row per key (its
    hash, file, iteration and the counts of :data:`FOLDS`, in ``partials`` and ``its``); the
    values that may win (per slot, in ``lines``: their line numbers in order; per column,
    in ``values``: the values); and the tag events (their keys' hashes, lines and tags).

    With ``narrow``, line numbers and counts are kept in 32 bits (half the memory): the
    files must hold fewer than 2**31 - 1 bytes.
    """

    def __init__(self, narrow: bool) -> None:
        self.narrow = narrow
        self.partials: list[dict[str, Any]] = []
        self.its: list[Any] = []
        self.lines: dict[str, list[Any]] = {name: [] for name in SLOTS}
        self.values: dict[str, list[Any]] = {
            column: [] for _, _, taken in SLOTS.values() for column in taken
        }
        self.tags: list[tuple[Any, Any, Any]] = []
        self.types: dict[str, Any] = {}  # each column's Arrow type, as DuckDB gives it

    def add(self, batch: Any) -> None:
        """Fold one batch of lines (in order) into a partial row per key."""
        import numpy as np

        if not self.types:
            self.types = {field.name: field.type for field in batch.schema}
        ords = batch.column("ord").to_numpy()
        flags = batch.column("flags").to_numpy()
        hashes = batch.column("h").to_numpy()
        unique, local = np.unique(hashes, return_inverse=True)
        rows = np.argsort(local, kind="stable")  # the lines by key, in order within each
        starts = np.flatnonzero(np.diff(local[rows], prepend=-1))

        def flag(name: str) -> Any:
            return (flags >> _BIT[name]) & 1

        line = {
            "first_ord": ords,
            "last_ord": ords,
            "lines": np.ones(len(ords), np.int64),
            "torn": flag("torn"),
            "bytes": batch.column("bytes").fill_null(0).to_numpy(),
            "odd": flag("odd"),
            "n_odd": flag("odd"),
            "begins": flag("@begin"),
            "first_tag_ord": np.where(flag("tag") == 1, ords, NEVER),
            "term_ord": np.where(flag("@term") == 1, ords, NEVER),
            "reopened": flag("reopen"),
        }
        for name, (which, _, _) in SLOTS.items():
            line[f"@{name}"] = np.where(flag(f"@{name}") == 1, ords, _START[which])
        first = rows[starts]
        files = batch.column("f").to_numpy()
        check_keys(files, batch.column("it"), first[local])
        partial = {"h": unique, "f": files[first]}
        for name, how in FOLDS.items():
            folded = reduce(how, line[name][rows], starts)
            partial[name] = _narrowed(folded) if self.narrow else folded
            if name.startswith("@"):
                self._keep(name[1:], folded, ords, batch)
        self.partials.append(partial)
        self.its.append(batch.column("it").take(first))
        tagged = np.flatnonzero(flag("tag"))
        if len(tagged):
            tags = batch.column("line_tags").take(tagged)
            self.tags.append((hashes[tagged], ords[tagged], tags))

    def _keep(self, slot: str, folded: Any, ords: Any, batch: Any) -> None:
        """Keep the values of the lines that may win ``slot``: each key's in this batch."""
        import numpy as np

        won = np.sort(folded[(folded != NONE) & (folded != NEVER)])
        if not len(won):
            return
        self.lines[slot].append(won.astype(np.int32) if self.narrow else won)
        taken = SLOTS[slot][2]
        found = batch.select(list(dict.fromkeys(taken.values())))
        found = found.take(np.searchsorted(ords, won))  # one take for the slot's columns
        for column, source in taken.items():
            self.values[column].append(found.column(source))


def reduce(how: str, values: Any, starts: Any) -> Any:
    """Each run of ``values`` (grouped; runs begin at ``starts``) reduced as ``how`` says."""
    import numpy as np

    ufunc = np.minimum if how == "min" else np.add if how == "sum" else np.maximum
    return ufunc.reduceat(values, starts)


def _narrowed(counts: Any) -> Any:
    """``counts`` (below 2**31 - 1, or NEVER) in 32 bits."""
    import numpy as np

    return np.where(counts == NEVER, NEVER32, counts).astype(np.int32)


def widened(counts: Any) -> Any:
    """Counts kept in 32 bits back in 64, NEVER32 as NEVER."""
    import numpy as np

    if counts.dtype != np.int32:
        return counts
    return np.where(counts == NEVER32, NEVER, counts.astype(np.int64))


def read_batches(
    con: Any, paths: list[str], ranges: list[tuple[int, int]], rows: int
) -> Iterator[tuple[int, Any]]:
    """``(n, batch)``: lines of each range ``n`` (first, last) of the files, ``rows`` lines a
    batch, in order within each range; the ranges are read at once, each on a thread of its
    own. A reader's error is raised here; leaving early stops the readers."""
    found: queue.Queue[tuple[int, Any]] = queue.Queue(maxsize=2 * len(ranges))
    stop = threading.Event()

    def read(n: int, first: int, last: int) -> None:
        cursor = con.cursor()
        try:
            relation = cursor.sql(stream_sql(), params=[paths, first, last])
            for batch in relation.to_arrow_reader(rows):
                if not _hand_over(found, stop, (n, batch)):
                    return
            _hand_over(found, stop, (n, None))
        except BaseException as exc:  # raised in the caller's thread
            _hand_over(found, stop, (n, exc))
        finally:
            cursor.close()

    readers = [
        threading.Thread(target=read, args=(n, first, last), daemon=True)
        for n, (first, last) in enumerate(ranges)
    ]
    for reader in readers:
        reader.start()
    try:
        left = len(readers)
        while left:
            n, batch = found.get()
            if batch is None:
                left -= 1
            elif isinstance(batch, BaseException):
                raise batch
            elif batch.num_rows:
                yield n, batch
    finally:
        stop.set()
        for reader in readers:
            reader.join()


def _hand_over(found: queue.Queue[tuple[int, Any]], stop: threading.Event, item: Any) -> bool:
    """Put ``item`` in ``found`` unless ``stop`` is set first (the reader then ends)."""
    while not stop.is_set():
        try:
            found.put(item, timeout=0.05)
            return True
        except queue.Full:
            continue
    return False
