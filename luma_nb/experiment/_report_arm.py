"""One video of a study report: its arm's card, with filmstrip, key numbers and prompt diff.

The card is :func:`luma_nb.render.card.card` (the one card), given the video's player —
placed by :func:`luma_nb.render.adapt.media_of_row`, so the simulator's clips are embedded,
never linked to a host that does not resolve — and the facts a reader of a study needs: the
filmstrip (the card's ``filmstrip`` part, under the player), the rating, the key measurements
(:mod:`luma_nb.render.measured`, as on every card), what the service did to the prompt and the
generation time. Everything else (every measurement, the fields sent, ids) is folded under
the card's "Details", with the session report's parts (:mod:`luma_nb.render.row_card`); fields
that were not sent are not listed at all, and every row has a label in words, never a column
name.

The player plays at the video's own size (:func:`luma_nb.render.markup.player`'s ``size``): a
384-pixel clip is not blown up to the column's width with black bars, and shrinks, keeping its
shape, when the column is narrower.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from luma_nb._html import esc
from luma_nb.render.adapt import media_of_row, text_or_none
from luma_nb.render.card import (
    Fact,
    backend_badge,
    badge,
    generation_fact,
    rating_fact,
    state_badge,
)
from luma_nb.render.diff import diff_markup, rewritten_share
from luma_nb.render.measured import key_metrics_fact, metric_facts
from luma_nb.render.media import Media, reachable_looking
from luma_nb.render.row_card import (
    ID_FIELDS,
    card_of_row,
    id_facts,
    request_facts,
    url_markup,
)

if TYPE_CHECKING:
    from luma_nb.video_metrics import Filmstrip

__all__ = ["arm_column"]

_UNREACHABLE = (
    "Not embedded (embed=False), and its URL cannot be opened in a browser: it is a "
    "simulated video, served only inside luma_nb."
)


def arm_column(
    record: Mapping[str, Any],
    words: str,
    *,
    block_prompt: str,
    strip: Filmstrip | None,
    embed: bool | None,
) -> str:
    """The column of one video in its block: its card, details folded.

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
    state = text_or_none(record.get("state")) or "unknown"
    backend = text_or_none(record.get("backend"))
    badges = [badge("not submitted") if state == "not_submitted" else state_badge(state)]
    if backend:
        badges.append(backend_badge(backend))
    media = media_of_row(record, embed=embed, standalone=True)
    if media.src is not None and not media.embedded and not reachable_looking(media.src):
        # Not embedded (embed=False) and on a host no browser resolves (the simulator's):
        # a player would be dead, so the card says what the video is instead.
        media = Media(None, note=_UNREACHABLE)
    rows: list[Fact] = rating_fact(record.get("rating")) or (
        [("Rating", '<span class="luma-nb-muted">not rated</span>')] if state == "completed" else []
    )
    note = text_or_none(record.get("note"))
    if note:
        rows.append(("Note", f'<div class="luma-nb-prompt">{esc(note)}</div>'))
    rows += key_metrics_fact(record)
    rows += _prompt_facts(record, block_prompt)
    rows += generation_fact(record.get("elapsed"), backend)
    status = None
    if state == "not_submitted":
        status = "Not submitted yet: study.run() submits it."
    elif state in ("queued", "pending", "processing", "submitting"):
        status = "Still running: study.run() waits for it."
    body = card_of_row(
        record,
        words,
        badges,
        media=media,
        strip=strip,
        status=status,
        rows=rows,
        folded=[
            ("Measured", _measured(record)),
            ("Sent", request_facts(record)),
            ("Identifiers", _ids(record)),
        ],
        with_style=False,
    )
    return f'<div class="luma-nb-study-arm">{body}</div>'


def _prompt_facts(record: Mapping[str, Any], block_prompt: str) -> list[Fact]:
    sent, echoed = text_or_none(record.get("prompt")), text_or_none(record.get("echoed_prompt"))
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


def _measured(record: Mapping[str, Any]) -> list[Fact]:
    rows = metric_facts(record)
    width, height = record.get("width"), record.get("height")
    if type(width) is int and type(height) is int and width > 0 and height > 0:
        rows.append(("Size", esc(f"{width}\N{MULTIPLICATION SIGN}{height} pixels")))
    return rows


def _ids(record: Mapping[str, Any]) -> list[Fact]:
    rows = id_facts(record, ID_FIELDS[:4])
    url = text_or_none(record.get("video_url"))
    if url is not None and record.get("backend") != "simulator" and reachable_looking(url):
        rows.append(("Original video", url_markup(url)))
    return rows
