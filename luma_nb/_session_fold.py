"""The session log's fold, below the :class:`~luma_nb.SessionLog` API.

- the fold of events into one row per iteration, incremental as the file grows, doing one
  pass of plain dict work per event — a research log of 100,000 events must become a
  DataFrame in about a second;
- the clean-up of values a hand edit put there: every column comes out with its documented
  type or ``None`` (the values dropped are reported, for a warning);
- the DataFrame itself, with pandas imported only there.

The file itself (locked appends, locked reads, parsing) is :mod:`luma_nb._session_file`, the
event payloads and input checks :mod:`luma_nb._session_payload`; their names are re-exported
here for the modules that import them from the fold.
"""

from __future__ import annotations

import math
import operator
import reprlib
from collections.abc import Iterable, Mapping
from typing import Any

from luma_nb._durations import generation_seconds, is_simulated
from luma_nb._session_file import (
    CHUNK_BYTES,
    append_line,
    encode_event,
    parse_lines,
    paused_gc,
    read_events,
    session_files,
)
from luma_nb._session_payload import (
    MAX_TASK_ID_CHARS,
    METRIC_COLUMNS,
    REQUEST_COLUMNS,
    WHOLE_METRIC_COLUMNS,
    check_iteration_id,
    check_label,
    check_tags,
    error_payload,
    metrics_payload,
    request_payload,
    task_payload,
    usable_task_id,
)
from luma_nb.errors import ConfigError

__all__ = [
    "CHUNK_BYTES",
    "COLUMNS",
    "MAX_TASK_ID_CHARS",
    "REQUEST_COLUMNS",
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "TEXT_KEYS",
    "Fold",
    "append_line",
    "check_iteration_id",
    "check_label",
    "check_tags",
    "encode_event",
    "error_payload",
    "frame",
    "import_pandas",
    "metrics_payload",
    "parse_lines",
    "paused_gc",
    "read_events",
    "request_payload",
    "session_files",
    "task_payload",
    "usable_task_id",
]

#: Version of the event schema, written as ``"v"`` in every event.
SCHEMA_VERSION = 1

#: The folded row's columns, in order (documented in ``docs/session-log.md``).
COLUMNS: tuple[str, ...] = (
    "iteration",
    "session",
    "state",
    "submitted_at",
    "started_at",
    "finished_at",
    "elapsed",
    *(column for _, column in REQUEST_COLUMNS),
    "task_id",
    "trace_id",
    "raw_state",
    "error_type",
    "error_code",
    "error_message",
    "video_id",
    "video_url",
    "thumbnail_url",
    "width",
    "height",
    "echoed_prompt",
    "prompt_changed",
    "media_path",
    # Measured from the file (a "metrics" event; width and height are the columns above).
    *(column for column in METRIC_COLUMNS if column not in ("width", "height")),
    "parent",
    "experiment",
    "arm",
    "rating",
    "note",
    "tags",
    "backend",
    "toolkit_version",
    "schema_version",
)

#: States after which nothing more happens to an iteration.
TERMINAL_STATES = frozenset({"completed", "failed", "outcome_unknown"})
# A late poll answer must not move a finished row back to "processing".
_FINAL_TASK_STATES = frozenset({"completed", "failed"})
# Row keys that are not columns: the API's timings (event keys) and our own clock's marks.
_PRIVATE = (
    "api_created_at",
    "api_finished_at",
    "api_elapsed",
    "_t_begin",
    "_t_submitted",
    "_t_end",
)
_TEMPLATE: dict[str, Any] = dict.fromkeys((*COLUMNS, *_PRIVATE, "_bad_task_id"))
_ROW_VALUES = operator.itemgetter(*COLUMNS)
_TAGS = COLUMNS.index("tags")
# Events whose payload simply overwrites the row (the last one wins).
_PLAIN_EVENTS = frozenset({"rate", "note", "media", "metrics"})

