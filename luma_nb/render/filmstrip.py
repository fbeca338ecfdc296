"""The filmstrip part of a card: a video's evenly spaced frames, one inert picture.

A view that has a :class:`~luma_nb.video_metrics.Filmstrip` (from
:func:`~luma_nb.video_metrics.make_filmstrip` or ``measure_video(..., filmstrip=True)``)
passes it to :func:`filmstrip_part` and puts the markup with the card's other parts. The
picture is embedded as a ``data:`` URL, so a saved notebook or a standalone report shows the
motion with no kernel, no network and nothing to play. The file is read only when it lies in
luma_nb's media cache and fits under the embed cap (:func:`luma_nb.render.media.embed_limit`);
otherwise the part is empty. Everything is escaped; there is no script and no event handler.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from luma_nb._html import IMAGE, esc
from luma_nb._media_policy import read_media
from luma_nb.render.media import embed_limit

if TYPE_CHECKING:
    from luma_nb.video_metrics import Filmstrip

__all__ = ["filmstrip_alt", "filmstrip_part"]

# Inline styles: the strip keeps its box where a sanitiser strips the <style> block.
_FIGURE_STYLE = "margin:8px 0 0;padding:0"
_IMAGE_STYLE = "display:block;max-width:100%;height:auto;border-radius:4px;background:#000"


def filmstrip_alt(strip: Filmstrip, label: str = "the video") -> str:
    """The text that stands for the strip: ``Filmstrip of <label>: 6 frames at 0.0, 1.0 ... s``."""
    raw = strip.times if isinstance(strip.times, (tuple, list)) else ()
    times = [t for t in raw if isinstance(t, (int, float)) and not isinstance(t, bool)]
    count = len(strip.indices) if isinstance(strip.indices, (tuple, list)) else len(times)
    frames = f"{count} frame" + ("" if count == 1 else "s")
    when = f" at {', '.join(f'{time:.1f}' for time in times)} s" if times else ""
    return f"Filmstrip of {label}: {frames}{when}"


def filmstrip_part(strip: Filmstrip | None, *, label: str = "the video") -> str:
    """A ``<figure>`` holding the strip as an embedded ``<img>``, or ``""``.

    Parameters
    ----------
    strip : Filmstrip or None
        The strip; ``None`` (no strip was made) gives ``""``.
    label : str
        What the strip shows, for the alt text (``"arm A"``, the prompt...); escaped.

    Returns
    -------
    str
        Markup, or ``""`` when the file is missing, outside the media cache, not an image or
        over the embed cap. Never raises for a bad strip.
    """
    if strip is None:
        return ""
    try:
        local = read_media(strip.path, IMAGE, embed_limit())
    except Exception:  # a hand-made Filmstrip with a path of the wrong type
        return ""
    if local.data_url is None:
        return ""
    size = ""
    width, height = _pixels(strip.width), _pixels(strip.height)
    if width and height:
        # The intrinsic size reserves the box before the image decodes (no layout jump).
        size = f' width="{width}" height="{height}"'
    alt = esc(filmstrip_alt(strip, str(label)))
    return (
        f'<figure class="luma-nb-strip" style="{_FIGURE_STYLE}">'
        f'<img src="{esc(local.data_url)}"{size} alt="{alt}" title="{alt}" '
        f'style="{_IMAGE_STYLE}" loading="lazy" decoding="async"></figure>'
    )


def _pixels(value: object) -> int | None:
    return value if type(value) is int and 0 < value <= 100_000 else None
