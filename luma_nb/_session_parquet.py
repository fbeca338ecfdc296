"""Session logs as Parquet, written by DuckDB: the folded rows and the raw events.

Both are Hive-partitioned folders, ``<destination>/session=<id>/*.parquet`` (the value
URL-encoded), which DuckDB, Polars and Spark read as one table (see docs/session-log.md):

- rows: the columns of :data:`~luma_nb._session_fold.COLUMNS` with one type each (text
  ``VARCHAR``, numbers ``DOUBLE``, whole numbers ``BIGINT``, flags ``BOOLEAN``, tags
  ``VARCHAR[]``), partitioned by the ``session`` column, written a batch of files at a time
  (memory stays bounded by ``memory_limit`` however large the logs);
- events: one row per readable event — the file's session id, ``seq`` (its order in the
  file), ``event``, ``iteration``, ``t``, ``state`` (each NULL where not of that type) and
  the line itself as ``json`` — one file at a time.
"""

from __future__ import annotations

import functools
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from luma_nb._session_duckdb import PythonFold, batches, connection, fold_batch
from luma_nb._session_fold import COLUMNS, frame
from luma_nb._session_rows import FLOATS, NUMBERS, WHOLE
from luma_nb._session_sql import events_sql

__all__ = ["ROW_TYPES", "write", "write_events", "write_frame", "write_rows"]

_FLAGS = ("loop", "enhancement", "prompt_changed")
#: The Parquet type of every row column.
ROW_TYPES: dict[str, str] = {
    name: "DOUBLE"
    if name in NUMBERS or name in FLOATS
    else "BIGINT"
    if name in WHOLE
    else "BOOLEAN"
    if name in _FLAGS
    else "VARCHAR[]"
    if name == "tags"
    else "VARCHAR"
    for name in COLUMNS
}
_SELECT = ", ".join(f'CAST("{name}" AS {kind}) AS "{name}"' for name, kind in ROW_TYPES.items())


def write(
    source: Any,
    destination: str | os.PathLike[str],
    python_fold: PythonFold,
    events: bool,
    overwrite: bool,
    settings: dict[str, Any],
) -> Path:
    """:func:`luma_nb.session_log.to_parquet`: ``source`` is session files or a frame."""
    from luma_nb._session_duckdb import import_duckdb
    from luma_nb.errors import ValidationError

    import_duckdb()
    target = Path(os.path.abspath(os.fspath(destination)))
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        if not overwrite:
            raise ValidationError(
                f"{target} already exists; pass overwrite=True to replace it",
                field="destination",
            )
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink()
    if not isinstance(source, list):
        if events:
            raise ValidationError(
                "events=True needs session files (a folder, a glob or a file), not a frame",
                field="source",
            )
        target.mkdir(parents=True, exist_ok=True)
        write_frame(source, target, settings)
    elif events:
        target.mkdir(parents=True, exist_ok=True)
        write_events(source, target, settings)
    else:
        target.mkdir(parents=True, exist_ok=True)
        write_rows(source, target, python_fold, settings)
    return target


def write_rows(
    files: Sequence[Path],
    target: Path,
    python_fold: PythonFold,
    settings: dict[str, Any],
) -> None:
    """Fold ``files`` (DuckDB, Python where needed) into the row dataset ``target``."""
    connect = functools.partial(connection, **settings)
    with connect() as con:
        for n, batch in enumerate(batches(files, settings.get("memory_limit"))):
            folded = fold_batch(con, batch, python_fold, connect)
            data = frame(folded.values()) if folded.python else folded.table
            if data is not None and len(data):
                _copy_rows(con, data, target, append=n > 0)


def write_frame(data: Any, target: Path, settings: dict[str, Any]) -> None:
    """Write a frame :func:`~luma_nb.load_sessions` returned as the row dataset ``target``."""
    missing = [name for name in COLUMNS if name not in data.columns]
    if missing:
        from luma_nb.errors import ValidationError

        raise ValidationError(
            f"the frame lacks the session-log columns {', '.join(missing)}", field="source"
        )
    with connection(**settings) as con:
        if len(data):
            _copy_rows(con, data, target, append=False)


def _copy_rows(con: Any, data: Any, target: Path, *, append: bool) -> None:
    con.register("luma_rows", data)
    try:
        con.sql(f"SELECT {_SELECT} FROM luma_rows").write_parquet(
            os.fspath(target), partition_by=["session"], append=append or None
        )
    finally:
        con.unregister("luma_rows")


def write_events(files: Sequence[Path], target: Path, settings: dict[str, Any]) -> None:
    """Copy every readable event of ``files`` into the event dataset ``target``."""
    with connection(**settings) as con:
        written = False
        for file in files:
            try:
                empty = file.stat().st_size == 0
            except FileNotFoundError:
                continue
            if empty:
                continue
            relation = con.sql(events_sql(), params=[os.fspath(file), file.stem])
            relation.write_parquet(
                os.fspath(target), partition_by=["session"], append=written or None
            )
            written = True
