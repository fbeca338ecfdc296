"""The card of one session-log row (an iteration) as a reader wants it, and the overview table.

Made for pages that travel — the session report, a study's report — and for the session's
cards in the notebook (``luma_nb.history(cards=True)``). A reader sees the video at its
native size with its filmstrip, the prompt (the echo as a diff of what was sent), the
settings in one line, the rating, note and tags, the key measured values, the generation
time and the date; everything else — every request field that was sent, under a human
label, the ids, every metric, where the video came from — is folded under "Details". A field
that was not sent has no row. Media the simulator made is embedded or named as simulated:
no link that cannot resolve.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from luma_nb._durations import duration_text, generation_text, seconds_or_none
from luma_nb._html import esc, safe_url
from luma_nb._media_policy import is_public_host
from luma_nb.render.adapt import text_or_none
from luma_nb.render.card import (
    Fact,
    backend_badge,
    badge,
    card,
    error_block,
    generation_fact,
    label_badges,
    mono,
    prompt_facts,
    rating_fact,
    state_badge,
)
from luma_nb.render.filmstrip import filmstrip_part
from luma_nb.render.measured import key_metrics_fact, metric_facts
from luma_nb.render.media import Media, reachable_looking
from luma_nb.render.page import date_text

if TYPE_CHECKING:
    from luma_nb.video_metrics import Filmstrip

__all__ = [
    "ID_FIELDS",
    "anchor",
    "card_of_row",
    "id_facts",
    "iteration_card",
    "overview_table",
    "request_facts",
    "settings_text",
    "url_markup",
]


def anchor(index: int) -> str:
    """The element id of the ``index``-th card (``step-1``...): from positions, never data."""
    return f"step-{index + 1:d}"


def _on_off(value: object) -> str | None:
    return None if value is None else ("on" if value else "off")


def settings_text(row: Mapping[str, Any]) -> str:
    """What was asked, in one line: ``16:9 · loop · enhancement on · start image``."""
    words = [text_or_none(row.get("aspect_ratio")) or "original ratio"]
    if row.get("loop"):
        words.append("loop")
    enhancement = _on_off(row.get("enhancement"))
    if enhancement is not None:
        words.append(f"enhancement {enhancement}")
    for key, word in (("start_image_url", "start image"), ("end_image_url", "end image")):
        if text_or_none(row.get(key)):
            words.append(word)
    return " · ".join(words)


def url_markup(url: object) -> str:
    """A URL as a reader can use it: a link where a browser could follow it, else words.

    A ``data:`` URL reads "embedded", the simulator's ``.invalid`` media "simulated (no
    public address)"; a URL on a loopback, private or local host (which a reader elsewhere
    could not load) is shown as text, never linked.
    """
    if not isinstance(url, str) or not url:
        return ""
    if url[:5].lower() == "data:":
        return '<span class="luma-nb-muted">embedded data</span>'
    try:
        host = (urlsplit(url).hostname or "").rstrip(".").lower()
    except ValueError:
        host = ""
    if reachable_looking(url) and is_public_host(host):
        link = esc(safe_url(url))
        return f'<a href="{link}" target="_blank" rel="noopener noreferrer">{link}</a>'
    if host == "invalid" or host.endswith(".invalid"):
        return (
            '<span class="luma-nb-muted">simulated: made by luma_nb&rsquo;s simulator, '
            "no public address</span>"
        )
    return f'{mono(url)} <span class="luma-nb-muted">(not a public address)</span>'


# The request fields a card lists when they were sent, under a reader's name. The prompt is
# shown above them; video_id_sent/video_url_sent are the log's names for the extended video.
_REQUEST_LABELS: tuple[tuple[str, str], ...] = (
    ("action", "Action"),
    ("aspect_ratio", "Aspect ratio"),
    ("loop", "Loop"),
    ("enhancement", "Enhancement"),
    ("video_id_sent", "Video extended"),
    ("video_url_sent", "Video URL extended"),
    ("start_image_url", "Start image"),
    ("end_image_url", "End image"),
    ("callback_url", "Callback URL"),
    ("timeout", "Timeout"),
)


def request_facts(row: Mapping[str, Any]) -> list[Fact]:
    """Every request field the row records as sent (``None``: not sent, no row)."""
    rows: list[Fact] = []
    for key, label in _REQUEST_LABELS:
        value = row.get(key)
        if value is None or value == "":
            continue
        if key in ("loop", "enhancement"):
            shown = esc(_on_off(value))
        elif key == "timeout":
            shown = esc(duration_text(value))
        elif key == "callback_url":
            shown = mono(value)  # the API posts to it; nothing a reader opens
        elif key in ("video_url_sent", "start_image_url", "end_image_url"):
            shown = url_markup(value)
        else:
            shown = mono(value) if key == "video_id_sent" else esc(value)
        rows.append((label, shown))
    return rows


def _visible(row: Mapping[str, Any], anchors: Mapping[str, int]) -> list[Fact]:
    prompt, echoed = row.get("prompt"), row.get("echoed_prompt")
    rows = prompt_facts(
        prompt if isinstance(prompt, str) else None,
        echoed if isinstance(echoed, str) else None,
        request_known=True,
    )
    rows.append(("Settings", esc(settings_text(row))))
    parent = text_or_none(row.get("parent"))
    if parent is not None and parent in anchors:
        target = anchors[parent]
        rows.append(("Extends", f'<a href="#{anchor(target)}">#{target + 1:d}</a>'))
    rows += rating_fact(row.get("rating"))
    if text_or_none(row.get("note")):
        rows.append(("Note", f'<div class="luma-nb-prompt">{esc(row["note"])}</div>'))
    raw_tags = row.get("tags") or ()
    tags = [raw_tags] if isinstance(raw_tags, str) else [t for t in raw_tags if isinstance(t, str)]
    if tags:
        rows.append(("Tags", label_badges(tags)))
    rows += key_metrics_fact(row)
    rows += generation_fact(row.get("elapsed"), row.get("backend"))
    submitted = date_text(row.get("submitted_at"))
    if submitted:
        rows.append(("Submitted", esc(submitted)))
    return rows


def _result(row: Mapping[str, Any]) -> list[Fact]:
    result: list[Fact] = []
    state, raw = text_or_none(row.get("state")), text_or_none(row.get("raw_state"))
    if raw and raw != state:
        result.append(("State", esc(f"{state or 'unknown'} (the API said {raw})")))
    width, height = row.get("width"), row.get("height")
    if type(width) is int and type(height) is int:
        result.append(("Size", esc(f"{width}\N{MULTIPLICATION SIGN}{height} pixels")))
    if text_or_none(row.get("video_url")):
        result.append(("Video", url_markup(row["video_url"])))
    finished = date_text(row.get("finished_at"))
    if finished:
        result.append(("Finished", esc(finished)))
    return result


#: The ids a card lists, under a reader's name, in order (a view may take the first few).
ID_FIELDS: tuple[tuple[str, str], ...] = (
    ("Iteration", "iteration"),
    ("Task id", "task_id"),
    ("Video id", "video_id"),
    ("Trace id", "trace_id"),
    ("Parent iteration", "parent"),
    ("Session", "session"),
    ("Experiment", "experiment"),
    ("Arm", "arm"),
)


def id_facts(row: Mapping[str, Any], fields: Sequence[tuple[str, str]] = ID_FIELDS) -> list[Fact]:
    """Each of ``fields`` (``(label, key)`` pairs) that the row holds, in the code font."""
    ids: list[Fact] = []
    for label, key in fields:
        value = text_or_none(row.get(key))
        if value:
            ids.append((label, mono(value)))
    return ids


def _identifiers(row: Mapping[str, Any]) -> list[Fact]:
    ids = id_facts(row)
    version = text_or_none(row.get("toolkit_version"))
    if version:
        ids.append(("Logged by", esc(f"luma_nb {version}")))
    return ids


def card_of_row(
    row: Mapping[str, Any],
    title: str,
    badges: Sequence[str],
    *,
    media: Media,
    strip: Filmstrip | None = None,
    status: str | None = None,
    rows: Sequence[Fact] = (),
    folded: Sequence[tuple[str, Sequence[Fact]]] = (),
    element: str = "div",
    element_id: str | None = None,
    side_by_side: bool = False,
    with_style: bool = False,
) -> str:
    """The card of a log row (or a study's record), whatever the view: the row's player at
    its native size (looping when it was asked to loop), its filmstrip, its error block, then
    the view's own ``status``, facts and folded groups (see :func:`~luma_nb.render.card.card`).
    """
    return card(
        title,
        badges,
        media=media,
        loop=row.get("loop") is True,
        size=(row.get("width"), row.get("height")),
        filmstrip=filmstrip_part(strip, label=title),
        error=error_block(
            text_or_none(row.get("error_code")),
            text_or_none(row.get("error_message")),
            kind=text_or_none(row.get("error_type")),
            trace_id=text_or_none(row.get("trace_id")),
            state=text_or_none(row.get("state")),
        ),
        status=status,
        rows=rows,
        folded=folded,
        side_by_side=side_by_side,
        element=element,
        element_id=element_id,
        with_style=with_style,
    )


def iteration_card(
    row: Mapping[str, Any],
    *,
    index: int,
    media: Media,
    strip: Filmstrip | None = None,
    anchors: Mapping[str, int] | None = None,
    title: str | None = None,
    element: str = "section",
    with_style: bool = False,
) -> str:
    """The card of one session-log row.

    Parameters
    ----------
    row : mapping
        A row of :data:`luma_nb.session_log.COLUMNS` (plain values; missing keys are fine).
    index : int
        Its position on the page: the default title (``#3 · extend``) and its anchor.
    media : Media
        Where its player gets the video (:func:`luma_nb.render.adapt.media_of_row`).
    strip : Filmstrip, optional
        Its filmstrip (:func:`luma_nb.render.filmstrip.strip_for`), shown under the player.
    anchors : mapping, optional
        ``{iteration id: index}`` of the page's cards: an extend links to its parent's.
    title : str, optional
        Instead of ``#<n> · <action>`` (a study's "Arm B").
    element : {"section", "div"}
        ``"section"`` on a page, ``"div"`` in a notebook cell.
    with_style : bool
        Prefix the shared ``<style>`` (a page includes it once instead).
    """
    action = text_or_none(row.get("action")) or "iteration"
    heading = title if title is not None else f"#{index + 1:d} · {action}"
    badges = [state_badge(text_or_none(row.get("state")) or "unknown")]
    backend = text_or_none(row.get("backend"))
    if backend:
        badges.append(backend_badge(backend))
    experiment, arm = text_or_none(row.get("experiment")), text_or_none(row.get("arm"))
    if experiment or arm:
        badges.append(badge(" / ".join(x for x in (experiment, arm) if x)))
    return card_of_row(
        row,
        heading,
        badges,
        media=media,
        strip=strip,
        rows=_visible(row, anchors or {}),
        folded=[
            ("Request sent", request_facts(row)),
            ("Measured from the file", metric_facts(row)),
            ("Result", _result(row)),
            ("Identifiers", _identifiers(row)),
        ],
        element=element,
        element_id=anchor(index) if element == "section" else None,
        with_style=with_style,
    )


def overview_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per row, linked to its card: prompt, settings, state, time (rating, arm)."""
    rated = any(type(row.get("rating")) is int for row in rows)
    with_arms = any(text_or_none(row.get("arm")) for row in rows)
    names = ["#", "prompt sent", "settings", "state", "generation time"]
    names += ["rating"] * rated + ["arm"] * with_arms
    head = "".join(f"<th>{esc(name)}</th>" for name in names)
    body = []
    for index, row in enumerate(rows):
        prompt = text_or_none(row.get("prompt")) or ""
        short = prompt if len(prompt) <= 90 else prompt[:87] + "..."
        elapsed = seconds_or_none(row.get("elapsed"))
        seconds = "" if elapsed is None else generation_text(elapsed, row.get("backend"))
        cells = [
            f'<td><a href="#{anchor(index)}">{index + 1:d}</a></td>',
            f'<td class="luma-nb-prompt-cell">{esc(short)}</td>',
            f"<td>{esc(settings_text(row))}</td>",
            f"<td>{esc(text_or_none(row.get('state')) or '')}</td>",
            f"<td>{esc(seconds)}</td>",
        ]
        if rated:
            rating = row.get("rating")
            cells.append(f"<td>{esc(rating) if type(rating) is int else ''}</td>")
        if with_arms:
            cells.append(f"<td>{esc(text_or_none(row.get('arm')) or '')}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="luma-nb-overview"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )
