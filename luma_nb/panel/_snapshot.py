"""The panel's snapshot: its results as static HTML and short text, saved with the notebook.

Built from the result cards (newest first) through :mod:`luma_nb.render.snapshot`: each
card's own HTML (player, prompt sent and echoed, size, ids) and its saved rating and note.
"""

from __future__ import annotations

from collections.abc import Sequence

from luma_nb.panel._results import ResultCard
from luma_nb.render import snapshot
from luma_nb.render import text as plain

__all__ = ["TITLE", "WIDGET_TEXT", "html", "text"]

TITLE = "Luma video panel: results"
#: What the widget's own output says where it cannot render (it is never updated).
WIDGET_TEXT = (
    "Luma video panel (a live widget: run the notebook to use it). "
    "Its results are in the static copy below."
)


def _sentence(count: int, backend: str) -> str:
    word = plain.backend_word(backend)
    if not count:
        return f"No results yet ({word}). A static copy, saved with the notebook."
    return (
        f"{count} result{'s' if count != 1 else ''}, newest first ({word}). A static copy "
        "saved with the notebook: run the notebook to use the panel."
    )


def html(key: str, cards: Sequence[ResultCard], backend: str) -> str:
    """The snapshot's HTML (``cards`` newest first)."""
    cells = [snapshot.cell(card.html, card.stars, card.note_text) for card in cards]
    return snapshot.snapshot_html(key, TITLE, _sentence(len(cards), backend), cells)


def text(cards: Sequence[ResultCard], backend: str) -> str:
    """The snapshot as short plain text (what a text-only front end shows)."""
    blocks = []
    for number, card in enumerate(cards, 1):
        video = card.job.video
        if video is None:
            continue
        rated = snapshot.rated_lines(card.stars, card.note_text)
        blocks.append(plain.video_text(video, f"Result {number}") + (f"\n{rated}" if rated else ""))
    return snapshot.snapshot_text(TITLE, _sentence(len(cards), backend), blocks)
