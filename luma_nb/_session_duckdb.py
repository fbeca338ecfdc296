"""The session log folded by DuckDB: the Python fold's very frame, from SQL on every core.

The Python fold (:mod:`luma_nb._session_fold`) is the contract; this engine gives the same
DataFrame — columns, dtypes, values, and the same warnings — reading each file with
DuckDB's newline-delimited JSON reader: DuckDB parses and checks the lines, which are folded
a batch at a time, so no more than a batch of lines is held besides the rows' values
(:mod:`luma_nb._session_stream`; its SQL: :mod:`luma_nb._session_sql`).

DuckDB folds what it can prove it reads as Python does; Python folds the rest, merged in
place, so the result stays exact:

1. each file is read under a shared lock (no writer can append half a line meanwhile), and
   its lines must add up to its bytes: a blank line, a stray ``\\r`` or a character DuckDB
   trims would shift the line numbers, so such a file is folded by Python whole;
2. a line DuckDB cannot parse (a line a crash cut short) is found in the file and judged by
   Python's own parser, in the very block of lines Python would parse it in: unreadable
   there too, it is skipped with the usual warning; readable (a lone surrogate, a byte order
   mark), the file is folded by Python whole;
3. a line DuckDB parses but might read otherwise (see :mod:`luma_nb._session_sql`: repeated
   keys, ``null``, ``nan``, a trailing comma, a value of another type...) is parsed by Python,
   and its iteration — with every other line of it — folded by Python, as are rows whose
   states do not come in the usual order or whose values are not of their column's type.

The Python fold of a whole file is given as ``python_fold`` (a function of the path that
returns its row tuples and warns as the Python engine does), so this module needs nothing
above it.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from luma_nb._session_blocks import judge_lines
from luma_nb._session_errors import SessionLogWarning, dropped_message, unreadable_message
from luma_nb._session_fold import Fold, frame, import_pandas, parse_lines
from luma_nb._session_rows import arrow_frame, arrow_values
from luma_nb._session_sql import lines_sql
from luma_nb._session_stream import Connect, HashCollision, fold_table
from luma_nb.errors import ConfigError

__all__ = [
    "DEFAULT_BATCH_BYTES",
    "Batch",
    "PythonFold",
    "batches",
    "connection",
    "fold_batch",
    "fold_frame",
    "import_duckdb",
    "use_duckdb",
]

#: Folds one session file the Python way: its row tuples, its warnings given.
PythonFold = Callable[[Path], list[tuple[Any, ...]]]

#: Bytes of session files folded in one DuckDB query when no ``memory_limit`` is given.
DEFAULT_BATCH_BYTES = 2**30
_MAX_BATCH_FILES = 256  # each file of a batch holds a descriptor (its lock) meanwhile


def import_duckdb() -> Any:
    """duckdb (with pyarrow, which carries its results), or a ConfigError naming the extra."""
    try:
        import duckdb
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            'engine="duckdb" needs DuckDB and pyarrow: pip install "luma_nb[duckdb]" '
            '(engine="python" works without them)'
        ) from exc
    return duckdb


@contextmanager
def connection(
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> Iterator[Any]:
    """An in-memory DuckDB connection: its memory limit, spill folder (default: a fresh
    temporary folder, removed afterwards) and threads (default: every core)."""
    duckdb = import_duckdb()
    own = temp_directory is None
    spill = (
        tempfile.mkdtemp(prefix="luma-duckdb-")
        if temp_directory is None
        else os.fspath(temp_directory)
    )
    config: dict[str, Any] = {"temp_directory": spill, "preserve_insertion_order": True}
    if memory_limit is not None:
        config["memory_limit"] = str(memory_limit)
    if threads is not None:
        config["threads"] = int(threads)
    try:
        con = duckdb.connect(":memory:", config=config)
        try:
            con.execute("SET enable_progress_bar = false")  # a notebook is not a terminal
            # Memory goes back after each task, not only past 128 MB: a lower peak.
            con.execute("SET allocator_flush_threshold = '8MB'")
            yield con
        finally:
            con.close()
    finally:
        if own:
            shutil.rmtree(spill, ignore_errors=True)


def use_duckdb(files: Sequence[Path], engine: str, threshold: int) -> bool:
    """Whether ``engine`` (``"duckdb"`` or ``"auto"``) means DuckDB for ``files``: asked for,
    or installed and the files add up to ``threshold`` bytes (a ConfigError names the extra
    when ``"duckdb"`` is asked for and not installed)."""
    if engine == "duckdb":
        import_duckdb()
        return True
    size = 0
    for file in files:
        try:
            size += file.stat().st_size
        except OSError:
            continue
        if size >= threshold:
            import importlib.util

            return all(importlib.util.find_spec(name) for name in ("duckdb", "pyarrow"))
    return False


def fold_frame(
    files: Sequence[Path],
    python_fold: PythonFold,
    *,
    memory_limit: str | None = None,
    temp_directory: str | os.PathLike[str] | None = None,
    threads: int | None = None,
) -> Any:
    """The DataFrame of ``files``, in this order, exactly as the Python fold gives it."""
    import_pandas()
    folded: list[Batch] = []
    connect = functools.partial(connection, memory_limit, temp_directory, threads)
    with connect() as con:
        for batch in batches(files, memory_limit):
            folded.append(fold_batch(con, batch, python_fold, connect))
    if not any(batch.python for batch in folded):
        import pyarrow as pa

        tables = [batch.table for batch in folded if batch.table is not None]
        return arrow_frame(pa.concat_tables(tables)) if tables else frame([])
    # Rows of the Python fold among them: every row as a tuple, and the frame is frame()'s.
    return frame([row for batch in folded for row in batch.values()])


def batches(files: Sequence[Path], memory_limit: str | None) -> list[list[Path]]:
    """Consecutive files, about a quarter of ``memory_limit`` bytes of them a query (an
    iteration never spans two files, so batches fold independently; a fold holds about twice
    the bytes it reads, and a file larger than that is a batch of its own)."""
    limit = DEFAULT_BATCH_BYTES if memory_limit is None else max(_bytes(memory_limit) // 4, 1)
    out: list[list[Path]] = []
    size = 0
    for file in files:
        try:
            length = file.stat().st_size
        except OSError:
            length = 0
        if not out or size + length > limit or len(out[-1]) >= _MAX_BATCH_FILES:
            out.append([])
            size = 0
        out[-1].append(file)
        size += length
    return out


_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


def _bytes(limit: str) -> int:
    """DuckDB's ``"2GB"``/``"512MiB"`` as bytes (a percentage or a typo: the default)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([a-zA-Z]*)\s*", str(limit))
    if match and match.group(2).lower() in _UNITS:
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    return DEFAULT_BATCH_BYTES * 2


