"""The one card builder, and the parts a view picks from to compose its cards.

A card is a head (a title and badges), then the parts a view asks for, in a fixed order:
the player (with the note saying why a video is linked or missing), the filmstrip (the
video's frames as one picture, :mod:`luma_nb.render.filmstrip`), an error block, a status
sentence, the facts (a ``<dl>``: prompts sent and echoed, size, ids, timings, rating,
labels...) and titled sections of further facts. The notebook card, the panel's results, the
grid, the blind review, the chain timeline and the standalone report all call :func:`card`;
a new view adds parts here, never a new card.

Read without styles
-------------------
A sanitiser (an untrusted notebook) strips the ``<style>`` block. The markup still reads
correctly then: badges are separated by real text (``Luma video · completed · simulated``,
the separators hidden by the sheet where the badges' own boxes separate them), facts are a
definition list, and an error or note is its own block.

Every value is escaped here or arrives as markup built by these parts; nothing raises for
bad data except through :func:`broken`, which turns a renderer's exception into a card.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from luma_nb._durations import (
    duration_text,
    generation_text,
    seconds_or_none,
    task_generation_seconds,
)
from luma_nb._html import esc
from luma_nb.models import Task, TaskState, Video
from luma_nb.render.adapt import video_of_task
from luma_nb.render.diff import diff_markup
from luma_nb.render.filmstrip import filmstrip_part, strip_for
from luma_nb.render.markup import note, player, style
from luma_nb.render.measured import key_metrics_fact
from luma_nb.render.media import Media, describe_error, place

if TYPE_CHECKING:
    from luma_nb.video_metrics import Filmstrip

__all__ = [
    "Fact",
    "backend_badge",
    "badge",
    "broken",
    "card",
    "error_block",
    "facts",
    "generation_fact",
    "head",
    "label_badges",
    "mono",
    "prompt_facts",
    "rating_fact",
    "state_badge",
    "task_card",
    "video_card",
]

Fact = tuple[str, str]  # (label, already-escaped HTML value)

_STATE_CLASS = {
    TaskState.COMPLETED: "luma-nb-ok",
    TaskState.FAILED: "luma-nb-fail",
    TaskState.PENDING: "luma-nb-run",
    TaskState.PROCESSING: "luma-nb-run",
    TaskState.QUEUED: "",
    TaskState.UNKNOWN: "",
}
_STATE_SENTENCE = {
    TaskState.QUEUED: "Queued: waiting for the service to take it.",
    TaskState.PENDING: "Pending: accepted, generation has not started yet.",
    TaskState.PROCESSING: "Processing: the video is being generated.",
}
_SEP = '<span class="luma-nb-sep"> · </span>'


# --------------------------------------------------------------------------- head and badges


def badge(text: str, cls: str = "") -> str:
    """One badge (a short word in a pill)."""
    classes = f"luma-nb-badge {cls}" if cls else "luma-nb-badge"
    return f'<span class="{classes}">{esc(text)}</span>'


def backend_badge(backend: str) -> str:
    """``simulated`` (highlighted), ``Luma API``, or the backend's own word."""
    if backend == "simulator":
        return badge("simulated", "luma-nb-sim")
    if backend == "api":
        return badge("Luma API")
    return badge(backend)


def state_badge(state: str | None) -> str:
    """The state word, coloured by how it went (``completed`` when unknown to be otherwise)."""
    word = (state or "completed").lower()
    try:
        cls = _STATE_CLASS[TaskState(word)]
    except ValueError:
        cls = "luma-nb-fail" if word in ("failed", "error") else ""
    return badge(word, cls)


def label_badges(labels: Sequence[str]) -> str:
    """Tags or labels as badges, separated by text separators."""
    return _SEP.join(badge(label, "luma-nb-tag") for label in labels)


