"""One video of a study report: its arm's card, with filmstrip, key numbers and prompt diff.

The card is :func:`luma_nb.render.card.card` (the one card), given the video's player —
placed by :func:`luma_nb.render.adapt.media_of_row`, so the simulator's clips are embedded,
never linked to a host that does not resolve — and the facts a reader of a study needs: the
filmstrip, the rating, the key measurements, what the service did to the prompt and the
generation time. Everything else (every measurement, the fields sent, ids) is folded away in
a ``<details>``; fields that were not sent are not listed at all, and every row has a label
in words, never a column name.

The player plays at the video's own size: its column carries the video's native width, and
the report's stylesheet caps the player there (a 384-pixel clip is not blown up to the page's
width with black bars), and below it when the column is narrower.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from luma_nb._html import esc, safe_url
from luma_nb.experiment._outcomes import KEY_METRICS, METRIC_PREFIX, outcome_label, value_text
from luma_nb.render.adapt import media_of_row
from luma_nb.render.card import (
    Fact,
    backend_badge,
    badge,
    card,
    error_block,
    facts,
    generation_fact,
    mono,
    rating_fact,
    state_badge,
)
from luma_nb.render.diff import diff_markup, rewritten_share
from luma_nb.render.filmstrip import filmstrip_part
from luma_nb.render.media import Media, reachable_looking

if TYPE_CHECKING:
    from luma_nb.video_metrics import Filmstrip

__all__ = ["arm_column"]

# What a reader calls the request fields a study may send (never the column names).
_SENT = (
    ("aspect_ratio", "Aspect ratio"),
    ("loop", "Loop"),
    ("enhancement", "Enhancement"),
    ("start_image_url", "Start image"),
    ("end_image_url", "End image"),
)
_MAX_NATIVE = 8192
_UNREACHABLE = (
    "Not embedded (embed=False), and its URL cannot be opened in a browser: it is a "
    "simulated video, served only inside luma_nb."
)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if value == value and abs(value) != float("inf") else None


def _pixels(value: object) -> int | None:
    return value if type(value) is int and 0 < value <= _MAX_NATIVE else None


def arm_column(
    record: Mapping[str, Any],
    words: str,
    *,
    block_prompt: str,
    strip: Filmstrip | None,
    embed: bool | None,
) -> str:
    """The column of one video in its block: the card, then its folded details.

    Parameters
    ----------
    record : mapping
        The video's tidy record (:meth:`Experiment.records`).
    words : str
        The arm in words (``"enhancement on, loop off"``): the card's title.
    block_prompt : str
        The prompt the block's heading shows; the card repeats the prompt only when this
        arm's differs (a template's factor slot).
    strip : Filmstrip or None
        The video's filmstrip, when one could be made.
    embed : bool or None
        As for :func:`luma_nb.render.media.place` (``standalone`` always).
    """
    state = _text(record.get("state")) or "unknown"
    backend = _text(record.get("backend"))
    badges = [badge("not submitted") if state == "not_submitted" else state_badge(state)]
    if backend:
        badges.append(backend_badge(backend))
    media = media_of_row(record, embed=embed, standalone=True)
    if media.src is not None and not media.embedded and not reachable_looking(media.src):
        # Not embedded (embed=False) and on a host no browser resolves (the simulator's):
        # a player would be dead, so the card says what the video is instead.
        media = Media(None, note=_UNREACHABLE)
    rows: list[Fact] = []
    strip_markup = filmstrip_part(strip, label=words)
    if strip_markup:
        rows.append(("Frames", strip_markup))
    rows += rating_fact(record.get("rating")) or (
        [("Rating", '<span class="luma-nb-muted">not rated</span>')] if state == "completed" else []
    )
    note = _text(record.get("note"))
    if note:
        rows.append(("Note", f'<div class="luma-nb-prompt">{esc(note)}</div>'))
    for column in KEY_METRICS:
        value = _number(record.get(column))
        if value is not None:
            rows.append((outcome_label(column).capitalize(), esc(value_text(column, value))))
    rows += _prompt_facts(record, block_prompt)
    rows += generation_fact(record.get("elapsed"), backend)
    status = None
    if state == "not_submitted":
        status = "Not submitted yet: study.run() submits it."
    elif state in ("queued", "pending", "processing", "submitting"):
        status = "Still running: study.run() waits for it."
    body = card(
        words,
        badges,
        media=media,
        loop=record.get("loop") is True,
        error=error_block(
            _text(record.get("error_code")),
            _text(record.get("error_message")),
            kind=_text(record.get("error_type")),
            trace_id=_text(record.get("trace_id")),
            state=state,
        ),
        status=status,
        rows=rows,
        with_style=False,
    )
    width = _pixels(record.get("width"))
    native = f' style="--luma-nb-native:{width}px"' if width else ""
    details = _details(record)
    return f'<div class="luma-nb-study-arm"{native}>{body}{details}</div>'


def _prompt_facts(record: Mapping[str, Any], block_prompt: str) -> list[Fact]:
    sent, echoed = _text(record.get("prompt")), _text(record.get("echoed_prompt"))
    rows: list[Fact] = []
    if sent is not None and sent != block_prompt:
        rows.append(("Prompt sent", f'<div class="luma-nb-prompt">{esc(sent)}</div>'))
    if echoed is None or sent is None:
        return rows
    if echoed == sent:
        rows.append(("Prompt echoed", '<span class="luma-nb-muted">unchanged</span>'))
        return rows
    share = rewritten_share(sent, echoed)
    rows.append(
        (
            "Prompt echoed",
            f'<div class="luma-nb-prompt">{diff_markup(sent, echoed)}</div>'
            f'<span class="luma-nb-muted">{esc(f"{share:.0%} of its words added")}</span>',
        )
    )
    return rows


def _details(record: Mapping[str, Any]) -> str:
    groups: list[tuple[str, list[Fact]]] = [
        ("Measured", _measured(record)),
        ("Sent", _sent(record)),
        ("Identifiers", _ids(record)),
    ]
    shown = "".join(f"<h4>{esc(name)}</h4>{facts(rows)}" for name, rows in groups if rows)
    if not shown:
        return ""
    return f'<details class="luma-nb-more"><summary>Details</summary>{shown}</details>'


def _measured(record: Mapping[str, Any]) -> list[Fact]:
    rows: list[Fact] = []
    for column in sorted(k for k in record if k.startswith(METRIC_PREFIX)):
        value = _number(record.get(column))
        if value is not None:
            rows.append((outcome_label(column).capitalize(), esc(value_text(column, value))))
    width, height = _pixels(record.get("width")), _pixels(record.get("height"))
    if width and height:
        rows.append(("Size", esc(f"{width}\N{MULTIPLICATION SIGN}{height} pixels")))
    duration, fps = _number(record.get("duration")), _number(record.get("fps"))
    if duration is not None:
        rows.append(("Duration", esc(f"{duration:.2f} s")))
    if fps is not None:
        rows.append(("Frame rate", esc(f"{fps:.3g} frames/s")))
    frames = record.get("frames")
    if type(frames) is int:
        rows.append(("Frame count", esc(str(frames))))
    bitrate = _number(record.get("bitrate"))
    if bitrate is not None:
        rows.append(("Bit rate", esc(f"{bitrate / 1000:,.0f} kbit/s")))
    return rows


def _sent(record: Mapping[str, Any]) -> list[Fact]:
    rows: list[Fact] = []
    for column, label in _SENT:
        value = record.get(column)
        if value is None:
            continue  # not sent: nothing to say
        if isinstance(value, bool):
            rows.append((label, esc("on" if value else "off")))
        elif column.endswith("_url"):
            rows.append((label, _url(value)))
        else:
            rows.append((label, esc(value)))
    return rows


def _url(value: object) -> str:
    """A link when a browser could follow it; else the URL as text (the simulator's)."""
    link = safe_url(value) if reachable_looking(value) else None
    if link is None:
        return mono(value)
    return f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer">{esc(link)}</a>'


def _ids(record: Mapping[str, Any]) -> list[Fact]:
    rows: list[Fact] = []
    for label, column in (
        ("Iteration", "iteration"),
        ("Task id", "task_id"),
        ("Trace id", "trace_id"),
    ):
        value = _text(record.get(column))
        if value:
            rows.append((label, mono(value)))
    url = _text(record.get("video_url"))
    if url is not None and record.get("backend") != "simulator" and reachable_looking(url):
        rows.append(("Original video", _url(url)))
    return rows