# ----------------------------------------------------------------------------- one batch


class Batch:
    """One query's rows: DuckDB's (an Arrow table, in order) and the Python fold's (row
    tuples, with the file and first line that place them among DuckDB's)."""

    def __init__(self, table: Any, python: list[tuple[int, int, tuple[Any, ...]]]) -> None:
        self.table, self.python = table, python

    def values(self) -> list[tuple[Any, ...]]:
        """Every row as a tuple, in order."""
        if self.table is None:
            return [row for _, _, row in sorted(self.python, key=_place)]
        keys = zip(
            self.table.column("f").to_pylist(),
            self.table.column("first_ord").to_pylist(),
            arrow_values(self.table),
            strict=True,
        )
        return [row for _, _, row in sorted([*keys, *self.python], key=_place)]


def _place(row: tuple[int, int, tuple[Any, ...]]) -> tuple[int, int]:
    return row[0], row[1]


def fold_batch(con: Any, files: Sequence[Path], python_fold: PythonFold, connect: Connect) -> Batch:
    """The rows of ``files`` (DuckDB's, Python's where needed), warnings given; ``connect``
    opens a connection like ``con`` (see :func:`~luma_nb._session_stream.fold_table`)."""
    import pyarrow as pa

    with ExitStack() as stack:
        checks = [_FileCheck(file, *_open_locked(stack, file)) for file in files]
        present = [n for n, check in enumerate(checks) if check.fd >= 0]
        paths = [os.fspath(files[n]) for n in present]
        table = None
        if paths:
            sizes = [checks[n].size for n in present]
            try:
                folded = fold_table(con, paths, sizes, connect)
            except HashCollision:
                for n in present:  # two rows' keys met: these files are Python's, whole
                    checks[n].mode = "python"
            else:
                # DuckDB numbers the files it read; ours count the vanished ones too.
                table = _renumber(folded, present)
                _count(table, checks)
                _route(table, checks)
                _read_lines(con, paths, present, checks)
        python: list[tuple[int, int, tuple[Any, ...]]] = []
        for n, check in enumerate(checks):
            values, first = check.python_rows(python_fold)
            python.extend((n, line, row) for line, row in zip(first, values, strict=True))
        if table is not None:
            kept = _kept(table, checks)
            if not kept.all():
                table = table.filter(pa.array(kept))
            if table.num_rows == 0:
                table = None  # no rows: not even their columns (a batch with no lines has none)
    return Batch(table, python)


