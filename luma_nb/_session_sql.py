"""The SQL of the DuckDB fold (:mod:`luma_nb._session_duckdb`): lines read as Python reads them.

:func:`stream_sql` reads every line once (``read_ndjson_objects``, numbered in file order),
parses each known key as JSON text (so a value keeps its JSON type: ``5`` is not the prompt
``"5"``), checks it, and gives it back with what the fold needs: which values it may give
its row (:data:`SLOTS`: the last value wins, or the first) and the values
(:data:`VALUES`). :mod:`luma_nb._session_stream` folds the rows, has their values typed
(:func:`typed_sql`) and the columns that come from several derived (:func:`derive_sql`).

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
    "FLAGS",
    "NUMBER",
    "ROW_HASH",
    "SLOTS",
    "TEXT",
    "VALUES",
    "WHOLE",
    "derive_sql",
    "events_sql",
    "lines_sql",
    "stream_sql",
    "typed_sql",
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
# each set is taken from the last such line, whole.
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
# A measurement's keys are read from the "metrics" line with json_extract (below), not
# parsed into the struct: each key parsed costs on every line.
_STRUCT = "{" + ",".join(f'"{key}":"JSON"' for key in _KEYS if key not in _MEASURED) + "}"
_WHOLE_MEASUREMENT = " AND ".join(
    f"m[{METRIC_COLUMNS.index(key) + 1}] IS NOT NULL" for key in _MEASURED
)
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
    if key in _MEASURED:  # only in a "metrics" line (m)
        return f"m[{METRIC_COLUMNS.index(key) + 1}]"
    if key in METRIC_COLUMNS:  # width and height: a measurement's, or a task's
        return f'coalesce(m[{METRIC_COLUMNS.index(key) + 1}], s."{key}")'
    return f's."{key}"'


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
    make it longer (a number with an exponent too: ``1e2`` becomes ``100.0``; ``1e0``, as
    long as ``1.0``, is read as 1.0 by both). DuckDB reads ``nan``, ``inf`` and their kin,
    which Python does not, or reads as floats: a value starting so is odd (looked for with
    ``contains`` first, much cheaper than a regular expression on every line).
    """
    return f"""(
        starts_with({line}, '{{') AND starts_with(s.event, '"')
        AND strlen({line}) = 1 + {_PARTS}
        AND NOT (contains({line}, ':N') OR contains({line}, ':I') OR contains({line}, ':i')
                 OR contains({line}, ':-') AND regexp_matches({line}, ':-[nNiI]')
                 OR contains({line}, ':n') AND regexp_matches({line}, ':n[^u]'))
        AND coalesce({_NUMERIC.format("s.t")}, false)
        AND starts_with(s.session, '"')
        AND (s.state IS NULL OR (s.event IN {_STATE_SETTING} AND starts_with(s.state, '"')))
        AND (s.event <> '"submit_failed"' OR s.state IN {_TERMINAL})
        AND (s.event <> '"submitting"' OR s.v IS NOT NULL)
        AND (s.event = '"submitting"' OR ({" AND ".join(f's."{k}" IS NULL' for k in _BEGIN)}))
        AND (s.event <> '"metrics"' OR {_WHOLE_MEASUREMENT})
        AND (s.tags IS NULL OR (s.event IN {_kinds("submitting", "tag")}
                                AND regexp_full_match(s.tags, '{_TEXT_LIST}')))
    )"""


def _text(value: str) -> str:
    """The string of a JSON string text (NULL for anything else)."""
    return f"CASE WHEN starts_with({value}, '\"') THEN {value}->>'$' END"


def _fraction(value: str) -> str:
    """Whether a JSON number's text is not a whole number (a point or an exponent)."""
    return f"(contains({value}, '.') OR contains({value}, 'e') OR contains({value}, 'E'))"


def _category(key: str) -> str:
    """How a key's JSON text is typed: ``text``, ``number``, ``whole`` or ``bool``."""
    if key in WHOLE or key == "v":
        return "whole"
    if key in NUMBER or key == "t":
        return "number"
    return "bool" if key in BOOL else "text"


def _typed(key: str, value: str, name: str) -> list[tuple[str, str]]:
    """``(column, expression)`` of the value of ``key`` in the JSON text ``value``: text,
    DOUBLE (``timeout`` also with ``timeout__i``: a whole number in the JSON), BIGINT or
    BOOLEAN, as the column is in the frame (NULL where it is not of that type: see
    :func:`_wrong`)."""
    category = _category(key)
    if category == "text":
        return [(name, _text(value))]
    if category == "whole":
        return [(name, f"TRY_CAST({value} AS BIGINT)")]
    if category == "bool":
        return [(name, f"{value} = 'true'")]
    typed = [(name, f"TRY_CAST({value} AS DOUBLE)")]
    if key == "timeout":  # the only number whose frame column is int64 when all are whole
        typed.append((f"{name}__i", f"NOT {_fraction(value)}"))
    return typed


