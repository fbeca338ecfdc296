"""Videos of a study rebuilt from log rows, playable offline when the browser needs it.

The study downloads every finished clip and the log records where. A clip the browser could
not load itself (the simulator's, a loopback server's) is embedded from that local copy, so
players work after a kernel restart without any fetcher or network; anything else keeps its
URL and :func:`luma_nb.display.video_html` decides as usual. The local copy is read only when
it is media inside luma_nb's media cache (:func:`luma_nb._media_policy.read_media`): the
``media_path`` of an edited log cannot pull another file into the page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from luma_nb._html import VIDEO
from luma_nb._media_policy import copy_allowed, read_media
from luma_nb.display import embed_limit, needs_embedding
from luma_nb.models import Video, VideoRequest

__all__ = ["playable"]


def _source(row: Mapping[str, Any]) -> tuple[str, bool]:
    """The player's source: a data URL from the local copy when embedding is needed."""
    url = str(row["video_url"])
    path = row.get("media_path")
    if path and needs_embedding(url) and copy_allowed(url, row.get("backend")):
        # Refused, moved or deleted: display falls back to its own ways.
        data_url = read_media(path, VIDEO, embed_limit()).data_url
        if data_url is not None:
            return data_url, True
    return url, False


def playable(
    row: Mapping[str, Any], *, request: VideoRequest | None = None, blind: bool = False
) -> Video | None:
    """The row's video for display, or None when it has none.

    ``blind`` strips everything that could tell the arms apart (prompts, request, ids): only
    the player, its size and the backend remain.
    """
    if not row.get("video_url"):
        return None
    src, local = _source(row)
    # An embedded player needs no poster; fetching one would be the only network use left.
    thumbnail = None if local else row.get("thumbnail_url")
    common: dict[str, Any] = {
        "video_url": src,
        "thumbnail_url": thumbnail,
        "width": row.get("width"),
        "height": row.get("height"),
        "backend": row.get("backend") or "api",
    }
    if blind:
        return Video(task_id="", **common)
    return Video(
        task_id=row.get("task_id") or "",
        video_id=row.get("video_id"),
        prompt=row.get("echoed_prompt"),
        trace_id=row.get("trace_id"),
        request=request,
        **common,
    )