def head(title: str, badges: Sequence[str]) -> str:
    """The title line: the title, then each badge, with separators that read without CSS."""
    shown = [f'<span class="luma-nb-title">{esc(title)}</span>', *(b for b in badges if b)]
    return f'<div class="luma-nb-head">{_SEP.join(shown)}</div>'


# --------------------------------------------------------------------------- facts


def mono(value: object) -> str:
    """A value in the code font (ids, codes)."""
    return f'<span class="luma-nb-mono">{esc(value)}</span>'


def facts(rows: Sequence[Fact]) -> str:
    """A definition list of ``(label, markup)`` pairs (``""`` for none)."""
    if not rows:
        return ""
    body = "".join(f"<dt>{esc(name)}</dt><dd>{value}</dd>" for name, value in rows)
    return f'<dl class="luma-nb-meta">{body}</dl>'


def prompt_facts(sent: str | None, echoed: str | None, request_known: bool) -> list[Fact]:
    """The prompt as sent and as echoed: one row when the API echoed it unchanged."""

    def block(text: str) -> str:
        return f'<div class="luma-nb-prompt">{esc(text)}</div>'

    if request_known and sent is not None and echoed is not None and sent == echoed:
        muted = '<span class="luma-nb-muted">(sent; echoed unchanged)</span>'
        return [("Prompt", block(sent) + muted)]
    rows: list[Fact] = []
    if request_known:
        value = block(sent) if sent is not None else '<span class="luma-nb-muted">(none)</span>'
        rows.append(("Prompt sent", value))
    if request_known and isinstance(sent, str) and isinstance(echoed, str):
        # The echo as a diff of what was sent: what the service added is what a reader wants.
        echo = f'<div class="luma-nb-prompt">{diff_markup(sent, echoed)}</div>'
        rows.append(("Prompt echoed", echo))
    elif echoed is not None:
        rows.append(("Prompt echoed" if request_known else "Prompt", block(echoed)))
    return rows


def generation_fact(seconds: object, backend: object = None) -> list[Fact]:
    """``[("Generation time", "2 min 16 s (simulated)")]`` for a known one, else ``[]``.

    ``backend`` is the task's or row's: the simulator's figures are labelled "simulated"
    (see :mod:`luma_nb._durations`).
    """
    if seconds_or_none(seconds) is None:
        return []
    return [("Generation time", esc(generation_text(seconds, backend)))]


def rating_fact(rating: object) -> list[Fact]:
    """``[("Rating", ★★★☆☆ 3/5)]`` for a rating of 1 to 5, else ``[]``."""
    if isinstance(rating, bool) or not isinstance(rating, (int, float)):
        return []
    stars = int(rating)
    if not 1 <= stars <= 5:
        return []
    shown = (
        f'<span class="luma-nb-stars" aria-label="{stars} of 5 stars">'
        f"{'★' * stars}{'☆' * (5 - stars)}</span> {stars}/5"
    )
    return [("Rating", shown)]


def error_block(
    code: str | None,
    message: str | None,
    *,
    kind: str | None = None,
    trace_id: str | None = None,
    state: str | None = None,
) -> str:
    """The error of a failed (or unknown) outcome: code · kind · message, trace id, advice."""
    if not (code or message or kind or state in ("failed", "outcome_unknown")):
        return ""
    parts = [mono(code) if code else "", esc(kind) if kind else "", esc(message) if message else ""]
    text = " · ".join(part for part in parts if part)
    if not text:
        text = esc(f"The iteration ended {state} without an error message.")
    if trace_id:
        text += f"<br>Trace id {mono(trace_id)} (quote it to support)"
    if state == "outcome_unknown":
        text += "<br>The submit may have been billed: check the task list before resubmitting."
    return f'<div class="luma-nb-error">{text}</div>'


# --------------------------------------------------------------------------- the card