def _wrong(key: str, value: str) -> str:
    """True when the JSON text ``value`` is not of the type (or range) of ``key``'s column."""
    category = _category(key)
    if category == "text":
        check = f"NOT starts_with({value}, '\"')"
    elif category == "bool":
        check = f"{value} NOT IN ('true', 'false')"
    elif category == "whole":
        low, high = WHOLE.get(key, (0, 2**31))
        check = (
            f"CASE WHEN {_fraction(value)} THEN true "
            f"ELSE NOT coalesce(TRY_CAST({value} AS HUGEINT) BETWEEN {low} AND {high}, false) END"
        )
    else:
        # Up to 15 characters, a number is under 10**15 < 2**53: no need to look closer.
        fraction = f"abs(TRY_CAST({value} AS DOUBLE)) <= {_LIMIT}"
        whole = f"TRY_CAST({value} AS HUGEINT) BETWEEN -{_LIMIT} AND {_LIMIT}"
        check = (
            f"CASE WHEN NOT {_NUMERIC.format(value)} THEN true "
            f"WHEN strlen({value}) <= 15 THEN false "
            f"WHEN {_fraction(value)} THEN NOT coalesce({fraction}, false) "
            f"ELSE NOT coalesce({whole}, false) END"
        )
    return f"CASE WHEN {value} IS NULL THEN false ELSE {check} END"


def _line_value(key: str) -> str:
    """A key's JSON text in a line, a measurement's unknown value (``null``) as NULL."""
    return f"nullif({_value(key)}, 'null')" if key in METRIC_COLUMNS else f's."{key}"'


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
           j IS NOT NULL AND NOT coalesce({_plain("j")} AND NOT ({_WRONG_IN_LINE}), false)
               AS odd
    FROM measured
"""


def _packed(kind: str, typed: list[tuple[str, str]]) -> str:
    """A struct of ``typed`` values on the lines of ``kind`` (NULL on the others)."""
    fields = ", ".join(f'"{name}" := {expr}' for name, expr in typed)
    return f"CASE WHEN kind = '\"{kind}\"' THEN struct_pack({fields}) END"


# A line's values: column -> (the key that says how it is typed, its expression in the
# line; NULL where the line has none). Most are JSON texts, typed once a row has taken them
# (:func:`typed_sql`): ``typed`` ones are typed in the line already (a request's and a
# measurement's: many columns, a sixth of the lines; typing them in the rows would hold
# them twice), their line odd when one is not of its column's type (see _WRONG_IN_LINE).
VALUES: dict[str, tuple[str, str]] = {
    **{key: (key, _line_value(key)) for key in _LAST},
    "session": ("session", "s.session"),
    "t": ("t", "s.t"),
    "state": ("state", "s.state"),
    "line_tags": ("tags", "s.tags"),
    # Structs of typed values, made for the lines that hold them only.
    "request": ("typed", _packed("submitting", [
        *(typed for key in _BEGIN for typed in _typed(key, f's."{key}"', key)),
        ("schema_version", "TRY_CAST(s.v AS BIGINT)"),
    ])),
    "measurement": ("typed", _packed("metrics", [
        typed for key in _MEASURED for typed in _typed(key, _line_value(key), key)
    ])),
}  # fmt: skip
# A request's or a measurement's value not of its column's type or range: the line is odd.
_WRONG_IN_LINE = f"""CASE s.event
    WHEN '"submitting"' THEN {" OR ".join(_wrong(k, f's."{k}"') for k in ("v", *_BEGIN))}
    WHEN '"metrics"' THEN {" OR ".join(_wrong(k, _line_value(k)) for k in _MEASURED)}
    ELSE false END"""
# The groups of values a row takes from one line each: the last line that counts for it
# ("max") or the first ("min"). Name -> (which, whether a line counts, {the row's column:
# the line's column}).
SLOTS: dict[str, tuple[str, str, dict[str, str]]] = {
    **{key: ("max", f"o IS NOT NULL AND {_value(key)} IS NOT NULL", {key: key})
       for key in _LAST},
    "session_last": ("max", "o IS NOT NULL AND s.session IS NOT NULL",
                     {"session_last": "session"}),
    "session_first": ("min", "s.session IS NOT NULL", {"session_first": "session"}),
    "t_first": ("min", "s.t IS NOT NULL", {"t_first": "t"}),
    # The last "submitting" line: the request, whole.
    "begin": ("max", "kind = '\"submitting\"'", {
        "request": "request", "begin_t": "t", "begin_tags": "line_tags",
    }),
    # The last "metrics" line: a measurement, whole (a new one replaces the last).
    "metrics": ("max", "kind = '\"metrics\"'", {"measurement": "measurement"}),
    "t_sub": ("min", "kind = '\"submitted\"' AND s.t IS NOT NULL", {"t_sub": "t"}),
    "term": ("max", "term", {"term_state": "state"}),
    "t_end": ("min", "term AND s.t IS NOT NULL", {"t_end": "t"}),
    "live": ("max", f"kind IN {_TASK} AND NOT term", {"live_state": "state"}),
}  # fmt: skip


def typed_sql(columns: dict[str, str], table: str) -> str:
    """The values of ``table`` (``columns``: each column's line column in :data:`VALUES`)
    typed as their frame columns, in its order, and ``wrong``: one is not of its column's
    type or range (the row is then folded by Python). Tags stay JSON texts."""
    typed: list[str] = []
    wrong: list[str] = []
    for column, source in columns.items():
        key = VALUES[source][0]
        if key in ("tags", "typed"):
            typed.append(f'"{column}"')
            continue
        typed.extend(f'{expr} AS "{n}"' for n, expr in _typed(key, f'"{column}"', column))
        wrong.append(_wrong(key, f'"{column}"'))
    return f"SELECT {', '.join(typed)}, {' OR '.join(wrong) or 'false'} AS wrong FROM {table}"


#: A line's flags other than its slots', in :func:`stream_sql`'s ``flags``, after theirs.
FLAGS = ("odd", "torn", "tag", "reopen")
#: The key a line's row is found by: a hash of its file and iteration (two rows' keys are
#: told apart by their file and iteration, should their hashes meet).
ROW_HASH = "hash(f, it)"


def stream_sql(files: str = "$1", first_line: str = "$2", last_line: str = "$3") -> str:
    """Lines ``first_line`` to ``last_line`` of the files (a list parameter), in order, a row
    each, for the caller to fold (:mod:`luma_nb._session_stream`): nothing is aggregated here.

    Columns: ``f`` (the file's index), ``it`` (the iteration's JSON text, NULL for a line
    with none), ``h`` (:data:`ROW_HASH`), ``ord`` (the line's number, counted across the
    files), ``bytes`` (its length with its newline), ``flags`` (a bit for each slot of
    :data:`SLOTS`: the line counts for it; then for each of :data:`FLAGS`: Python must read
    it, DuckDB could not parse it, a ``tag`` event, an ``outcome_unknown`` state), and the
    line's :data:`VALUES` (JSON texts: typed once a row has taken them, :func:`typed_sql`).
    """
    conditions = [f"({when})" for _, when, _ in SLOTS.values()]
    conditions += ["odd", "torn", "kind = '\"tag\"'", "term AND s.state = '\"outcome_unknown\"'"]
    flags = " | ".join(
        f"(coalesce({when}, false)::BIGINT << {bit})" for bit, when in enumerate(conditions)
    )
    values = ", ".join(f'{expr} AS "{column}"' for column, (_, expr) in VALUES.items())
    return f"""
{_events(files, f"ord BETWEEN {first_line} AND {last_line}")})
SELECT f, it, {ROW_HASH} AS h, ord, bytes, {flags} AS flags,
    {values}