# The documented type of every stored column (and of the private timings the derived columns
# come from). "iteration" is always text (the fold keys on it), "state" is kept text by the
# fold itself, "tags" is a list of text; the derived columns are computed from clean values.
#: The text columns (their type is checked as they are folded; DuckDB's fold shares the list).
TEXT_KEYS = (
    "session",
    "action",
    "prompt",
    "aspect_ratio",
    "video_id_sent",
    "video_url_sent",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "task_id",
    "trace_id",
    "raw_state",
    "error_type",
    "error_code",
    "error_message",
    "video_id",
    "video_url",
    "thumbnail_url",
    "echoed_prompt",
    "media_path",
    "parent",
    "experiment",
    "arm",
    "note",
    "backend",
    "toolkit_version",
)
# The measured columns that hold floats (the others are whole numbers).
_FLOAT_METRICS = tuple(column for column in METRIC_COLUMNS if column not in WHOLE_METRIC_COLUMNS)
_NUMBER_KEYS = ("started_at", "timeout", *_FLOAT_METRICS, *_PRIVATE)
#: Whole-number columns and their bounds (a rating is 1-5 stars; sizes fit a pandas Int64).
_WHOLE_KEYS: tuple[tuple[str, int, int], ...] = (
    ("width", 0, 2**31),
    ("height", 0, 2**31),
    ("rating", 1, 5),
    ("schema_version", 0, 2**31),
    ("frames", 0, 2**31),
    ("bitrate", 0, 2**53),
    ("metric_cuts", 0, 2**31),
)
_BOOL_KEYS = ("loop", "enhancement")
# Numbers beyond 2**53 are not exact as floats, and far beyond they overflow float().
_NUMBER_LIMIT = 2**53
_CHECKED = (*TEXT_KEYS, *_NUMBER_KEYS, *(key for key, _, _ in _WHOLE_KEYS), *_BOOL_KEYS)
_CHECKED_VALUES = operator.itemgetter(*_CHECKED)
_CLEAN_TYPES = (
    *([frozenset({str})] * len(TEXT_KEYS)),
    *([frozenset({int, float})] * len(_NUMBER_KEYS)),
    *([frozenset({int})] * len(_WHOLE_KEYS)),
    *([frozenset({bool})] * len(_BOOL_KEYS)),
)
_NUMBERS = slice(len(TEXT_KEYS), len(TEXT_KEYS) + len(_NUMBER_KEYS))
_WHOLE = slice(_NUMBERS.stop, _NUMBERS.stop + len(_WHOLE_KEYS))
_WHOLE_NAMES = frozenset(key for key, _, _ in _WHOLE_KEYS)
# Type signatures of rows already found clean: most rows of a log share a few.
_CLEAN_SIGNATURES: set[tuple[type, ...]] = set()
_ONLY_TEXT = {str}
_SHORT = reprlib.Repr()
_SHORT.maxstring = _SHORT.maxother = 40


# ----------------------------------------------------------------------------- fold


