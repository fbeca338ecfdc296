"""The tidy records of a study: one per planned video, from its plan and its log row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from luma_nb._session_fold import TERMINAL_STATES, import_pandas, usable_task_id
from luma_nb.experiment import _stats
from luma_nb.experiment._plan import ARMS, Plan, Unit

if TYPE_CHECKING:
    import pandas

__all__ = ["NOT_SUBMITTED", "TIDY_COLUMNS", "is_unresolved", "tidy_frame", "tidy_record"]

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


def tidy_record(
    plan: Plan, unit: Unit, row: Mapping[str, Any] | None, *, order: int, iteration: str
) -> dict[str, Any]:
    """The record of ``unit`` (keys :data:`TIDY_COLUMNS`); ``row`` is its log row, if any.

    The row comes from :meth:`SessionLog.to_records`, so every value has its documented
    type or is None, whatever a hand edit wrote.
    """
    record: dict[str, Any] = dict.fromkeys(TIDY_COLUMNS)
    record.update(
        experiment=plan.experiment,
        pair=unit.pair,
        repeat=unit.repeat,
        prompt_index=unit.prompt_index,
        arm=unit.arm,
        enhancement=ARMS[unit.arm],
        order=order,
        prompt=plan.prompts[unit.prompt_index],
        iteration=iteration,
        state=NOT_SUBMITTED,
    )
    if row is None:
        return record
    record.update({key: row.get(key) for key in _FROM_ROW})
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


def tidy_frame(records: Sequence[Mapping[str, Any]]) -> pandas.DataFrame:
    """The records as a DataFrame with nullable dtypes (needs pandas)."""
    pd = import_pandas()
    frame = pd.DataFrame(list(records), columns=list(TIDY_COLUMNS))
    for columns, dtype in (
        (("width", "height", "rating", "edit_distance"), "Int64"),
        (("enhancement", "loop", "prompt_changed"), "boolean"),
        (("elapsed", "edit_ratio", "submitted_at", "finished_at"), "float64"),
    ):
        for column in columns:
            frame[column] = frame[column].astype(dtype)
    return frame
