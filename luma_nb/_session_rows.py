"""The DuckDB fold's rows (an Arrow table) as the Python fold's DataFrame or row tuples.

:func:`~luma_nb._session_fold.frame` builds the Python fold's frame from row tuples and lets
pandas infer each column's dtype; :func:`arrow_frame` gives the same dtypes from Arrow
columns, by the same rules, without a Python object per value:

- text: what pandas infers for text (``str``, Arrow-backed when pyarrow is installed), or
  ``object`` holding only None when every value is missing;
- the timings and the measured floats: ``float64``, always;
- ``timeout``: ``int64`` when every value is a whole number (an ``int`` in the JSON, flagged
  in its ``timeout__i`` column), ``float64`` when one is missing or fractional, ``object`` of
  None when all are missing;
- whole numbers ``Int64``, flags ``boolean`` (nullable), ``tags`` lists.

:func:`arrow_values` gives the Python fold's row tuples instead, to merge with rows the
Python fold made (the frame is then :func:`frame`'s own).
"""

from __future__ import annotations

from typing import Any

from luma_nb._session_fold import COLUMNS, frame, import_pandas
from luma_nb._session_payload import METRIC_COLUMNS, WHOLE_METRIC_COLUMNS

__all__ = ["FLOATS", "NUMBERS", "WHOLE", "arrow_frame", "arrow_values"]

#: Number columns pandas infers (``int64`` or ``float64``), each with a ``<name>__i`` flag
#: column (a whole number in the JSON).
NUMBERS = ("timeout",)
#: Columns the frame holds as ``float64`` whatever their values.
FLOATS = (
    "submitted_at",
    "started_at",
    "finished_at",
    "elapsed",
    *(column for column in METRIC_COLUMNS if column not in WHOLE_METRIC_COLUMNS),
)
#: Whole-number columns (``Int64``).
WHOLE = (
    "width",
    "height",
    "rating",
    "schema_version",
    *(c for c in METRIC_COLUMNS if c in WHOLE_METRIC_COLUMNS and c not in ("width", "height")),
)
_FLAGS = ("loop", "enhancement", "prompt_changed")


def arrow_frame(table: Any) -> Any:
    """The DataFrame of :data:`COLUMNS` of the fold's Arrow table, as ``frame`` gives it."""
    pd = import_pandas()
    import numpy as np

    if table.num_rows == 0:
        return frame([])
    text = pd.Series(["text"]).dtype  # what pandas makes of text in this installation
    columns: dict[str, Any] = {}
    for name in COLUMNS:
        column = table.column(name)  # chunked: text keeps its buffers (no copy)
        missing = column.is_null().to_numpy(zero_copy_only=False)
        if name in FLOATS:
            data = column.fill_null(0).to_numpy(zero_copy_only=False).astype("float64")
            columns[name] = np.where(missing, np.nan, data)
        elif name in NUMBERS:
            data = column.fill_null(0).to_numpy(zero_copy_only=False).astype("float64")
            whole = table.column(f"{name}__i").fill_null(False)
            if missing.all():
                columns[name] = [None] * len(data)
            elif not missing.any() and whole.to_numpy(zero_copy_only=False).all():
                columns[name] = data.astype("int64")  # exact: whole numbers fit 2**53
            else:
                columns[name] = np.where(missing, np.nan, data)
        elif name in WHOLE:
            data = column.fill_null(0).to_numpy(zero_copy_only=False).astype("int64")
            columns[name] = pd.arrays.IntegerArray(data, missing)
        elif name in _FLAGS:
            data = column.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
            columns[name] = pd.arrays.BooleanArray(data, missing)
        elif name == "tags":
            columns[name] = [[] if tags is None else tags for tags in column.to_pylist()]
        elif missing.all():
            columns[name] = [None] * len(missing)  # pandas keeps None (object)
        elif isinstance(text, pd.StringDtype):
            columns[name] = pd.array(column, dtype=text)
        else:
            columns[name] = pd.array(column.to_pylist(), dtype=object)
    return pd.DataFrame(columns, columns=list(COLUMNS))


def arrow_values(table: Any) -> list[tuple[Any, ...]]:
    """The rows of the fold's Arrow table as the Python fold's tuples (:data:`COLUMNS`)."""
    values: list[list[Any]] = []
    for name in COLUMNS:
        column = table.column(name).to_pylist()
        if name in NUMBERS:
            whole = table.column(f"{name}__i").to_pylist()
            column = [
                int(v) if w and v is not None else v for v, w in zip(column, whole, strict=True)
            ]
        elif name == "tags":
            column = [[] if tags is None else tags for tags in column]
        values.append(column)
    return list(zip(*values, strict=True))