class Fold:
    """Events folded into one row per iteration, in the order iterations first appear.

    Event payload keys are row columns, so folding an event is mostly one ``dict.update``
    (the last value wins). The exceptions: tags accumulate, a finished task's state does not
    go back, and the timing columns are derived on the way out from the API's timings and
    our own clock's marks (``_t_*``).

    Any JSON value may sit in any key of a hand-edited event: on the way out, a value that
    is not of its column's documented type (text, a finite number, a whole number in range,
    a boolean) is dropped — the row shows ``None`` — and reported in :attr:`dropped`.
    """

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, Any]] = {}
        #: ``(iteration, column, short repr of the value)`` of the values dropped since the
        #: caller last emptied the list (to warn about them once).
        self.dropped: list[tuple[str, str, str]] = []

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, iteration: object) -> bool:
        return iteration in self._rows

    def add_all(self, events: Iterable[dict[str, Any]]) -> None:
        """Fold events in file order."""
        rows = self._rows
        new_row = _new_row
        # The task events are most of a log, so their case is written out here, not called.
        terminal, final = TERMINAL_STATES, _FINAL_TASK_STATES
        for event in events:
            iteration = event.get("iteration")
            if type(iteration) is not str:
                continue  # not about an iteration: nothing to fold
            row = rows.get(iteration)
            if row is None:
                row = rows[iteration] = new_row(iteration, event)
            kind = event["event"]
            before = row["state"]  # always text or None: see the end of the loop
            if kind == "update" or kind == "submitted":
                row.update(event)
                state = row["state"]
                if type(state) is not str:  # a hand edit put a list or a number there
                    state = row["state"] = before
                if state not in terminal:
                    if before in final:
                        row["state"] = before  # a late poll answer of a finished task
                    else:
                        row["_t_end"] = None  # e.g. an "outcome_unknown" whose task turned up
                elif row["_t_end"] is None:
                    row["_t_end"] = event.get("t")
                if kind == "submitted" and row["_t_submitted"] is None:
                    row["_t_submitted"] = event.get("t")
                continue
            if kind in _PLAIN_EVENTS:
                row.update(event)
            elif kind == "submitting":
                _add_begin(row, event, before, self.dropped)
            elif kind == "tag":
                _add_tags(row, event.get("tags"), self.dropped)
            elif kind == "submit_failed":
                row.update(event)
                _keep_usable_state(row, before)
                _mark_end(row, event)
            # Unknown kinds come from a newer luma_nb: skipping them keeps old readers working.
            _keep_usable_state(row, before)

    def bad_task_ids(self) -> set[str]:
        """Iterations whose task id was dropped as not text (a hand edit): they have a task,
        but no id to poll it by. (Seen once their rows have been output.)"""
        return {
            iteration
            for iteration, row in self._rows.items()
            if row["_bad_task_id"] is True and row["task_id"] is None
        }

    def find(self, *, task_id: str | None, video_id: str | None) -> str | None:
        """The latest iteration whose ``task_id`` and/or result ``video_id`` match, or None."""
        for row in reversed(self._rows.values()):
            if (task_id is None or row["task_id"] == task_id) and (
                video_id is None or row["video_id"] == video_id
            ):
                return str(row["iteration"])
        return None

    def record(self, iteration: str) -> dict[str, Any] | None:
        """One iteration's row, or None."""
        row = self._rows.get(iteration)
        return None if row is None else _output(row, self.dropped)

    def records(self) -> list[dict[str, Any]]:
        """Every row, keys exactly :data:`COLUMNS`, fresh dicts the caller may change."""
        dropped = self.dropped
        return [_output(row, dropped) for row in self._rows.values()]

    def values(self) -> list[tuple[Any, ...]]:
        """The rows as tuples in :data:`COLUMNS` order: the cheapest input for a DataFrame.

        The ``tags`` lists are the fold's own: :func:`frame` copies them.
        """
        rows = list(self._rows.values())
        dropped = self.dropped
        for row in rows:
            _derive(row, dropped)
        return list(map(_ROW_VALUES, rows))


def _new_row(iteration: str, event: Mapping[str, Any]) -> dict[str, Any]:
    row = _TEMPLATE.copy()
    row["iteration"] = iteration
    row["session"] = event.get("session")
    row["tags"] = []
    row["_t_begin"] = event.get("t")
    return row


def _add_begin(
    row: dict[str, Any],
    event: Mapping[str, Any],
    before: object,
    dropped: list[tuple[str, str, str]],
) -> None:
    tags = row["tags"]
    row.update(event)
    _keep_usable_state(row, before)
    row["tags"] = tags  # tags accumulate: the update must not replace them
    _add_tags(row, event.get("tags"), dropped)
    row["schema_version"] = event.get("v")
    row["_t_begin"] = event.get("t")
    if row["state"] is None:
        row["state"] = "submitting"


