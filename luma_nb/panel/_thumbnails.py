"""History and extend-picker thumbnails: a ``src`` per log row, fetched in the background.

A thumbnail the browser can reach is used as it is. One it cannot (the simulator's) is looked
up in the client's media cache, else downloaded once in the background; the rows show a
placeholder meanwhile and are redrawn when it arrives. A failed fetch is not retried.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._html import IMAGE
from luma_nb.panel._calls import Calls
from luma_nb.panel._media import may_fetch, source
from luma_nb.render.media import needs_embedding

if TYPE_CHECKING:
    from luma_nb.client import AsyncClient, Client
    from luma_nb.panel._uploader import Start

__all__ = ["Thumbnails"]


class Thumbnails:
    """The panel's thumbnail sources.

    Parameters
    ----------
    client : callable
        ``client()`` is the panel's current client (a pasted token replaces it).
    start : callable
        Runs a coroutine in the background.
    arrived : callable
        Called after a fetched thumbnail arrived (the panel redraws its rows).
    """

    def __init__(
        self,
        client: Callable[[], AsyncClient | Client],
        start: Start,
        arrived: Callable[[], None],
    ) -> None:
        self._client = client
        self._start = start
        self._arrived = arrived
        self._srcs: dict[str, str | None] = {}
        self._fetching: set[str] = set()

    def keep(self, url: str, local: Path | None) -> None:
        """Remember ``url``'s local copy (``None``: none could be made)."""
        self._srcs[url] = source(url, local, IMAGE)

    def src(self, row: dict[str, Any]) -> str | None:
        """A src for a log row's thumbnail; fetched in the background when not yet local."""
        url = row.get("thumbnail_url")
        if not isinstance(url, str) or not url:
            return None
        if url in self._srcs:
            return self._srcs[url]
        if not needs_embedding(url):
            return source(url, None, IMAGE)
        calls = Calls(self._client())
        cached = calls.cached(url)
        if cached is not None:
            self.keep(url, cached)
            return self._srcs[url]
        if url not in self._fetching and may_fetch(url):
            self._fetching.add(url)
            self._start(self._fetch(calls, url))
        return None

    async def _fetch(self, calls: Calls, url: str) -> None:
        try:
            path = await calls.download(url)
        except Exception:
            self._srcs[url] = None  # shown as a placeholder; not retried
            return
        self.keep(url, path)
        self._arrived()
