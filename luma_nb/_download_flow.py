"""Downloading media, as a flow: stream a URL into the content-addressed cache.

The token goes only to the API's own origin, never to a CDN; a body larger than
``settings.max_download_bytes`` is refused; transient failures are retried with backoff.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import httpx

from luma_nb._flow_base import FlowBase
from luma_nb._flow_steps import HTTPX_ERRORS, LOCAL_ERRORS, Fetch, Flow, Sleep
from luma_nb._media_cache import MediaCache
from luma_nb.errors import UnexpectedResponseError


class DownloadFlow(FlowBase):
    """The download flows of :class:`luma_nb._flows.Core`."""

    def download(self, url: str, cache: MediaCache, path: str | Path | None) -> Flow[Path]:
        """Download ``url`` through the content-addressed cache; a hit costs no request."""
        cached = cache.lookup(url)
        if cached is None:
            temp = cache.open_temp()
            try:
                response = yield from self.fetch(url, temp)
                cached = cache.commit(temp, url, response.headers.get("content-type"))
            except BaseException:
                cache.discard(temp)
                raise
        return cache.place(cached, path)

    def fetch(self, url: str, sink: BinaryIO) -> Flow[httpx.Response]:
        """Stream a media URL into ``sink``; the token goes only to the API's own origin.

        A body larger than ``settings.max_download_bytes`` stops there with an
        :class:`UnexpectedResponseError` (the caller discards what was written).
        """
        authorized = self.is_api_url(url)
        cap = self.settings.max_download_bytes
        max_retries = self.settings.retry.max_retries
        attempt = 0
        while True:
            sink.seek(0)
            sink.truncate()
            try:
                response = yield Fetch(url, sink, authorized, cap)
            except LOCAL_ERRORS as exc:
                raise self._transport_error(exc, "downloading the video") from None
            except HTTPX_ERRORS as exc:
                if attempt >= max_retries:
                    raise self._transport_error(exc, "downloading the video") from None
            else:
                if 200 <= response.status_code < 300:
                    if sink.tell() > cap:
                        raise UnexpectedResponseError(
                            f"the download of {url!r} grew past the cap of {cap:,} bytes and "
                            "was stopped; raise it with Client(max_download_bytes=...) or "
                            "LUMA_NB_MAX_DOWNLOAD_BYTES if the file is really that large",
                            status_code=response.status_code,
                        )
                    fetched: httpx.Response = response
                    return fetched
                error = self._error(response)
                transient = response.status_code >= 500 or response.status_code == 429
                if not transient or attempt >= max_retries:
                    raise error
            yield Sleep(self.backoff(attempt))
            attempt += 1
