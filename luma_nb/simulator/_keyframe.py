"""Keyframe images: fetched when a task is submitted, as the service needs them reachable.

``data:`` URLs are decoded, the simulator's own thumbnails are resolved internally (no request
to itself), and any other http(s) URL goes through an image fetcher (default: a guarded httpx
GET with a short timeout, see :mod:`._netguard`: loopback only unless remote fetches are
allowed, every redirect hop re-checked). An unreachable or undecodable image makes the submit
fail with 400 ``bad_request`` naming the field and the URL, in one sentence whatever went wrong
(so the answer never tells whether a target answered); the real service's answer is
undocumented, so this is the simulator's choice.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import httpx

from ._netguard import MAX_REDIRECTS, AddressPolicy, GuardedTransport

__all__ = [
    "MAX_IMAGE_BYTES",
    "ImageFetcher",
    "OwnThumbnail",
    "decode_data_url",
    "guarded_image_fetcher",
    "looks_like_image",
]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
FETCH_TIMEOUT = 5.0

ImageFetcher = Callable[[str], bytes]


@dataclass(frozen=True)
class OwnThumbnail:
    """A keyframe that is the thumbnail of one of the simulator's own tasks."""

    task_id: str


def decode_data_url(url: str) -> bytes:
    """The bytes of a ``data:`` URL.

    Raises
    ------
    ValueError
        If the URL is not a well-formed data URL.
    """
    head, sep, payload = url.partition(",")
    if not sep or not head.lower().startswith("data:"):
        raise ValueError("not a data URL")
    if head.lower().endswith(";base64"):
        try:
            return base64.b64decode(payload, validate=False)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("bad base64 payload") from exc
    return unquote_to_bytes(payload)


def guarded_image_fetcher(
    policy: AddressPolicy, *, transport: httpx.BaseTransport | None = None
) -> ImageFetcher:
    """An image fetcher that GETs through ``policy``, following redirects hop by hop.

    Parameters
    ----------
    policy : AddressPolicy
        Checked for the URL and again for every redirect target; the connection goes to the
        checked address.
    transport : httpx.BaseTransport, optional
        What sends the pinned requests (default real HTTP).

    Returns
    -------
    callable
        ``fetch(url) -> bytes``, raising on a refused address, a network error, a non-2xx
        answer, more than ``MAX_REDIRECTS`` redirects or a body over ``MAX_IMAGE_BYTES``.
    """

    def fetch(url: str) -> bytes:
        guarded = GuardedTransport(policy, transport)
        with httpx.Client(transport=guarded, timeout=FETCH_TIMEOUT) as client:
            for _ in range(MAX_REDIRECTS + 1):
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = str(response.url.join(response.headers["location"]))
                        continue
                    response.raise_for_status()
                    return _read_capped(response)
        raise ValueError("too many redirects")

    return fetch


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_IMAGE_BYTES:
            raise ValueError("image too large")
        chunks.append(chunk)
    return b"".join(chunks)


_MAGIC: tuple[tuple[int, bytes], ...] = (
    (0, b"\x89PNG\r\n\x1a\n"),
    (0, b"\xff\xd8\xff"),
    (0, b"GIF87a"),
    (0, b"GIF89a"),
    (8, b"WEBP"),
    (0, b"BM"),
)


def looks_like_image(data: bytes) -> bool:
    """Whether ``data`` is a decodable image (Pillow when installed, else magic bytes)."""
    if not any(data[offset : offset + len(magic)] == magic for offset, magic in _MAGIC):
        return False
    try:
        from PIL import Image
    except ImportError:  # without the render extra the magic bytes must do
        return True
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
    except Exception:
        return False
    return True
