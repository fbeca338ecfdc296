"""A study's figure as inline SVG that follows the page's theme, light or dark.

The plot is drawn with its ink — text, axes, ticks, reference lines — in one reserved colour
(:data:`INK`, a black no palette uses), so that the figure itself looks ordinary (black on
white) when matplotlib shows it. For a page, :func:`themed_svg` writes it as SVG with a
transparent background and turns that colour into ``currentColor``: the ink then takes the
text colour of whatever the SVG sits in — dark on JupyterLab's light theme, light on its dark
theme, on a report opened in a browser set to dark mode, in VS Code or GitHub — with no
second picture and no stylesheet (a sanitiser that strips ``<style>`` changes nothing). The
data colours are mid-tones that read on both backgrounds.

The SVG is inline (not an ``<img>``): only inline SVG inherits the text colour. Its text is
written as ``<text>``, escaped by matplotlib's own writer; it has no script, no link and no
external reference. Its ids are made deterministic (``svg.hashsalt``) so the same figure
gives the same markup, and prefixed per figure so two plots on one page never share one.
"""

from __future__ import annotations

import hashlib
import io
import re
from typing import TYPE_CHECKING

from luma_nb._html import esc

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["INK", "PALETTE", "themed_svg"]

#: The colour every piece of ink is drawn in, replaced by ``currentColor`` in the SVG.
INK = "#010203"
#: Data colours: mid-tones, legible on white and on a dark grey alike.
PALETTE = ("#8b5cf6", "#0ea5b7", "#f59e0b", "#ef4444", "#22c55e", "#ec4899")
#: Grey for the lines joining one unit's values (secondary: it must not compete).
UNIT_GREY = "#9ca3af"

# An id, and every reference to one: url(#...) in clip paths, href="#..." in <use>.
_ID = re.compile(r'(\bid="|url\(#|href="#)')


def themed_svg(figure: Figure, *, title: str) -> str:
    """``figure`` as an inline ``<svg>`` element: transparent, its ink ``currentColor``.

    ``title`` becomes the SVG's accessible name (escaped). The element scales down to its
    container (``max-width:100%``) and never beyond its drawn size.
    """
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "luma_nb"}):
        figure.savefig(buffer, format="svg", transparent=True, bbox_inches="tight")
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
    svg = svg.replace(INK, "currentColor")
    # Ids unique to this figure's content: two plots on one page never share a clip path.
    prefix = "luma-" + hashlib.sha256(svg.encode("utf-8")).hexdigest()[:8] + "-"
    svg = _ID.sub(lambda match: match.group(1) + prefix, svg)
    label = esc(title)
    return svg.replace(
        "<svg ",
        f'<svg role="img" aria-label="{label}" style="max-width:100%;height:auto;color:inherit" ',
        1,
    )