def _keep_usable_state(row: dict[str, Any], before: object) -> None:
    """Undo a state that is not text (a hand-edited event): the rest of the fold, and
    ``pending()``, compare states with sets."""
    state = row["state"]
    if state is not None and type(state) is not str:
        row["state"] = before


def _mark_end(row: dict[str, Any], event: Mapping[str, Any]) -> None:
    if row["state"] not in TERMINAL_STATES:
        row["_t_end"] = None
    elif row["_t_end"] is None:
        row["_t_end"] = event.get("t")


def _add_tags(row: dict[str, Any], new: object, dropped: list[tuple[str, str, str]]) -> None:
    tags = row["tags"]
    if type(tags) is not list:  # a hand-edited event put something else there
        tags = row["tags"] = []
    if type(new) is not list:
        if new is not None:
            _report(row, "tags", new, dropped)
        return
    odd = False
    for tag in new:
        if type(tag) is not str:
            odd = True  # left out; the others are kept
        elif tag not in tags:
            tags.append(tag)
    if odd:
        _report(row, "tags", new, dropped)


def _output(row: dict[str, Any], dropped: list[tuple[str, str, str]]) -> dict[str, Any]:
    _derive(row, dropped)
    out = {column: row[column] for column in COLUMNS}
    out["tags"] = _copy_tags(out["tags"])
    return out


def _copy_tags(tags: object) -> list[Any]:
    return list(tags) if type(tags) is list else []


def _derive(row: dict[str, Any], dropped: list[tuple[str, str, str]]) -> None:
    """Clean the row, then fill the timing columns and ``prompt_changed`` from its values.

    ``elapsed`` is the generation time the task reported (:mod:`luma_nb._durations`), never
    our clock. Dates are the API's, else our clock's; on the simulator always ours, because
    its own are on its sped-up clock and would read as real dates that never were.
    """
    _clean(row, dropped)
    created, api_finished = row["api_created_at"], row["api_finished_at"]
    ours = row["_t_submitted"] if row["_t_submitted"] is not None else row["_t_begin"]
    end = row["_t_end"]
    row["elapsed"] = generation_seconds(row["api_elapsed"], created, api_finished)
    if is_simulated(row["backend"]):
        created = api_finished = row["started_at"] = None
    row["submitted_at"] = created if created is not None else ours
    row["finished_at"] = api_finished if api_finished is not None else end
    echoed = row["echoed_prompt"]
    sent = row["prompt"]
    # An extend sent without a prompt has nothing to compare with.
    row["prompt_changed"] = None if echoed is None or sent is None else echoed != sent


def _clean(row: dict[str, Any], dropped: list[tuple[str, str, str]]) -> None:
    """Drop (to ``None``) every value that is not of its column's documented type.

    The fast path: a row whose type signature was seen clean before needs only its numbers
    checked (finite, in range). A row written by luma_nb always takes it.
    """
    tags = row["tags"]
    if type(tags) is not list or (tags and set(map(type, tags)) != _ONLY_TEXT):
        # An update or a plain event that carries "tags" (a hand edit) replaces the list.
        kept = [tag for tag in tags if type(tag) is str] if type(tags) is list else []
        _drop(row, "tags", tags, dropped)
        row["tags"] = list(dict.fromkeys(kept))
    values = _CHECKED_VALUES(row)
    signature = tuple(map(type, values))
    if signature in _CLEAN_SIGNATURES and _numbers_fit(values):
        return
    for key, value, allowed in zip(_CHECKED, values, _CLEAN_TYPES, strict=True):
        if value is None or type(value) in allowed:
            continue
        if key in _WHOLE_NAMES and type(value) is float and value.is_integer():
            row[key] = int(value)  # 1360.0 is a whole number; the range is checked below
        else:
            _drop(row, key, value, dropped)
    for key in _NUMBER_KEYS:
        value = row[key]
        if value is not None and not -_NUMBER_LIMIT <= value <= _NUMBER_LIMIT:
            _drop(row, key, value, dropped)  # beyond 2**53, or NaN (which compares False)
    for key, low, high in _WHOLE_KEYS:
        value = row[key]
        if value is not None and not low <= value <= high:
            _drop(row, key, value, dropped)
    if len(_CLEAN_SIGNATURES) < 4096:  # bounded: a fuzzed log has endless signatures
        _CLEAN_SIGNATURES.add(tuple(map(type, _CHECKED_VALUES(row))))


