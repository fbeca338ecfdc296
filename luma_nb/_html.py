"""The safety primitives of every page and line luma_nb writes: escaping, URL filtering, data URLs.

Everything here is pure (no I/O: reading files is :mod:`luma_nb._media_policy`'s) so the
safety rules can be tested on their own. The rules are deliberately an allow-list: a URL is
usable only if it is plainly ``http(s)://host...`` or a base64 ``data:`` URL of an image or
video type; anything else, however it is spelled, is dropped rather than "cleaned".
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

__all__ = [
    "IMAGE",
    "VIDEO",
    "clean_text",
    "esc",
    "human_bytes",
    "safe_url",
    "sniff_media_type",
]

#: The media-type families a ``data:`` URL may carry, per use.
VIDEO = "video/"
IMAGE = "image/"

# A base64 data URL of one image/* or video/* type, optional parameters, nothing else. The
# payload alphabet excludes quotes, angle brackets and spaces, so even a bug in escaping
# downstream could not turn the payload into markup.
_DATA_URL = re.compile(
    r"data:(?P<type>(?:image|video)/[a-z0-9][a-z0-9.+-]*)"
    r"(?:;[a-z0-9-]+=[a-z0-9.+-]+)*"
    r";base64,[A-Za-z0-9+/]*={0,2}",
    re.IGNORECASE,
)
# SVG images can carry script when opened as a document; no need for them in a video card.
_DATA_TYPES_REFUSED = frozenset({"image/svg+xml"})


def esc(value: object) -> str:
    """HTML-escape any value for text or a double-quoted attribute."""
    return html.escape(str(value), quote=True)


def _has_tricky_chars(url: str) -> bool:
    # Browsers silently drop tabs/newlines inside URLs and trim control characters, so
    # "java\tscript:" runs as "javascript:". Refusing every whitespace and control character
    # (C0, DEL, C1) up front closes that whole family instead of mimicking the URL parser.
    return any(c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in url)


def safe_url(url: object, *, data: tuple[str, ...] = ()) -> str | None:
    """Return ``url`` if it may become a ``src``/``poster``/``href``, else ``None``.

    Parameters
    ----------
    url : object
        The candidate, usually a string from the API.
    data : tuple of str
        Media-type families (:data:`VIDEO`, :data:`IMAGE`) allowed as base64 ``data:`` URLs.
        Empty (the default, right for links) refuses every ``data:`` URL.

    Returns
    -------
    str or None
        The URL with its scheme lower-cased, or ``None`` when it is not an absolute
        ``http(s)`` URL with a host or an allowed base64 ``data:`` URL.
    """
    if not isinstance(url, str) or not url or _has_tricky_chars(url):
        return None
    scheme, sep, rest = url.partition(":")
    if not sep:
        return None
    scheme = scheme.lower()
    if scheme in ("http", "https"):
        if not rest.startswith("//"):
            return None
        try:
            host = urlsplit(url).hostname
        except ValueError:  # e.g. an unbalanced IPv6 bracket
            return None
        return scheme + ":" + rest if host else None
    if scheme == "data" and data:
        match = _DATA_URL.fullmatch(url)
        if match is None:
            return None
        media_type = match.group("type").lower()
        if media_type in _DATA_TYPES_REFUSED or not media_type.startswith(data):
            return None
        return "data:" + rest
    return None


# Leading bytes of the formats a Luma result (or the simulator) produces. Only the content
# counts, never a file name: a text file called "clip.mp4" is not a video.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF87a", "image/gif"),
    (0, b"GIF89a", "image/gif"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (4, b"ftypqt", "video/quicktime"),
    (4, b"ftyp", "video/mp4"),
)


def sniff_media_type(head: bytes, family: str) -> str | None:
    """The media type that a file's first 16 bytes prove, if it is of ``family``.

    Recognised: ISO-BMFF (MP4, QuickTime; an ``ftyp`` box of a plausible size first),
    WebM/Matroska (EBML), JPEG, PNG, GIF and WebP. Anything else, or a type outside
    ``family`` (``"video/"`` or ``"image/"``), gives ``None``.
    """
    guess: str | None = None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        guess = "image/webp"
    for offset, magic, media_type in _MAGIC if guess is None else ():
        if head[offset : offset + len(magic)] == magic:
            guess = media_type
            break
    if guess is not None and head[4:8] == b"ftyp":
        box = int.from_bytes(head[:4], "big")
        if not 8 <= box <= 4096:  # an ftyp box is a few dozen bytes
            guess = None
    return guess if guess is not None and guess.startswith(family) else None


_MIB = 1024 * 1024


def human_bytes(n: int) -> str:
    """``8388608`` -> ``"8 MB"``, ``1536`` -> ``"1.5 KB"`` (binary units, as the cap is set)."""
    if n < 1024:
        return f"{n} bytes" if n != 1 else "1 byte"
    value, unit = (n / _MIB, "MB") if n >= _MIB else (n / 1024, "KB")
    text = f"{value:.1f}"
    return f"{text.removesuffix('.0')} {unit}"


# C0 controls (ESC starts terminal sequences, CR rewrites the line, BEL rings), DEL, C1
# controls (0x9b is a one-byte CSI), the line and paragraph separators, and the bidirectional
# marks, embeddings, overrides and isolates that make text display in another order than it
# is (U+202E).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def _shown(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def clean_text(value: object) -> str:
    """One line of terminal-safe text: newlines and tabs become spaces, other controls are shown.

    Strings from the API reach a terminal through the plain-text views and the progress line;
    an ESC byte there could rewrite the screen and a bidi override reorder what is read, so
    control and bidi characters are printed escaped, as ``\\x1b`` or ``\\u202e``.
    """
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub(_shown, text)