def _renumber(table: Any, present: list[int]) -> Any:
    import numpy as np
    import pyarrow as pa

    f = np.asarray(present, dtype=np.int64)[_numbers(table, "f")]
    return table.set_column(table.schema.get_field_index("f"), "f", pa.array(f))


def _numbers(table: Any, name: str) -> Any:
    return table.column(name).to_numpy()


def _flags(table: Any, name: str) -> Any:
    return table.column(name).fill_null(False).to_numpy(zero_copy_only=False).astype(bool)


def _open_locked(stack: ExitStack, file: Path) -> tuple[int, int]:
    """A descriptor holding a shared lock on ``file``, and its size; (-1, 0) if it vanished."""
    try:
        fd = os.open(file, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        return -1, 0  # as the Python fold reads a vanished file: no rows
    stack.callback(os.close, fd)
    if sys.platform != "win32":
        import fcntl

        # A shared lock waits out any writer, as the Python fold's reader does.
        fcntl.flock(fd, fcntl.LOCK_SH)
    return fd, os.fstat(fd).st_size


def _count(table: Any, checks: list[_FileCheck]) -> None:
    """Each file's counts from the fold's rows: lines, torn and odd lines, bytes."""
    import numpy as np

    f = _numbers(table, "f")
    n = len(checks)
    counts = {
        name: np.bincount(f, weights=_numbers(table, name), minlength=n)
        for name in ("lines", "torn", "n_odd", "bytes")
    }
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, f, _numbers(table, "first_ord"))
    for index, check in enumerate(checks):
        check.records, check.torn = int(counts["lines"][index]), int(counts["torn"][index])
        check.odd, check.parsed_bytes = int(counts["n_odd"][index]), int(counts["bytes"][index])
        check.first_ord = int(first[index])


def _route(table: Any, checks: list[_FileCheck]) -> None:
    """The iterations DuckDB leaves to Python."""
    import numpy as np

    f = _numbers(table, "f")
    routed = np.flatnonzero(_flags(table, "route"))
    if len(routed):
        iterations = table.column("iteration").take(routed).to_pylist()
        for row, iteration in zip(routed, iterations, strict=True):
            if iteration is not None:
                checks[f[row]].routed.add(iteration)


def _kept(table: Any, checks: list[_FileCheck]) -> Any:
    """Which rows of DuckDB's result stand as they are."""
    import numpy as np

    f = _numbers(table, "f")
    named = table.column("iteration").is_valid().to_numpy(zero_copy_only=False)
    keep: Any = ~_flags(table, "route") & named
    keep &= np.isin(f, [n for n, check in enumerate(checks) if check.mode == "duck"])
    if any(check.extra for check in checks):
        iterations = table.column("iteration").to_pylist()
        extra = [it in checks[file].extra for file, it in zip(f, iterations, strict=True)]
        keep &= ~np.asarray(extra, dtype=bool)
    return keep


def _read_lines(con: Any, paths: list[str], present: list[int], checks: list[_FileCheck]) -> None:
    """Fetch what Python must read (torn and odd lines, the lines of routed iterations), then
    decide how each file is folded; then fetch the lines of any iteration Python alone finds
    in an odd line (a repeated ``iteration`` key: one more pass, in hostile logs only)."""
    position = {index: k for k, index in enumerate(present)}

    def fetch(iterations: dict[int, set[str]]) -> None:
        keys = [f"{position[n]}:{it}" for n, found in iterations.items() for it in found]
        for f, ord_, text, odd, torn in con.execute(lines_sql(), [paths, keys]).fetchall():
            checks[present[f]].take_line(int(ord_), text, odd, torn)

    if any(check.torn or check.odd or check.routed for check in checks):
        fetch({n: check.routed for n, check in enumerate(checks) if check.routed})
    for check in checks:
        check.decide()
    extra = {n: check.find_extra() for n, check in enumerate(checks) if check.mode == "duck"}
    extra = {n: found for n, found in extra.items() if found}
    if extra:
        fetch(extra)


