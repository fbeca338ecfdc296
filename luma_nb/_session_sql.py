"""The SQL of the DuckDB fold (:mod:`luma_nb._session_duckdb`): one pass over the lines.

The pass reads every line once (``read_ndjson_objects``, in file order on every core), parses
each known key as JSON text (so a value keeps its JSON type: ``5`` is not the prompt ``"5"``),
and folds one row per iteration with one aggregate per key: the last value wins
(``arg_max`` over the line number). The Python fold's other rules (a late poll, our clock's
marks, tags) are a handful of aggregates more.

It folds only what it can prove it reads as Python does. A line is *odd* — judged by Python
later — unless it is a compact JSON object (as ``json.dumps`` writes it: no blank, no
trailing comma) whose every key is known, present once and not null, with no ``nan`` or
``inf`` literal, its ``t`` a number, its ``state`` text in a task event, its ``tags`` a list
of text in ``submitting``/``tag``. A row is *routed* to the Python fold when a line of it is
odd, when its states do not come in the usual order (a terminal state, then a non-terminal
one after an ``outcome_unknown``: a resumed task), or when a final value is not of its
column's type or range. Routed rows are replaced by what the Python fold gives for them.

Key names below are the fold's own constants; paths and values are always bound parameters.
"""

from __future__ import annotations

from luma_nb._session_fold import REQUEST_COLUMNS, TERMINAL_STATES, TEXT_KEYS
from luma_nb._session_payload import METRIC_COLUMNS, WHOLE_METRIC_COLUMNS

__all__ = [
    "BOOL",
    "NUMBER",
    "TEXT",
    "WHOLE",
    "events_sql",
    "fold_sql",
    "lines_sql",
]

#: Text columns whose last value wins (``session`` has a rule of its own).
TEXT: tuple[str, ...] = tuple(column for column in TEXT_KEYS if column != "session")
#: Number columns (and the API's timings, the measured floats) whose last value wins.
NUMBER: tuple[str, ...] = (
    "started_at",
    "timeout",
    "api_created_at",
    "api_finished_at",
    "api_elapsed",
    *(column for column in METRIC_COLUMNS if column not in WHOLE_METRIC_COLUMNS),
)
#: Whole-number columns and their bounds, as the Python fold checks them.
WHOLE: dict[str, tuple[int, int]] = {
    "width": (0, 2**31),
    "height": (0, 2**31),
    "rating": (1, 5),
    "frames": (0, 2**31),
    "bitrate": (0, 2**53),
    "metric_cuts": (0, 2**31),
}
BOOL: tuple[str, ...] = ("loop", "enhancement")
# Keys only a "submitting" line holds (one per iteration: begin claims its id), and the keys
# a measurement holds (each "metrics" line holds them all: a new one replaces the last whole):
# each set is read back from the last such line, one aggregate instead of one per key — the
# fold's memory is mostly its aggregates, ~75 bytes each per iteration even when empty.
_BEGIN = (
    *(column for _, column in REQUEST_COLUMNS),
    "backend",
    "parent",
    "experiment",
    "arm",
    "toolkit_version",
)
_MEASURED = tuple(column for column in METRIC_COLUMNS if column not in ("width", "height"))
_LAST = tuple(key for key in (*TEXT, *NUMBER, *WHOLE, *BOOL) if key not in (*_BEGIN, *_MEASURED))
# Every key a plain line may hold; any other key makes the line odd.
_KEYS = (
    "v", "event", "t", "session", "iteration", "state", "tags", "status_code",
    *_LAST, *_BEGIN, *_MEASURED,
)  # fmt: skip
_STRUCT = "{" + ",".join(f'"{key}":"JSON"' for key in _KEYS) + "}"
_WHOLE_MEASUREMENT = " AND ".join(
    f"m[{METRIC_COLUMNS.index(key) + 1}] IS NOT NULL" for key in _MEASURED
)
# A "submitting" line's values, kept as a JSON array of them in this order: an aggregate's
# memory is about four times the text it holds, and the keys, quotes and envelope made up
# more than half of the whole line.
_BEGIN_KEYS = ("t", "v", "tags", *_BEGIN)
_BEGIN_VALUES = (
    "'[' || concat_ws(',', "
    + ", ".join(f"coalesce(s.\"{key}\", 'null')" for key in _BEGIN_KEYS)
    + ") || ']'"
)


def _begin(key: str) -> str:
    """``key`` of the folded "submitting" line (NULL when absent)."""
    return f"b[{_BEGIN_KEYS.index(key) + 1}]"


_LIMIT = 2**53


def _kinds(*names: str) -> str:
    # JSON texts: a parsed value keeps its quotes, and from_json writes it canonically.
    return "(" + ", ".join(f"'\"{name}\"'" for name in names) + ")"


