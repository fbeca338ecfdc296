"""Standalone pages: the shell every report shares, its parts, and writing one file safely.

A page is one HTML file that opens in any browser with no kernel and, when its media is
embedded, no network: :func:`page` wraps a body in the document (a Content-Security-Policy
that forbids scripts, the cards' stylesheet and the page's own, light and dark), and
:func:`write_page` writes it atomically. The session report (:mod:`luma_nb.report`) and a
study's report compose their bodies from the parts here and from the cards of
:mod:`luma_nb.render.row_card`: :func:`section`, :func:`columns` (cards side by side),
:func:`date_text` and :func:`clock_note` (one clock for every date on a page).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from luma_nb._html import esc
from luma_nb.render.markup import CSS

__all__ = ["CSP", "PAGE_CSS", "clock_note", "columns", "date_text", "page", "section", "write_page"]

#: The page's Content-Security-Policy. Defence in depth: even markup that slipped past
#: escaping (or a careless summary) can neither run script nor load anything but images and
#: media; the page needs nothing else. Inline ``<style>`` is its only stylesheet.
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; "
    "media-src data: http: https:; base-uri 'none'; form-action 'none'"
)

#: Page-level styles; the cards reuse the notebook's stylesheet, whose JupyterLab variables
#: fall back to neutral values outside Jupyter.
PAGE_CSS = """
body{margin:0;background:#fff;color:#1f2328;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;line-height:1.5}
main{box-sizing:border-box;max-width:980px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;
border-bottom:1px solid rgba(128,128,128,.3)}
h3{font-size:13px;margin:10px 0 4px;opacity:.8}
.luma-nb-page .luma-nb-card{max-width:none;margin:0 0 14px}
.luma-nb-page .luma-nb-player{max-height:none}
.luma-nb-page details{margin-top:8px}
.luma-nb-page summary{cursor:pointer;opacity:.8}
.luma-nb-columns{display:grid;gap:12px;align-items:start;
grid-template-columns:repeat(auto-fit,minmax(min(100%,300px),1fr))}
.luma-nb-columns .luma-nb-card{margin:0}
.luma-nb-overview{border-collapse:collapse;width:100%;font-size:13px}
.luma-nb-overview th,.luma-nb-overview td{text-align:left;vertical-align:top;padding:4px 8px;
border-bottom:1px solid rgba(128,128,128,.25)}
.luma-nb-overview td.luma-nb-prompt-cell{max-width:420px;overflow-wrap:anywhere}
.luma-nb-summary{margin:8px 0 0;overflow-x:auto}
.luma-nb-stars{color:#c69026;letter-spacing:1px}
.luma-nb-tag{margin-right:4px}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}}
""".replace("\n", "")

_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"


def page(title: str, body: str, *, extra_css: str = "", generator: str = "luma_nb") -> str:
    """A whole standalone document: ``<h1>title</h1>`` then ``body`` (trusted markup).

    ``title`` is escaped; ``body`` and ``extra_css`` are inserted as they are. The page has
    no script, loads no external CSS, script or font, and its CSP forbids scripts.
    """
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="{esc(generator)}">'
        f"<title>{esc(title)}</title>"
        f"<style>{CSS}{PAGE_CSS}{extra_css}</style></head>"
        '<body><main class="luma-nb-page luma-nb-report">'
        f"<h1>{esc(title)}</h1>{body}"
        "</main></body></html>\n"
    )


def section(heading: str, body: str) -> str:
    """``<h2>heading</h2>`` (escaped) followed by ``body`` (markup)."""
    return f"<h2>{esc(heading)}</h2>{body}"


def columns(parts: Sequence[str], *, min_width: int = 300) -> str:
    """Cards (or any parts) side by side, as many per row as fit, one per row when narrow."""
    width = max(120, min(int(min_width), 1200))
    # Inline style: the columns hold where the sheet is stripped; the width is an int.
    return (
        '<div class="luma-nb-columns" style="display:grid;gap:12px;align-items:start;'
        f'grid-template-columns:repeat(auto-fit,minmax(min(100%,{width:d}px),1fr))">'
        + "".join(parts)
        + "</div>"
    )


def date_text(epoch: object) -> str | None:
    """A date on this computer's clock and time zone, ``2025-03-01 14:03:12``, or None.

    Every date of a page reads the same way and on one clock; :func:`clock_note` names it
    once. The session log never holds a date of the simulator's sped-up clock (see
    :mod:`luma_nb._durations`).
    """
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
        return None
    try:
        return datetime.fromtimestamp(epoch).strftime(_DATE_FORMAT)
    except (OverflowError, OSError, ValueError):
        return None


def clock_note(now: float | None = None) -> str:
    """``Dates are local time (UTC+01:00).``: the one clock of a page's dates."""
    moment = datetime.fromtimestamp(time.time() if now is None else now).astimezone()
    offset = moment.strftime("%z") or "+0000"
    return f"Dates are local time (UTC{offset[:3]}:{offset[3:]})."


def write_page(markup: str, path: str | os.PathLike[str]) -> Path:
    """Write ``markup`` to ``path`` (its folder is made); an existing file is replaced atomically.

    Returns the absolute path. The file is written to a sibling temp file and renamed, so a
    reader (or a crash) never sees half a page; it is readable by others (0644), like any
    saved page.
    """
    target = Path(path).expanduser().absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed or removed)
        "wb", dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            handle.write(markup.encode("utf-8"))
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target
