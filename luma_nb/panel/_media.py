"""The panel's media, through the one renderer: result cards, posters and thumbnails.

Real results live on a public CDN, which the browser loads itself: their URLs are used as
they are, and the widget state stays small. Media the browser cannot reach (the simulator's
``.invalid`` host, loopback) is downloaded through the panel's own client — it may be
asynchronous, and its cache folder its own — and handed to
:func:`luma_nb.render.media.place` as the item's saved copy. The renderer never fetches for
the panel (``fetch=False``): a blocking download must not run on the kernel's event loop.
What may be embedded is :mod:`luma_nb._media_policy`'s decision; before downloading a URL for
the page, ask :func:`may_fetch`. A result's filmstrip is made from the downloaded file in a
worker thread (decoding must not hold the kernel's event loop either).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from luma_nb._media_policy import fetch_refusal
from luma_nb.errors import LumaError
from luma_nb.models import Video
from luma_nb.panel._messages import human_message
from luma_nb.render.card import video_card
from luma_nb.render.filmstrip import local_filmstrip
from luma_nb.render.markup import picture
from luma_nb.render.media import needs_embedding, place

if TYPE_CHECKING:
    from luma_nb.panel._calls import Calls
    from luma_nb.session_log import SessionLog
    from luma_nb.video_metrics import Filmstrip

__all__ = ["card_html", "may_fetch", "result_card", "source", "thumbnail_html"]


def may_fetch(url: str | None) -> bool:
    """Whether the panel may download ``url`` to show it (see :mod:`luma_nb._media_policy`)."""
    return bool(url) and fetch_refusal(str(url)) is None


def source(url: str | None, local: Path | None, family: str) -> str | None:
    """What a ``src`` may be for ``url``: the URL itself, an embedded copy, or nothing."""
    return place(url, family, saved=local, fetch=False).src


def card_html(
    video: Video,
    video_file: Path | None,
    poster_file: Path | None,
    strip: Filmstrip | None = None,
) -> str:
    """The shared video card, embedding the panel's downloads where the browser needs them."""
    if video_file is not None:
        video = dataclasses.replace(video, media_path=str(video_file))
    return video_card(video, saved_poster=poster_file, fetch=False, filmstrip=strip)


def thumbnail_html(src: str | None, *, width: int = 96) -> str:
    """A small thumbnail (or an empty placeholder of the same size)."""
    return picture(src, width=width)


async def result_card(
    calls: Calls,
    video: Video,
    log: SessionLog,
    iteration: str,
    keep_poster: Callable[[str, Path | None], None],
) -> tuple[str, str]:
    """A finished job's card HTML and a note, after saving the video (logged as media)."""
    video_file: Path | None = None
    poster_file: Path | None = None
    note = ""
    refusal = fetch_refusal(video.video_url)
    if refusal is not None:
        # An answer naming some private server must not make the kernel request it.
        note = f"The video is ready but was not saved locally: {refusal}."
    else:
        try:
            video_file = await calls.download(video.video_url)
        except LumaError as exc:
            # The video exists; a failed local copy must not lose it. The log keeps its URL.
            note = f"The video is ready but could not be saved locally: {human_message(exc)}"
        else:
            log.media(iteration, video_file)
    thumb = video.thumbnail_url
    if thumb and needs_embedding(thumb) and fetch_refusal(thumb) is None:
        try:
            poster_file = await calls.download(thumb)
        except LumaError:
            poster_file = None  # a poster is cosmetic: the player works without it
        keep_poster(thumb, poster_file)
    strip = await asyncio.to_thread(local_filmstrip, video_file) if video_file else None
    return card_html(video, video_file, poster_file, strip), note
