"""The panel's media, through the one renderer: result cards, posters and thumbnails.

Real results live on a public CDN, which the browser loads itself: their URLs are used as
they are, and the widget state stays small. Media the browser cannot reach (the simulator's
``.invalid`` host, loopback) is downloaded through the panel's own client — it may be
asynchronous, and its cache folder its own — and handed to
:func:`luma_nb.render.media.place` as the item's saved copy. The renderer never fetches for
the panel (``fetch=False``): a blocking download must not run on the kernel's event loop.
What may be embedded is :mod:`luma_nb._media_policy`'s decision; before downloading a URL for
the page, ask :func:`may_fetch`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from luma_nb._media_policy import fetch_refusal
from luma_nb.models import Video
from luma_nb.render.card import video_card
from luma_nb.render.markup import picture
from luma_nb.render.media import place

__all__ = ["card_html", "may_fetch", "source", "thumbnail_html"]


def may_fetch(url: str | None) -> bool:
    """Whether the panel may download ``url`` to show it (see :mod:`luma_nb._media_policy`)."""
    return bool(url) and fetch_refusal(str(url)) is None


def source(url: str | None, local: Path | None, family: str) -> str | None:
    """What a ``src`` may be for ``url``: the URL itself, an embedded copy, or nothing."""
    return place(url, family, saved=local, fetch=False).src


def card_html(video: Video, video_file: Path | None, poster_file: Path | None) -> str:
    """The shared video card, embedding the panel's downloads where the browser needs them."""
    if video_file is not None:
        video = dataclasses.replace(video, media_path=str(video_file))
    return video_card(video, saved_poster=poster_file, fetch=False)


def thumbnail_html(src: str | None, *, width: int = 96) -> str:
    """A small thumbnail (or an empty placeholder of the same size)."""
    return picture(src, width=width)