_OVERWRITING = _kinds(
    "update", "submitted", "rate", "note", "media", "metrics", "submitting", "submit_failed"
)
# A measurement records its unknown values as null (a new one replaces the last whole): in a
# "metrics" line, those keys are read with json_extract, which keeps a null ('null').
_PATHS = "[" + ", ".join(f"'$.\"{column}\"'" for column in METRIC_COLUMNS) + "]"


def _value(key: str) -> str:
    """A key's JSON text in a line (``'null'`` for a measured value left unknown)."""
    if key in METRIC_COLUMNS:
        return f'coalesce(m[{METRIC_COLUMNS.index(key) + 1}], s."{key}")'
    return f's."{key}"'


def _measured(key: str) -> str:
    """A folded key's last JSON text, a measurement's null as NULL."""
    return f"nullif({key}, 'null')" if key in METRIC_COLUMNS else key


_TASK = _kinds("submitted", "update")
_STATE_SETTING = _kinds("submitted", "update", "submit_failed")
_TERMINAL = _kinds(*sorted(TERMINAL_STATES))
# The JSON text of a line as json.dumps writes it is its own length: the sum of its parts.
_PARTS = " + ".join(f"coalesce(strlen({_value(key)}) + {len(key) + 4}, 0)" for key in _KEYS)
# A list of JSON strings, compact: ["a","b\"c"].
_TEXT_LIST = r'\[("([^"\\]|\\.)*"(,"([^"\\]|\\.)*")*)?\]'
_NUMERIC = "(ascii({0}) BETWEEN 48 AND 57 OR ascii({0}) = 45)"  # a digit or a minus sign


def _plain(line: str) -> str:
    """True when ``line`` (with ``s``, its keys parsed) is read exactly as Python reads it.

    Its length must be the sum of its parts as from_json writes them back: a blank outside a
    string, a trailing comma, a key unknown or repeated, a ``null`` (but a measurement's) all
    make it longer. No value re-written is longer than it was written, but a number with an
    exponent (``1e2`` becomes ``100.0``): such lines are odd, with ``nan``/``inf`` literals.
    """
    return f"""(
        starts_with({line}, '{{') AND starts_with(s.event, '"')
        AND strlen({line}) = 1 + {_PARTS}
        AND NOT regexp_matches({line}, ':-?(n[^u]|[NiI]|[0-9][0-9.]*[eE])')
        AND coalesce({_NUMERIC.format("s.t")}, false)
        AND starts_with(s.session, '"')
        AND (s.state IS NULL OR (s.event IN {_STATE_SETTING} AND starts_with(s.state, '"')))
        AND (s.event <> '"submit_failed"' OR s.state IN {_TERMINAL})
        AND (s.event <> '"submitting"' OR s.v IS NOT NULL)
        AND (s.event = '"submitting"' OR ({" AND ".join(f's."{k}" IS NULL' for k in _BEGIN)}))
        AND CASE WHEN s.event = '"metrics"' THEN {_WHOLE_MEASUREMENT}
                 ELSE {" AND ".join(f's."{k}" IS NULL' for k in _MEASURED)} END
        AND (s.tags IS NULL OR (s.event IN {_kinds("submitting", "tag")}
                                AND regexp_full_match(s.tags, '{_TEXT_LIST}')))
    )"""


def _text(value: str) -> str:
    """The string of a JSON string text (NULL for anything else)."""
    return f"CASE WHEN starts_with({value}, '\"') THEN {value}->>'$' END"


def _number(name: str, value: str, bad: list[str]) -> str:
    """``name`` (DOUBLE) and ``name__i`` (a whole number in the JSON) from a JSON text."""
    whole = f"NOT regexp_matches({value}, '[.eE]')"
    fits = (
        f"CASE WHEN {whole} THEN TRY_CAST({value} AS HUGEINT) BETWEEN -{_LIMIT} AND {_LIMIT}"
        f" ELSE abs(TRY_CAST({value} AS DOUBLE)) <= {_LIMIT} END"
    )
    bad.append(
        f"({value} IS NOT NULL AND NOT coalesce({_NUMERIC.format(value)} AND {fits}, false))"
    )
    return f"TRY_CAST({value} AS DOUBLE) AS {name}, {whole} AS {name}__i"