def card(
    title: str,
    badges: Sequence[str] = (),
    *,
    media: Media | None = None,
    loop: bool = False,
    size: tuple[object, object] | None = None,
    filmstrip: str = "",
    error: str = "",
    status: str | None = None,
    rows: Sequence[Fact] = (),
    sections: Sequence[tuple[str, Sequence[Fact]]] = (),
    folded: Sequence[tuple[str, Sequence[Fact]]] = (),
    side_by_side: bool = False,
    element: str = "div",
    element_id: str | None = None,
    with_style: bool = True,
) -> str:
    """One card, composed of the parts a view picks.

    Parameters
    ----------
    title, badges
        The head: the title and badge markup (from :func:`badge` and its kin).
    media, loop, size
        The player (see :func:`luma_nb.render.markup.player`; ``size`` is the video's
        ``(width, height)``, which it is never stretched beyond) and its note.
    filmstrip
        Markup from :func:`luma_nb.render.filmstrip.filmstrip_part`, under the player.
    error
        Markup from :func:`error_block`.
    status
        A plain sentence (a running task's state).
    rows
        Facts, as ``(label, markup)`` pairs.
    sections
        Further ``(heading, facts)`` groups, after the facts.
    folded
        Groups like ``sections``, folded away under a "Details" toggle (``<details>``: no
        script, and a static page opens it too).
    side_by_side
        Put the player and the facts next to each other where there is room.
    element, element_id
        ``"div"`` (a cell's card), ``"section"`` (a report's) or ``"li"`` (a timeline step)
        and its anchor id (built by the caller from positions, never from data).
    with_style
        Prefix the shared ``<style>`` (a grid or a page includes it once instead).
    """
    clip = (player(media, loop=loop, size=size) + note(media)) if media is not None else ""
    clip += filmstrip
    body = [error]
    if status is not None:
        body.append(f'<div class="luma-nb-status">{esc(status)}</div>')
    body.append(facts(rows))
    for heading, group in sections:
        body.append(f"<h3>{esc(heading)}</h3>{facts(group)}")
    inside = "".join(f"<h3>{esc(heading)}</h3>{facts(group)}" for heading, group in folded if group)
    if inside:
        body.append(
            f'<details class="luma-nb-details"><summary>Details</summary>{inside}</details>'
        )
    details = "".join(body)
    if side_by_side and clip:
        # Inline styles: the layout survives a sanitiser that strips the <style> block.
        inner = (
            '<div style="display:flex;flex-wrap:wrap;gap:4px 14px;align-items:start">'
            f'<div style="flex:0 1 360px;min-width:0">{clip}</div>'
            f'<div style="flex:1 1 260px;min-width:0">{details}</div></div>'
        )
    else:
        inner = clip + details
    cls = "luma-nb-step" if element == "li" else "luma-nb-card"
    anchor = f' id="{esc(element_id)}"' if element_id else ""
    markup = f'<{element} class="{cls}"{anchor}>{head(title, badges)}{inner}</{element}>'
    return (style() if with_style else "") + markup


def broken(what: str, exc: BaseException, *, with_style: bool = True) -> str:
    """The card shown instead of one that could not be rendered: it names the problem."""
    return card(
        "luma_nb",
        [badge("display error", "luma-nb-fail")],
        error=f'<div class="luma-nb-error">{esc(f"Could not render this {what}: ")}'
        f"{esc(describe_error(exc))}</div>",
        with_style=with_style,
    )


# --------------------------------------------------------------------------- videos and tasks


