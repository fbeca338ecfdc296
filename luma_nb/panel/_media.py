"""Media for the panel's HTML: the result player, posters and history thumbnails.

Real results live on a public CDN, which the browser loads itself: their URLs are used as
they are, and the widget state stays small. Media the browser cannot reach (the simulator's
``.invalid`` host, loopback; see :func:`luma_nb.display.needs_embedding`) is downloaded
through the panel's client and embedded as a ``data:`` URL, within the display's embed cap.
The panel does this itself rather than through ``display``'s fetcher because its client may
be asynchronous and its cache folder its own.

What may be embedded is :mod:`luma_nb._media_policy`'s decision: a local copy only when it is
media inside a media cache, and only for a URL luma_nb may fetch from (public, or the
simulator's: not some other loopback or private server named by an answer or a log row).
Before downloading a URL for the page, ask :func:`may_fetch`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from luma_nb._html import IMAGE, VIDEO, esc, safe_url
from luma_nb._media_policy import fetch_refusal, read_media
from luma_nb.display import embed_limit, needs_embedding, video_html
from luma_nb.models import Video

__all__ = ["card_html", "may_fetch", "source", "thumbnail_html"]


def may_fetch(url: str | None) -> bool:
    """Whether the panel may download ``url`` to show it (see :mod:`luma_nb._media_policy`)."""
    return bool(url) and fetch_refusal(str(url)) is None


def source(url: str | None, local: Path | None, family: str) -> str | None:
    """What a ``src`` may be for ``url``: the URL itself, an embedded copy, or nothing."""
    if not url:
        return None
    if not needs_embedding(url):
        return safe_url(url, data=(family,))
    if local is None or not may_fetch(url):
        return None
    return read_media(local, family, embed_limit()).data_url


def card_html(video: Video, video_file: Path | None, poster_file: Path | None) -> str:
    """The display's video card, with embedded media where the browser needs it."""
    video_url = video.video_url
    if needs_embedding(video_url):
        video_url = source(video_url, video_file, VIDEO) or video_url
    thumbnail_url = video.thumbnail_url
    if thumbnail_url and needs_embedding(thumbnail_url):
        thumbnail_url = source(thumbnail_url, poster_file, IMAGE) or thumbnail_url
    # The card shows no URL as text, so swapping in data URLs changes only the src/poster.
    shown = dataclasses.replace(video, video_url=video_url, thumbnail_url=thumbnail_url)
    return video_html(shown)


def thumbnail_html(src: str | None, *, width: int = 96) -> str:
    """A small thumbnail (or an empty placeholder of the same size)."""
    height = width * 9 // 16
    box = f"width:{width:d}px;height:{height:d}px;border-radius:4px;"
    if src is None:
        return f'<div class="luma-nb-thumb" style="{box}background:rgba(128,128,128,.2)"></div>'
    # src passed safe_url or is our own data URL; escaping keeps the attribute closed anyway.
    return f'<img class="luma-nb-thumb" src="{esc(src)}" style="{box}object-fit:cover" alt="">'
