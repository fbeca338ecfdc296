"""Static snapshots of live views: what a saved notebook keeps of a panel or a review.

A widget lives in the kernel: reopen a saved notebook without it (or convert it with
``nbconvert``, or open it untrusted) and the widget is gone ("model not found"). So the panel
and the blind review display, next to their widget, a plain ``text/html`` output built here,
and update it by display id as results arrive and ratings change
(:class:`luma_nb.render.frontend.LiveSnapshot`). That output is saved with the notebook.

While the widget itself is on the page, the snapshot would only repeat it: the widget's
stylesheet carries :func:`live_rule`, which hides *its own* snapshot (matched by key) in
JupyterLab and Voila. Where the widget cannot render, that rule is absent and the snapshot
shows. The markup reads without CSS too (an untrusted notebook strips ``<style>``), and its
``text/plain`` is a short summary (:mod:`luma_nb.render.text`), never the widget's repr.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from luma_nb._html import esc
from luma_nb.render.card import facts, head, rating_fact
from luma_nb.render.markup import style
from luma_nb.render.text import cap, short

__all__ = ["cell", "live_rule", "rated_lines", "snapshot_html", "snapshot_text"]

_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

_CSS = (
    ".luma-nb-snapshot{box-sizing:border-box;max-width:100%;margin:4px 0}"
    ".luma-nb-snapshot .luma-nb-card{max-width:none}"
    ".luma-nb-snap-cell{min-width:0}"
)


def _key(key: str) -> str:
    if not _KEY.match(key):
        raise ValueError(f"a snapshot key is letters, digits, - and _ only, not {key!r}")
    return key


def live_rule(key: str) -> str:
    """CSS that hides the snapshot ``key`` while the live widget carrying this rule is shown."""
    selector = f'.luma-nb-snapshot[data-luma-live="{_key(key)}"]'
    # The output area around the snapshot too (JupyterLab's, Voila's), so no empty gap is left.
    return f".jp-OutputArea-child:has({selector}),{selector}{{display:none}}"


def cell(card_html: str, rating: object = None, note: object = None, *, caption: str = "") -> str:
    """One result of a snapshot: a card (from :mod:`luma_nb.render.card`) and its rating."""
    rows = rating_fact(rating)
    if rows and isinstance(note, str) and note.strip():
        rows.append(("Note", esc(note.strip())))
    above = f'<div class="luma-nb-muted">{esc(caption)}</div>' if caption else ""
    return f'<div class="luma-nb-snap-cell">{above}{card_html}{facts(rows)}</div>'


def snapshot_html(key: str, title: str, sentence: str, cells: Sequence[str]) -> str:
    """The whole snapshot: a title, one sentence saying what it is, the cells in a grid."""
    # As many ~300 px columns as fit, one on a narrow page; inline, so a sanitiser keeps it.
    columns = "repeat(auto-fill,minmax(min(100%,300px),1fr))"
    grid = (
        f'<div class="luma-nb-grid" style="display:grid;gap:12px;grid-template-columns:{columns}">'
        + "".join(cells)
        + "</div>"
        if cells
        else ""
    )
    return (
        style(_CSS)
        + f'<div class="luma-nb-snapshot" data-luma-live="{_key(key)}">'
        + head(title, [])
        + f'<p class="luma-nb-muted">{esc(sentence)}</p>'
        + grid
        + "</div>"
    )


def rated_lines(rating: object, note: object) -> str:
    """``  rating 4/5 · a note`` for the text view, or ``""``."""
    if isinstance(rating, bool) or not isinstance(rating, (int, float)):
        return ""
    line = f"  rating {int(rating)}/5"
    if isinstance(note, str) and note.strip():
        line += f" · {short(note.strip(), 80)}"
    return line


def snapshot_text(title: str, sentence: str, blocks: Sequence[str]) -> str:
    """The snapshot as short plain text: title, sentence, then each result's block."""
    return cap("\n\n".join([f"{short(title)}\n{short(sentence, 300)}", *blocks]))