def _events(files: str, lines: str = "") -> str:
    """The per-line CTEs: ``lines`` (numbered in file order), ``parsed`` (the lines whose
    number passes the condition ``lines``, if any), ``measured``, ``events``."""
    return f"""
WITH lines AS (
    SELECT file_index::INTEGER AS f, row_number() OVER () AS ord, json AS j
    FROM read_ndjson_objects({files}, ignore_errors = true, compression = 'none')
), parsed AS (
    SELECT f, ord, j, from_json(j, '{_STRUCT}') AS s FROM lines {lines and f"WHERE {lines}"}
), measured AS (
    SELECT *, CASE WHEN s.event = '"metrics"' THEN json_extract(j, {_PATHS}) END AS m
    FROM parsed
), events AS (
    SELECT f, ord, j, j IS NULL AS torn, strlen(j) + 1 AS bytes, s, m, s.event AS kind,
           CASE WHEN starts_with(s.iteration, '"') THEN s.iteration END AS it,
           CASE WHEN s.event IN {_OVERWRITING} THEN ord END AS o,
           s.state IN {_TERMINAL} AS term,
           j IS NOT NULL AND NOT {_plain("j")} AS odd
    FROM measured
"""


def fold_sql(files: str = "$1", first_line: str = "$2", last_line: str = "$3") -> str:
    """One row per ``(file, iteration)`` of the files (a list parameter), in no order.

    Columns: ``f`` (the file's index), ``first_ord`` (its first line, counted across the
    files), ``route`` (fold it in Python instead), the row's values (numbers as DOUBLE with a
    ``__i`` flag for a whole number, the derived columns too), and the counts the caller
    checks each file with: ``lines``, ``torn`` (lines DuckDB could not parse), ``bytes`` (of
    the parsed lines, newlines included) and ``n_odd``. Lines with no iteration make one row
    per file whose ``iteration`` is NULL. Rows come in no order (sort by ``f, first_ord``).
    """
    last = ",\n        ".join(f'arg_max({_value(key)}, o) AS "{key}"' for key in _LAST)
    bad: list[str] = []
    out = [f"{_text(key)} AS {key}" for key in ("iteration", *TEXT)]
    bad += [f"({key} IS NOT NULL AND NOT starts_with({key}, '\"'))" for key in TEXT]
    out.append(f"{_text('session')} AS session")
    bad.append("NOT starts_with(session, '\"')")
    out.append(f"{_text('state')} AS state")
    for key in NUMBER:
        out.append(_number(key, _measured(key), bad))
    for key, value in (("_t_begin", "t_begin"), ("_t_submitted", "t_sub"), ("_t_end", "t_end")):
        out.append(_number(key, value, bad))
    for key, (low, high) in (*WHOLE.items(), ("schema_version", (0, 2**31))):
        value = "v" if key == "schema_version" else _measured(key)
        ok = f"coalesce(NOT regexp_matches({value}, '[.eE]') AND TRY_CAST({value} AS HUGEINT) BETWEEN {low} AND {high}, false)"  # noqa: E501
        out.append(f"CASE WHEN {ok} THEN {value}::BIGINT END AS {key}")
        bad.append(f"({value} IS NOT NULL AND NOT {ok})")
    for key in BOOL:
        out.append(f"CASE WHEN {key} IN ('true', 'false') THEN {key} = 'true' END AS {key}")
        bad.append(f"({key} IS NOT NULL AND {key} NOT IN ('true', 'false'))")
    # A poll answer after a finished state is ignored (no reopening): only a task state after
    # an outcome_unknown (resumed) changes the order of things, and that is left to Python.
    irregular = "coalesce(live_ord > term_ord AND reopened, false)"
    return f"""
{_events(files, f"ord BETWEEN {first_line} AND {last_line}")}), folded AS (
    SELECT f, it AS iteration, min(ord) AS first_ord, max(ord) AS last_ord, bool_or(odd) AS odd,
        count(*) AS lines, count(*) FILTER (WHERE torn) AS torn,
        coalesce(sum(bytes), 0)::BIGINT AS bytes, count(*) FILTER (WHERE odd) AS n_odd,
        {last},
        coalesce(arg_max(s.session, o), arg_min(s.session, ord)) AS session,
        arg_min(s.t, ord) AS t_first,
        arg_max(CASE WHEN kind = '"submitting"' THEN {_BEGIN_VALUES} END,
                CASE WHEN kind = '"submitting"' THEN ord END) AS begin_line,
        max(CASE WHEN kind = '"submitting"' THEN ord END) AS begin_ord,
        count(*) FILTER (WHERE kind = '"submitting"') AS begins,
        arg_max(j, CASE WHEN kind = '"metrics"' THEN ord END) AS metrics_line,
        min(CASE WHEN kind = '"tag"' THEN ord END) AS first_tag_ord,
        arg_min(s.t, CASE WHEN kind = '"submitted"' THEN ord END) AS t_sub,
        arg_max(s.state, CASE WHEN term THEN ord END) AS term_state,
        arg_min(s.t, CASE WHEN term THEN ord END) AS t_end,
        min(CASE WHEN term THEN ord END) AS term_ord,
        arg_max(s.state, CASE WHEN kind IN {_TASK} AND NOT term THEN ord END) AS live_state,
        max(CASE WHEN kind IN {_TASK} AND NOT term THEN ord END) AS live_ord,
        bool_or(term AND s.state = '"outcome_unknown"') AS reopened,
        list({{'o': ord, 't': s.tags}}) FILTER (WHERE kind = '"tag"') AS tag_lists
    FROM events
    GROUP BY f, it
), unpacked AS (
    SELECT * EXCLUDE (begin_line, metrics_line),
        from_json(begin_line, '["JSON"]') AS b,
        json_extract(metrics_line, {_PATHS}) AS mm
    FROM folded
), steps AS (
    SELECT * EXCLUDE (term_state, live_state, b, mm),
        {", ".join(f'{_begin(k)} AS "{k}"' for k in _BEGIN)},
        {", ".join(f'mm[{METRIC_COLUMNS.index(k) + 1}] AS "{k}"' for k in _MEASURED)},
        {_begin("v")} AS v,
        CASE WHEN {irregular} THEN NULL
             ELSE coalesce(term_state, live_state,
                           CASE WHEN begins > 0 THEN '"submitting"' END) END AS state,
        coalesce({_begin("t")}, t_first) AS t_begin,
        {irregular} OR begins > 1 OR coalesce(first_tag_ord < begin_ord, false) AS irregular,
        list_concat(
            coalesce(from_json({_begin("tags")}, '["VARCHAR"]'), []),
            coalesce(flatten(list_transform(list_sort(tag_lists),
                                            lambda x: from_json(x.t, '["VARCHAR"]'))), [])
        ) AS tag_list
    FROM unpacked
), typed AS (
    SELECT f, first_ord, last_ord, odd, irregular, lines, torn, bytes, n_odd,
        {", ".join(out)},
        coalesce(backend = '"simulator"', false) AS simulated,
        list_filter(tag_list, lambda x, i: list_position(tag_list, x) = i) AS tags,
        {" OR ".join(bad)} AS wrong
    FROM steps
)
SELECT * EXCLUDE (odd, irregular, wrong, started_at),
    coalesce(odd OR irregular OR wrong, true) AS route,
    -- The generation time the task reported (its elapsed, else finished - created), as
    -- luma_nb._durations.generation_seconds reads it: finite, not negative, a float.
    coalesce(
        CASE WHEN api_elapsed >= 0 THEN api_elapsed + 0.0 END,
        CASE WHEN api_created_at >= 0 AND api_finished_at >= 0
                  AND api_finished_at - api_created_at >= 0
             THEN api_finished_at - api_created_at + 0.0 END) AS elapsed,
    -- Dates: the API's, else our clock's; on the simulator (its own clock) always ours.
    CASE WHEN NOT simulated THEN started_at END AS started_at,
    coalesce(CASE WHEN NOT simulated THEN api_created_at END, _t_submitted, _t_begin)
        AS submitted_at,
    coalesce(CASE WHEN NOT simulated THEN api_finished_at END, _t_end) AS finished_at,
    CASE WHEN echoed_prompt IS NOT NULL AND prompt IS NOT NULL
         THEN echoed_prompt <> prompt END AS prompt_changed
FROM typed
"""