def video_card(
    video: Video,
    *,
    embed: bool | None = None,
    label: str | None = None,
    with_style: bool = True,
    saved_poster: str | os.PathLike[str] | None = None,
    fetch: bool = True,
    filmstrip: bool | Filmstrip | None = False,
    metrics: object = None,
) -> str:
    """The card of a finished video: player, prompts sent and echoed, size, ids, backend.

    The notebook card, the grid, the panel's results and the blind review (given a blind
    video) all show a video with this card. ``saved_poster`` and ``fetch`` are passed to
    :func:`~luma_nb.render.media.place` (the panel downloads on its own).

    ``filmstrip=True`` adds the video's filmstrip when its file is in the media cache (made
    once, never downloaded for it; none with ``embed=False``), or pass a ready
    :class:`~luma_nb.video_metrics.Filmstrip`. ``metrics`` (a
    :class:`~luma_nb.video_metrics.VideoMetrics` or a mapping of ``metric_*`` columns) adds
    the key measured values.
    """
    media = place(
        video.video_url,
        poster=video.thumbnail_url,
        embed=embed,
        saved=video.media_path,
        saved_poster=saved_poster,
        backend=video.backend,
        fetch=fetch,
    )
    request = video.request
    badges = [state_badge(video.state), badge("embedded") if media.embedded else ""]
    badges.append(backend_badge(video.backend))
    rows = prompt_facts(
        request.prompt if request else None, video.prompt, request_known=request is not None
    )
    if video.size or video.task_id or video.video_id:  # a blind card shows no empty facts
        size = f"{video.width}\N{MULTIPLICATION SIGN}{video.height}" if video.size else "unknown"
        if request is not None and request.aspect_ratio:
            size += f" · {request.aspect_ratio}"
        rows.append(("Size", esc(size)))
    if request is not None and request.action == "extend":
        rows.append(("Extends", mono(request.video_id or request.video_url or "?")))
    rows += key_metrics_fact(metrics)
    for name, value in (
        ("Video id", video.video_id),
        ("Task id", video.task_id),
        ("Trace id", video.trace_id),
    ):
        if value:
            rows.append((name, mono(value)))
    strip: Filmstrip | None = None
    if filmstrip is True and embed is not False:
        strip = strip_for(video.video_url, saved=video.media_path, backend=video.backend)
    elif filmstrip is not True and filmstrip:
        strip = filmstrip
    return card(
        label or "Luma video",
        badges,
        media=media,
        loop=bool(request is not None and request.loop),
        size=(video.width, video.height),
        filmstrip=filmstrip_part(strip, label=label or "the video"),
        rows=rows,
        with_style=with_style,
    )


def task_card(
    task: Task,
    *,
    embed: bool | None = None,
    label: str | None = None,
    elapsed: float | None = None,
    with_style: bool = True,
    filmstrip: bool = False,
    metrics: object = None,
) -> str:
    """The card of a task: its state while running, the error when failed, the video when done.

    ``filmstrip`` and ``metrics`` are :func:`video_card`'s, for a completed task.
    """
    video = video_of_task(task)
    if video is not None:
        return video_card(
            video,
            embed=embed,
            label=label,
            with_style=with_style,
            filmstrip=filmstrip,
            metrics=metrics,
        )
    state_word = task.state.value
    if task.state is TaskState.UNKNOWN and task.raw_state:
        state_word = task.raw_state
    error = ""
    status: str | None = None
    if task.state is TaskState.FAILED:
        failure = task.error
        error = error_block(
            failure.code if failure else "unknown",
            failure.message if failure else "the task failed without an error message",
        )
    else:
        status = _STATE_SENTENCE.get(task.state)
        if status is None:
            status = (
                "Completed, but the answer has no video."
                if task.state is TaskState.COMPLETED
                else f"The API reports state {state_word!r}; still waiting."
            )
    rows: list[Fact] = [("Task id", mono(task.id or "?"))]
    rows += generation_fact(task_generation_seconds(task), task.backend)
    if elapsed is not None:  # the caller's own wait, on this machine's clock
        rows.append(("Waited", esc(duration_text(elapsed))))
    if task.trace_id:
        rows.append(("Trace id", mono(task.trace_id)))
    if task.sent is not None:
        rows.extend(prompt_facts(task.sent.prompt, None, request_known=True))
        if task.sent.action == "extend":
            rows.append(("Extends", mono(task.sent.video_id or task.sent.video_url or "?")))
    return card(
        label or "Luma task",
        [state_badge(state_word), backend_badge(task.backend)],
        error=error,
        status=status,
        rows=rows,
        with_style=with_style,
    )
