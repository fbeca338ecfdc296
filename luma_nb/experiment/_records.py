"""The tidy records of a study: one per planned video, from its plan and its log row.

Beside the fixed :data:`TIDY_COLUMNS`, a record has one ``level_<factor>`` column per factor
(the level's label), one ``slot_<name>`` column per block slot of a prompt template, and
whatever measurements the log row carries: every ``metric_<name>`` and the technical
:data:`MEASURED` columns (``duration``, ``fps``...). :func:`columns` lists them in order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from luma_nb._session_fold import TERMINAL_STATES, import_pandas, usable_task_id
from luma_nb.experiment import _stats
from luma_nb.experiment._plan import Plan, Unit

if TYPE_CHECKING:
    import pandas

__all__ = [
    "MEASURED",
    "NOT_SUBMITTED",
    "TIDY_COLUMNS",
    "columns",
    "is_unresolved",
    "tidy_frame",
    "tidy_record",
]

#: The columns of :meth:`Experiment.to_dataframe`, in order (see ``docs/experiments.md``).
TIDY_COLUMNS = (
    "experiment",
    "pair",
    "repeat",
    "prompt_index",
    "arm",
    "enhancement",
    "order",
    "prompt",
    "iteration",
    "state",
    "task_id",
    "elapsed",
    "rating",
    "note",
    "echoed_prompt",
    "prompt_changed",
    "edit_distance",
    "edit_ratio",
    "video_url",
    "media_path",
    "thumbnail_url",
    "width",
    "height",
    "aspect_ratio",
    "loop",
    "start_image_url",
    "end_image_url",
    "error_type",
    "error_code",
    "error_message",
    "trace_id",
    "submitted_at",
    "finished_at",
    "backend",
    "session",
)
# Copied from the log row as they are: the tidy columns from "task_id" on, but the two
# computed from the prompts.
_FROM_ROW = tuple(
    column
    for column in TIDY_COLUMNS[TIDY_COLUMNS.index("task_id") :]
    if column not in ("edit_distance", "edit_ratio")
)
#: The state of a planned video that was never begun.
NOT_SUBMITTED = "not_submitted"
#: Technical measurements of a video, copied from its log row when the row has them.
MEASURED = ("duration", "fps", "frames", "bitrate")
_SENT = ("aspect_ratio", "loop", "start_image_url", "end_image_url")
_METRIC = "metric_"


def tidy_record(
    plan: Plan, unit: Unit, row: Mapping[str, Any] | None, *, order: int, iteration: str
) -> dict[str, Any]:
    """The record of ``unit`` (keys :data:`TIDY_COLUMNS`); ``row`` is its log row, if any.

    The row comes from :meth:`SessionLog.to_records`, so every value has its documented
    type or is None, whatever a hand edit wrote.
    """
    record: dict[str, Any] = dict.fromkeys(TIDY_COLUMNS)
    arm = plan.arm(unit.arm)
    record.update(
        experiment=plan.experiment,
        pair=unit.pair,
        repeat=unit.repeat,
        prompt_index=unit.prompt_index,
        arm=arm.name,
        order=order,
        prompt=plan.prompt(unit),
        iteration=iteration,
        state=NOT_SUBMITTED,
    )
    # What the plan sends, so a video never submitted still says what it would have been.
    fields = {**plan.params, **{f.name: f.value(arm.label(f.name)) for f in plan.factors}}
    for name in ("enhancement", "aspect_ratio", "loop", "start_image_url", "end_image_url"):
        record[name] = fields.get(name)
    record.update((f"level_{factor}", label) for factor, label in arm.levels)
    if plan.design.block_slots:
        slots = plan.design.block_slots[unit.prompt_index]
        record.update((f"slot_{name}", value) for name, value in slots.items())
    if row is None:
        return record
    # What the row says was sent wins over the plan, unless a hand edit left it empty.
    record.update(
        {key: row.get(key) for key in _FROM_ROW if key not in _SENT or row.get(key) is not None}
    )
    for key, value in row.items():
        if key.startswith(_METRIC) or key in MEASURED:
            record[key] = value
    record["state"] = row.get("state") or "unknown"
    sent, echoed = row.get("prompt"), row.get("echoed_prompt")
    if isinstance(sent, str) and sent:
        record["prompt"] = sent
    if isinstance(sent, str) and isinstance(echoed, str):
        distance = _stats.bounded_edit_distance(sent, echoed)
        if distance is not None:
            record["edit_distance"] = distance
            longest = max(len(sent), len(echoed))
            record["edit_ratio"] = distance / longest if longest else 0.0
    return record


def is_unresolved(record: Mapping[str, Any]) -> bool:
    """True for a video whose submit may have been billed but has no task to wait for."""
    state = record["state"]
    if state == "outcome_unknown":
        return True
    begun = state not in TERMINAL_STATES and state != NOT_SUBMITTED
    return begun and not usable_task_id(record["task_id"])


def columns(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The columns of ``records``: :data:`TIDY_COLUMNS`, the ``level_`` and ``slot_``
    columns, then the measurements (technical first, then ``metric_`` ones, by name)."""
    extra: dict[str, None] = {}
    for record in records:
        extra.update(dict.fromkeys(k for k in record if k not in extra))
    design = [k for k in extra if k.startswith(("level_", "slot_"))]
    measured = [k for k in MEASURED if k in extra]
    metrics = sorted(k for k in extra if k.startswith(_METRIC))
    return [*TIDY_COLUMNS, *design, *measured, *metrics]


def tidy_frame(records: Sequence[Mapping[str, Any]]) -> pandas.DataFrame:
    """The records as a DataFrame with nullable dtypes (needs pandas)."""
    pd = import_pandas()
    frame = pd.DataFrame(list(records), columns=columns(records))
    for names, dtype in (
        (("width", "height", "rating", "edit_distance"), "Int64"),
        (("enhancement", "loop", "prompt_changed"), "boolean"),
        (("elapsed", "edit_ratio", "submitted_at", "finished_at"), "float64"),
    ):
        for column in names:
            frame[column] = frame[column].astype(dtype)
    return frame