def lines_sql(files: str = "$1", iterations: str = "$2") -> str:
    """The lines Python must read: ``f``, ``ord``, the text, ``odd``, ``torn``, for every odd
    or torn line and every line of an iteration in the list ``iterations`` (``f:iteration``)."""
    iteration = _text("it")
    return f"""{_events(files)})
SELECT f, ord, j, odd, torn FROM events
WHERE odd OR torn OR f::VARCHAR || ':' || {iteration} IN (SELECT unnest({iterations}::VARCHAR[]))
ORDER BY ord
"""


def events_sql(file: str = "$1", session: str = "$2") -> str:
    """Every readable event of one file (a parameter) as a row: ``session`` (the parameter),
    ``seq`` (its order in the file), ``event``, ``iteration``, ``t``, ``state`` (NULL where
    not text or not a number) and the line itself as ``json``. Lines that are not JSON
    objects with a text ``event`` are left out, as the fold leaves them."""
    number = f"CASE WHEN {_NUMERIC.format('s.t')} THEN TRY_CAST(s.t AS DOUBLE) END"
    return f"""
SELECT {session}::VARCHAR AS session, seq, {_text("s.event")} AS event,
       {_text("s.iteration")} AS iteration, {number} AS t, {_text("s.state")} AS state,
       j AS json
FROM (
    SELECT row_number() OVER () AS seq, json AS j,
           from_json(json, '{{"event":"JSON","iteration":"JSON","t":"JSON","state":"JSON"}}') AS s
    FROM read_ndjson_objects({file}, ignore_errors = true, compression = 'none')
)
WHERE starts_with(j, '{{') AND starts_with(s.event, '"')
"""
