"""The filmstrip part of a card: a video's evenly spaced frames, one inert picture.

Every view shows a finished video's strip under its player (the notebook card, ``grid``, the
session cards of ``history(cards=True)``, the chain timeline, the panel's results and their
snapshot, the blind review and the reports), chosen through the one card builder
(:func:`luma_nb.render.card.card`'s ``filmstrip`` part). The picture is embedded as a ``data:``
URL, so a saved notebook or a standalone report shows the motion with no kernel, no network
and nothing to play.

Where a strip comes from
------------------------
:func:`strip_for` finds the video's local copy the way the player does (the item's saved copy
when :func:`~luma_nb._media_policy.copy_allowed`, else the media cache's copy of its URL) and
:func:`local_filmstrip` makes the strip from it once (:func:`luma_nb.video_metrics.make_filmstrip`
keeps it under the same cache's ``filmstrips/`` folder). Nothing is ever downloaded for a strip:
a video that is not in the media cache has none. A file outside the cache, one that is not a
video, a damaged one, or a kernel without PyAV/numpy/Pillow (the ``research`` extra) gives no
strip and no error; :func:`filmstrips_available` tells the last case apart.

:func:`filmstrip_part` reads the JPEG only when it lies in luma_nb's media cache and fits under
the embed cap (:func:`luma_nb.render.media.embed_limit`); otherwise the part is empty.
Everything is escaped; there is no script and no event handler.
"""

from __future__ import annotations

import os
import stat
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._html import IMAGE, VIDEO, esc, sniff_media_type
from luma_nb._media_cache import active_roots
from luma_nb._media_policy import cached_copy, copy_allowed, inside_media_cache, read_media
from luma_nb.errors import ConfigError
from luma_nb.render.media import embed_limit

if TYPE_CHECKING:
    from luma_nb.video_metrics import Filmstrip

__all__ = [
    "filmstrip_alt",
    "filmstrip_part",
    "filmstrips_available",
    "local_filmstrip",
    "row_strip",
    "strip_for",
]

# Strips already looked up, by file and version (path, size, mtime): a card drawn again (a
# grid redrawn, a report exported twice) neither hashes the video again nor retries a file
# that failed to decode. Bounded: a long session shows many videos.
_MEMO_SIZE = 256
_memo: OrderedDict[tuple[str, int, int], Filmstrip | None] = OrderedDict()
_memo_lock = threading.Lock()
_missing_modules: list[str] = []  # the ConfigError's text, once PyAV & co. were found missing


def filmstrips_available() -> bool:
    """False once a strip could not be made because PyAV, numpy or Pillow is missing."""
    return not _missing_modules


def _cache_root(real: Path) -> Path | None:
    """The active media cache folder that holds ``real`` (already resolved)."""
    for root in active_roots():
        try:
            base = os.path.realpath(root)
            if os.path.commonpath([str(real), base]) == base:
                return Path(base)
        except (OSError, ValueError):
            continue
    return None


def local_filmstrip(path: object) -> Filmstrip | None:
    """The filmstrip of a video file in the media cache: made once, then read from the cache.

    Parameters
    ----------
    path : str or PathLike
        A local copy of a video (a log row's ``media_path``, a download).

    Returns
    -------
    Filmstrip or None
        ``None`` when the file is outside luma_nb's media cache, not a video, damaged, has no
        frame, or PyAV, numpy or Pillow is missing. Never raises.
    """
    real = inside_media_cache(path)
    if real is None:
        return None
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        # As read_media does: never block on a FIFO or read a device that sits in the cache.
        fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(fd)
            head = os.read(fd, 16) if stat.S_ISREG(info.st_mode) else b""
        finally:
            os.close(fd)
    except OSError:
        return None
    if sniff_media_type(head, VIDEO) is None:
        return None  # a poster or a text file: PyAV would read an image as one frame
    key = (str(real), info.st_size, info.st_mtime_ns)
    with _memo_lock:
        hit = key in _memo
        known = _memo.get(key)
        if hit:
            _memo.move_to_end(key)
    # A strip deleted from the cache since (a cleaned cache folder) is made again.
    if hit and (known is None or known.path.is_file()):
        return known
    strip = _make(real)
    with _memo_lock:
        _memo[key] = strip
        while len(_memo) > _MEMO_SIZE:
            _memo.popitem(last=False)
    return strip


def _make(real: Path) -> Filmstrip | None:
    try:
        # Imported here: the views load without the research extra, and quickly.
        from luma_nb.video_metrics import make_filmstrip

        return make_filmstrip(real, cache_dir=_cache_root(real))
    except ConfigError as exc:
        if not _missing_modules:
            _missing_modules.append(str(exc))
        return None
    except Exception:  # not a video after all, damaged, cut short, a full disk: no strip
        return None


def strip_for(url: object, *, saved: object = None, backend: object = None) -> Filmstrip | None:
    """The filmstrip of the video at ``url``, from its local copy only (never downloaded).

    Parameters
    ----------
    url : str
        The video's URL (a public, a simulator or a ``data:`` URL).
    saved : str or PathLike, optional
        The item's own copy (a log row's ``media_path``), used when the media policy allows
        a copy of ``url`` given ``backend`` (as for the player).
    backend : str, optional
        ``"api"`` or ``"simulator"``: where the video was made.

    Returns
    -------
    Filmstrip or None
        Never raises.
    """
    if saved is not None and copy_allowed(url, backend):
        strip = local_filmstrip(saved)
        if strip is not None:
            return strip
    if not isinstance(url, str) or not url or url[:5].lower() == "data:":
        return None
    copy = cached_copy(url)
    return local_filmstrip(copy) if copy is not None else None


def row_strip(row: Mapping[str, Any]) -> Filmstrip | None:
    """The filmstrip of a session-log row's (or a study record's) video: :func:`strip_for`
    of its ``video_url``, ``media_path`` and ``backend``. ``None`` when it has no video."""
    url = row.get("video_url")
    if not isinstance(url, str) or not url:
        return None
    return strip_for(url, saved=row.get("media_path"), backend=row.get("backend"))


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
