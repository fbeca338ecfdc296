"""The DuckDB fold's rows: the lines streamed and folded, then typed and derived.

:func:`fold_table` gives the rows of a batch of session files as an Arrow table, in order
of file and first line, for :mod:`luma_nb._session_duckdb` to check and merge with the rows
Python folds:

1. the lines are read by DuckDB and folded a batch at a time into partial rows
   (:mod:`luma_nb._session_partial`), on a connection of their own, closed after: the
   memory DuckDB keeps for a scan goes back with it;
2. the partial rows are merged into one row per ``(file, iteration)``, each row's values
   are taken from the lines that won them, and DuckDB types them a few columns at a time
   (:func:`~luma_nb._session_sql.typed_sql`): JSON texts in, the frame's types out;
3. DuckDB derives the columns that come from several values (the state, the tags, the
   dates: :func:`~luma_nb._session_sql.derive_sql`).

Why not one ``GROUP BY`` in DuckDB: an aggregate over text holds several times the text it
sees (the task id of a completed task: ~150 bytes an iteration), which made the fold's
peak memory that of the Python fold. See docs/performance.md ("Session logs at scale").
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from luma_nb._session_partial import (
    FOLDS,
    NEVER,
    NEVER32,
    NONE,
    HashCollision,
    PartialFold,
    check_keys,
    read_batches,
    reduce,
    widened,
)
from luma_nb._session_sql import SLOTS, derive_sql, typed_sql

__all__ = ["BATCH_ROWS", "SPLIT_BYTES", "Connect", "HashCollision", "fold_table"]

#: Opens a DuckDB connection with the fold's settings (``_session_duckdb.connection``).
Connect = Callable[[], AbstractContextManager[Any]]

#: Lines a batch as DuckDB streams them out (and rows a batch as DuckDB reads them back).
BATCH_ROWS = 1 << 13
#: From this many bytes on, a batch of files is read as two halves at once, on two cores
#: (DuckDB numbers lines on one core: each half numbers every line, parses its own).
SPLIT_BYTES = 16 * 2**20
#: Bytes of JSON text typed in one query (see :class:`_Typing`).
TYPING_BYTES = 16 * 2**20
#: Below this many bytes (so as many lines) of files, line numbers and counts are kept in
#: 32 bits while folding.
NARROW_BYTES = NEVER32
_LAST_LINE = 2**62


def fold_table(con: Any, paths: list[str], sizes: Sequence[int], connect: Connect) -> Any:
    """The rows of the files (``paths``, of ``sizes`` bytes), in order of file, then first
    line: ``f`` (the file's index), ``first_ord``, ``last_ord`` and the counts the caller
    checks each file with (``lines``, ``torn``, ``bytes``, ``n_odd``), ``route`` (fold the
    row in Python instead), and the frame's columns. Raises :class:`HashCollision`."""
    total = sum(sizes)
    ranges = [(1, _LAST_LINE)]
    if total >= SPLIT_BYTES:
        middle = _middle_line(paths[0], total)
        ranges = [(1, middle), (middle + 1, _LAST_LINE)]
    parts = [PartialFold(narrow=total < NARROW_BYTES) for _ in ranges]
    with connect() as reader:
        if len(ranges) > 1:
            # Each half on its reader's thread only: as fast on two cores, and DuckDB keeps
            # one thread's buffers a half, not one per core.
            reader.execute("SET threads = 1")
        for n, batch in read_batches(reader, paths, ranges, BATCH_ROWS):
            parts[n].add(batch)
    return _derive(con, _merge(con, parts))


def _merge(con: Any, parts: list[PartialFold]) -> Any:
    """The partial rows of ``parts`` (ranges in order) merged into one row per key, in
    order of file and first line, with the values that won, typed (derive_sql's input)."""
    import numpy as np
    import pyarrow as pa

    partials = [partial for part in parts for partial in part.partials]
    if not partials:
        return None
    hashes = np.concatenate([partial["h"] for partial in partials])
    unique, inverse = np.unique(hashes, return_inverse=True)
    rows = np.argsort(inverse, kind="stable")  # partial rows by key, in order within each
    starts = np.flatnonzero(np.diff(inverse[rows], prepend=-1))
    first = rows[starts]  # each key's first partial row
    files = np.concatenate([partial["f"] for partial in partials])
    its = pa.concat_arrays([it for part in parts for it in part.its])
    check_keys(files, its, first[inverse])
    order: Any = None
    columns: dict[str, Any] = {}
    winners: dict[str, Any] = {}  # per slot, the line each row takes its values from
    for name, how in FOLDS.items():
        # One count at a time, each partial's memory going back as it is read.
        value = np.concatenate([partial.pop(name) for partial in partials])[rows]
        value = widened(reduce(how, value, starts))
        if order is None:  # first_ord, the first of FOLDS, gives the rows' order
            order = np.lexsort((value, files[first]))
            columns["f"] = pa.array(files[first][order].astype(np.int32))
            columns["iteration"] = its.take(first[order])
            del files, its
        value = value[order]
        if name.startswith("@"):
            winners[name[1:]] = value.astype(np.int32) if value.max() < NEVER32 else value
        elif how == "any":
            columns[name] = pa.array(value.astype(bool))
        elif how == "sum":
            columns[name] = pa.array(value)
        else:
            columns[name] = pa.array(value, mask=value == NEVER)
    for part in parts:
        part.partials, part.its = [], []
    del partials
    # The lines of the last "submitting" and of the last task state not final.
    columns["begin_ord"] = pa.array(winners["begin"], mask=winners["begin"] == NONE)
    columns["live_ord"] = pa.array(winners["live"], mask=winners["live"] == NONE)
    columns["tag_lists"] = _tag_lists(parts, unique, order)
    columns.update(_values(con, parts, winners, len(order)))
    return pa.table(columns)


def _values(con: Any, parts: list[PartialFold], winners: dict[str, Any], rows: int) -> Any:
    """Each row's values, taken from the lines that won them and typed, and ``wrong``
    (a value not of its column's type: the row goes to Python)."""
    import numpy as np
    import pyarrow as pa

    typing = _Typing(con, rows)
    columns: dict[str, Any] = {}
    for slot, (_, _, taken) in SLOTS.items():
        won = winners.pop(slot)
        lines = [chunk for part in parts for chunk in part.lines[slot]]
        for part in parts:
            part.lines[slot] = []
        place = None
        if lines:  # where each row's line is among those kept: in order, ranges in order
            missing = (won == NONE) | (won == NEVER) | (won == NEVER32)
            place = pa.array(np.searchsorted(np.concatenate(lines), won), mask=missing)
        for column, source in taken.items():
            values = [chunk for part in parts for chunk in part.values[column]]
            for part in parts:
                part.values[column] = []  # their memory goes back as we go
            found = pa.nulls(rows, next(part.types[source] for part in parts if part.types))
            if place is not None:
                found = pa.concat_arrays(values)
                del values  # the chunks go before the values are placed: two copies, not three
                found = found.take(place)
            columns.update(typing.add(column, source, found))
    columns.update(typing.flush())
    columns["wrong"] = pa.array(typing.wrong)
    for packed in ("request", "measurement"):  # a struct of typed values: a column each
        struct = pa.chunked_array(columns.pop(packed))
        fields = [chunk.flatten() for chunk in struct.chunks]  # no copy
        for n, field in enumerate(struct.type):
            columns[field.name] = pa.chunked_array([f[n] for f in fields], field.type)
    return columns


class _Typing:
    """The rows' values (JSON texts, most of them) typed by DuckDB (:func:`typed_sql`) a few
    columns at a time: each column's texts go as soon as it is typed."""

    def __init__(self, con: Any, rows: int) -> None:
        import numpy as np

        self.con = con
        self.raw: dict[str, Any] = {}
        self.sources: dict[str, str] = {}
        self.wrong = np.zeros(rows, dtype=bool)

    def add(self, column: str, source: str, texts: Any) -> dict[str, Any]:
        """Take ``column`` (of the line column ``source``); typed columns, when typed."""
        self.raw[column], self.sources[column] = texts, source
        if sum(array.nbytes for array in self.raw.values()) < TYPING_BYTES:
            return {}
        return self.flush()

    def flush(self) -> dict[str, Any]:
        """The typed columns of the columns taken so far."""
        import pyarrow as pa

        if not self.raw:
            return {}
        table = pa.table(self.raw)
        # In batches: DuckDB reads an Arrow table's batches on every core.
        table = pa.Table.from_batches(table.to_batches(max(BATCH_ROWS, 1)), table.schema)
        self.raw = {}
        name = f"luma_values_{uuid.uuid4().hex}"
        self.con.register(name, table)
        try:
            typed = self.con.sql(typed_sql(self.sources, name)).to_arrow_table()
        finally:
            self.con.unregister(name)
        self.sources = {}
        del table
        # The texts' memory goes back to the system, not only to Arrow's allocator: DuckDB,
        # whose allocator is another, holds the typed values now.
        pa.default_memory_pool().release_unused()
        self.wrong |= typed.column("wrong").fill_null(False).to_numpy(zero_copy_only=False)
        return {name: typed.column(name) for name in typed.column_names if name != "wrong"}


def _tag_lists(parts: list[PartialFold], unique: Any, order: Any) -> Any:
    """Each row's tag events as ``{o, t}`` (line number, tags' JSON text), NULL for none
    (``unique``: the keys' hashes, sorted; ``order``: the rows' keys among them)."""
    import numpy as np
    import pyarrow as pa

    kind = pa.list_(pa.struct([("o", pa.int64()), ("t", pa.string())]))
    tags = [found for part in parts for found in part.tags]
    if not tags:
        return pa.nulls(len(order), kind)
    row_of = np.empty(len(order), np.int64)
    row_of[order] = np.arange(len(order))  # a key's row, from its place among the hashes
    lists: dict[int, list[dict[str, Any]]] = {}
    for hashes, ords, texts in tags:
        rows = row_of[np.searchsorted(unique, hashes)]
        for row, o, t in zip(rows.tolist(), ords.tolist(), texts.to_pylist(), strict=True):
            lists.setdefault(row, []).append({"o": o, "t": t})
    return pa.array([lists.get(row) for row in range(len(order))], kind)


# Columns of the merged rows that serve only to derive others (see derive_sql).
_INTERNAL = (
    "odd", "wrong", "begins", "first_tag_ord", "term_ord", "reopened", "begin_ord", "live_ord",
    "tag_lists", "session_last", "session_first", "t_first", "begin_t", "begin_tags",
    "t_sub", "term_state", "t_end", "live_state",
)  # fmt: skip


def _derive(con: Any, merged: Any) -> Any:
    """``merged`` with the columns derived from several values (by DuckDB: derive_sql) in
    place of those they come from; no rows at all: the columns the caller counts with."""
    import pyarrow as pa

    if merged is None:
        columns: dict[str, Any] = {"f": pa.array([], pa.int32())}
        for name in ("first_ord", "last_ord", "lines", "n_odd", "torn", "bytes"):
            columns[name] = pa.array([], pa.int64())
        columns["iteration"] = pa.array([], pa.string())
        columns["route"] = pa.array([], pa.bool_())
        return pa.table(columns)
    name = f"luma_rows_{uuid.uuid4().hex}"
    con.register(name, pa.Table.from_batches(merged.to_batches(max(BATCH_ROWS // 4, 1))))
    try:
        reader = con.sql(derive_sql(name)).to_arrow_reader(BATCH_ROWS)
        derived = pa.Table.from_batches(list(reader), reader.schema)
    finally:
        con.unregister(name)
    kept = [c for c in merged.column_names if c not in (*_INTERNAL, *derived.column_names)]
    columns = {c: merged.column(c) for c in kept}
    columns.update((c, derived.column(c)) for c in derived.column_names)
    return pa.table(columns)


def _middle_line(path: str, size: int) -> int:
    """About the number of the middle line of ``size`` bytes like the start of ``path``."""
    with open(path, "rb") as file:
        sample = file.read(1 << 20)
    return max(1, size * max(sample.count(b"\n"), 1) // max(len(sample), 1) // 2)