class _FileCheck:
    """What DuckDB read of one file, and how it is folded: ``duck`` (by DuckDB, with Python
    for the lines and rows it routes), ``python`` (by the Python fold, whole) or ``empty``."""

    def __init__(self, path: Path, fd: int, size: int) -> None:
        self.path, self.fd, self.size = path, fd, size
        self.records = self.torn = self.odd = self.parsed_bytes = self.first_ord = 0
        self.routed: set[str] = set()  # iterations whose rows Python folds
        self.extra: set[str] = set()  # ... found only by Python's reading of odd lines
        self.lines: dict[int, str] = {}  # what Python reads, by ord
        self.odd_ords: set[int] = set()
        self.torn_ords: set[int] = set()
        self.bad: list[int] = []  # line numbers Python could not read
        self.parsed: dict[int, tuple[list[dict[str, Any]], list[int]]] = {}
        self.mode = "duck" if fd >= 0 else "empty"

    def line(self, ord_: int) -> int:
        return ord_ - self.first_ord + 1

    def take_line(self, ord_: int, text: str | None, odd: bool, torn: bool) -> None:
        if torn:
            self.torn_ords.add(ord_)
            return
        self.lines[ord_] = text or ""
        if odd:
            self.odd_ords.add(ord_)

    def decide(self) -> None:
        """DuckDB's lines must tile the file exactly, or Python folds it whole."""
        if self.mode == "empty" or self.records == 0:
            self.mode = "empty" if self.size == 0 or self.fd < 0 else "python"
            return
        ends = os.pread(self.fd, 1, self.size - 1) == b"\n"
        expected = self.size + (0 if ends else 1)
        if self.torn_ords:
            # Lines DuckDB could not parse: found, measured and judged as Python would.
            torn = {self.line(o) for o in self.torn_ords}
            judged = judge_lines(self.fd, self.size, torn)
            if judged is None or judged[0] != self.records or len(judged[1]) != len(torn):
                self.mode = "python"
                return
            self.parsed_bytes += sum(length + 1 for length in judged[1].values())
            self.bad.extend(torn)
        if self.parsed_bytes != expected:
            self.mode = "python"

    def parse(self, ord_: int) -> tuple[list[dict[str, Any]], list[int]]:
        """Python's reading of one line (kept: odd lines are read twice)."""
        found = self.parsed.get(ord_)
        if found is None:
            text = self.lines[ord_].encode("utf-8")
            found = self.parsed[ord_] = parse_lines(text, self.line(ord_))
        return found

    def find_extra(self) -> set[str]:
        """Iterations Python finds in odd lines that DuckDB did not route (a repeated
        ``iteration`` key, say): folded by Python too, their other lines fetched."""
        for ord_ in self.odd_ords:
            for event in self.parse(ord_)[0]:
                iteration = _iteration(event)
                if iteration is not None and iteration not in self.routed:
                    self.extra.add(iteration)
        return self.extra

    def python_rows(self, python_fold: PythonFold) -> tuple[list[tuple[Any, ...]], list[int]]:
        """Rows the Python fold gives (and their first lines), warnings given."""
        if self.mode == "empty":
            return [], []
        if self.mode == "python":
            values = python_fold(self.path)
            return values, list(range(len(values)))
        wanted = self.routed | self.extra
        events: list[tuple[int, dict[str, Any]]] = []
        for ord_ in sorted(self.lines):
            parsed, bad = self.parse(ord_)
            self.bad.extend(bad)
            if ord_ in self.odd_ords or (parsed and _iteration(parsed[0]) in wanted):
                events.extend((ord_, event) for event in parsed)
        if self.bad:
            _warn(unreadable_message(self.path, sorted(set(self.bad))))
        if not events:
            return [], []
        first: dict[str, int] = {}
        for ord_, event in events:
            iteration = _iteration(event)
            if iteration is not None and iteration not in first:
                first[iteration] = ord_
        fold = Fold()
        fold.add_all(event for _, event in events)
        values = fold.values()
        if fold.dropped:
            _warn(dropped_message(self.path, fold.dropped))
        return values, [first[row[0]] for row in values]


def _iteration(event: dict[str, Any]) -> str | None:
    iteration = event.get("iteration")
    return iteration if type(iteration) is str else None


def _warn(message: str) -> None:
    # Points at the caller of load_sessions (_warn, the file, the batch, fold_frame, the API).
    warnings.warn(message, SessionLogWarning, stacklevel=6)