def _numbers_fit(values: tuple[Any, ...]) -> bool:
    """True when the numbers of a row of clean types are finite and in range."""
    # One C-level pass: a NaN, an infinity or a huge integer fails it (and the slow path then
    # finds which), as would finite values whose sum overflows (harmless: the same result).
    try:
        total = math.fsum([abs(value) for value in values[_NUMBERS] if value is not None])
    except OverflowError:
        return False
    if not total <= _NUMBER_LIMIT:
        return False
    for (_, low, high), value in zip(_WHOLE_KEYS, values[_WHOLE], strict=True):
        if value is not None and not low <= value <= high:
            return False
    return True


def _drop(
    row: dict[str, Any], key: str, value: object, dropped: list[tuple[str, str, str]]
) -> None:
    row[key] = None
    if key == "task_id":
        row["_bad_task_id"] = True
    _report(row, key, value, dropped)


def _report(
    row: dict[str, Any], key: str, value: object, dropped: list[tuple[str, str, str]]
) -> None:
    if len(dropped) < 1000:
        # Our clock's marks come from the events' "t".
        dropped.append(
            (row["iteration"], "t" if key.startswith("_t_") else key, _SHORT.repr(value))
        )


# ----------------------------------------------------------------------------- DataFrame


def frame(values: list[tuple[Any, ...]]) -> Any:
    """A DataFrame of :data:`COLUMNS` from row tuples (:meth:`Fold.values`), built in one go."""
    pd = import_pandas()
    try:
        result = pd.DataFrame(values, columns=list(COLUMNS))
    except UnicodeEncodeError:
        # A lone surrogate (a hand edit) is not UTF-8, which pyarrow-backed text needs (pandas
        # uses it when pyarrow is installed): the column that holds one keeps Python strings.
        result = pd.DataFrame(
            {name: _column(pd, [row[n] for row in values]) for n, name in enumerate(COLUMNS)}
        )
    if values:
        # Copies, so that a later fold cannot change a frame already handed out (taken from
        # the tuples: iterating the Series would cost more than the copies).
        result["tags"] = [_copy_tags(row[_TAGS]) for row in values]
    # Nullable dtypes keep whole numbers whole and booleans boolean next to missing values;
    # the timings stay float64 even when none is known (a simulator row has no started_at).
    for columns, dtype in (
        (("submitted_at", "started_at", "finished_at", "elapsed"), "float64"),
        (("width", "height", "rating", "schema_version"), "Int64"),
        (("frames", "bitrate", "metric_cuts"), "Int64"),
        (_FLOAT_METRICS, "float64"),
        (("loop", "enhancement", "prompt_changed"), "boolean"),
    ):
        for column in columns:
            try:
                result[column] = result[column].astype(dtype)
            except (TypeError, ValueError, OverflowError):
                continue  # a hand-edited log with odd values keeps them as they are
    return result


def _column(pd: Any, data: list[Any]) -> Any:
    try:
        return pd.Series(data, dtype=None)
    except UnicodeEncodeError:
        return pd.Series(data, dtype=pd.StringDtype("python", na_value=float("nan")))


def import_pandas() -> Any:
    """pandas, or a ConfigError naming the extra to install."""
    try:
        import pandas as pd
    except ImportError as exc:
        raise ConfigError(
            "DataFrames of the session log need pandas: "
            'pip install "luma_nb[pandas]" (to_records() works without it)'
        ) from exc
    return pd