FROM events
"""


def derive_sql(folded: str) -> str:
    """The columns derived from several of a row's values, one row per row of the relation
    ``folded`` (the rows :mod:`luma_nb._session_stream` folded), in its order: ``route``
    (fold it in Python instead), ``iteration``, ``session``, ``state``, ``tags``,
    ``elapsed``, ``started_at``, ``submitted_at``, ``finished_at``, ``prompt_changed``."""
    # A poll answer after a finished state is ignored (no reopening): only a task state after
    # an outcome_unknown (resumed) changes the order of things, and that is left to Python.
    reopened = "coalesce(live_ord > term_ord AND reopened, false)"
    tags = """list_concat(
            coalesce(from_json(begin_tags, '["VARCHAR"]'), []),
            coalesce(flatten(list_transform(list_sort(tag_lists),
                                            lambda x: from_json(x.t, '["VARCHAR"]'))), []))"""
    return f"""
WITH steps AS (
    SELECT *, coalesce(backend = 'simulator', false) AS simulated, {tags} AS tag_list
    FROM {folded}
)
SELECT
    coalesce(odd OR wrong OR {reopened} OR begins > 1
             OR coalesce(first_tag_ord < begin_ord, false)
             OR session_last IS NULL AND session_first IS NULL, true) AS route,
    {_text("iteration")} AS iteration,
    coalesce(session_last, session_first) AS session,
    CASE WHEN {reopened} THEN NULL
         ELSE coalesce(term_state, live_state, CASE WHEN begins > 0 THEN 'submitting' END)
    END AS state,
    list_filter(tag_list, lambda x, i: list_position(tag_list, x) = i) AS tags,
    -- The generation time the task reported (its elapsed, else finished - created), as
    -- luma_nb._durations.generation_seconds reads it: finite, not negative, a float.
    coalesce(
        CASE WHEN api_elapsed >= 0 THEN api_elapsed + 0.0 END,
        CASE WHEN api_created_at >= 0 AND api_finished_at >= 0
                  AND api_finished_at - api_created_at >= 0
             THEN api_finished_at - api_created_at + 0.0 END) AS elapsed,
    -- Dates: the API's, else our clock's; on the simulator (its own clock) always ours.
    CASE WHEN NOT simulated THEN started_at END AS started_at,
    coalesce(CASE WHEN NOT simulated THEN api_created_at END, t_sub, begin_t, t_first)
        AS submitted_at,
    coalesce(CASE WHEN NOT simulated THEN api_finished_at END, t_end) AS finished_at,
    CASE WHEN echoed_prompt IS NOT NULL AND prompt IS NOT NULL
         THEN echoed_prompt <> prompt END AS prompt_changed
FROM steps
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
