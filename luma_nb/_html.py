"""Private building blocks of :mod:`luma_nb.display`: escaping, URL filtering, data URLs, CSS.

Everything here is pure (no I/O except :func:`file_data_url`, which reads one local file) so the
safety rules can be tested on their own. The rules are deliberately an allow-list: a URL is
usable only if it is plainly ``http(s)://host...`` or a base64 ``data:`` URL of an image or
video type; anything else, however it is spelled, is dropped rather than "cleaned".
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

__all__ = [
    "CSS",
    "IMAGE",
    "VIDEO",
    "clean_text",
    "esc",
    "file_data_url",
    "human_bytes",
    "human_seconds",
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


# Leading bytes of the formats a Luma result (or the simulator) produces.
_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF8", "image/gif"),
    (0, b"\x1a\x45\xdf\xa3", "video/webm"),
    (4, b"ftypqt", "video/quicktime"),
    (4, b"ftyp", "video/mp4"),
)
_BY_SUFFIX = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".webm": "video/webm",
    ".mov": "video/quicktime",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def sniff_media_type(head: bytes, suffix: str, family: str) -> str | None:
    """Guess a file's media type from its first bytes, then its suffix.

    Content comes first because cache blobs may have no suffix. Returns ``None`` when the
    guess is not of the wanted ``family`` (``"video/"`` or ``"image/"``).
    """
    guess: str | None = None
    if head[8:12] == b"WEBP" and head[:4] == b"RIFF":
        guess = "image/webp"
    for offset, magic, media_type in _MAGIC if guess is None else ():
        if head[offset : offset + len(magic)] == magic:
            guess = media_type
            break
    if guess is None:
        guess = _BY_SUFFIX.get(suffix.lower())
    if guess is None:
        # Unknown bytes and no suffix: the API serves MP4 and JPEG, so assume those.
        guess = "video/mp4" if family == VIDEO else "image/jpeg"
    return guess if guess.startswith(family) else None


def file_data_url(path: Path, family: str, limit: int) -> tuple[str | None, int]:
    """Read ``path`` into a base64 data URL if it holds at most ``limit`` bytes.

    Returns ``(data_url, size)``; ``data_url`` is ``None`` when the file is over the limit
    (then ``size`` is at least ``limit + 1``) or not of ``family``. Reading stops after
    ``limit + 1`` bytes, so an oversized file is never loaded whole.

    Raises
    ------
    OSError
        When the file cannot be read.
    """
    with path.open("rb") as handle:
        raw = handle.read(limit + 1)
        if len(raw) > limit:
            # Report the real size when the file system knows it, for the note.
            size = max(len(raw), path.stat().st_size)
            return None, size
    media_type = sniff_media_type(raw[:16], path.suffix, family)
    if media_type is None:
        return None, len(raw)
    return f"data:{media_type};base64,{base64.b64encode(raw).decode('ascii')}", len(raw)


_MIB = 1024 * 1024


def human_bytes(n: int) -> str:
    """``8388608`` -> ``"8 MB"``, ``1536`` -> ``"1.5 KB"`` (binary units, as the cap is set)."""
    if n < 1024:
        return f"{n} bytes" if n != 1 else "1 byte"
    value, unit = (n / _MIB, "MB") if n >= _MIB else (n / 1024, "KB")
    text = f"{value:.1f}"
    return f"{text.removesuffix('.0')} {unit}"


def human_seconds(seconds: float) -> str:
    """``75.4`` -> ``"1 min 15 s"``; short waits keep a decimal."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def clean_text(value: object) -> str:
    """One line of terminal-safe text: newlines and tabs become spaces, other controls are shown.

    Strings from the API reach a terminal through the plain-text view; an ESC byte there could
    rewrite the screen, so control characters are printed as ``\\x1b`` and so on.
    """
    text = str(value).replace("\r\n", " ").replace("\n", " ").replace("\t", " ")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


# One stylesheet for every card. Selectors all start with ".luma-nb-" so nothing leaks into
# the page; colours are JupyterLab theme variables with neutral fallbacks (or mid-tone accents
# on translucent backgrounds) so the card reads well on light and dark themes alike.
CSS = """
.luma-nb-card{box-sizing:border-box;max-width:640px;margin:4px 0;padding:10px 12px;
border:1px solid var(--jp-border-color2,rgba(128,128,128,.35));border-radius:8px;
background:var(--jp-layout-color1,transparent);color:var(--jp-ui-font-color1,inherit);
font-family:var(--jp-ui-font-family,system-ui,-apple-system,"Segoe UI",sans-serif);
font-size:13px;line-height:1.45}
.luma-nb-head{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-bottom:8px}
.luma-nb-title{font-weight:600;margin-right:auto;overflow-wrap:anywhere}
.luma-nb-badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:11px;
font-weight:600;line-height:18px;white-space:nowrap;color:#8b949e;
background:rgba(139,148,158,.15)}
.luma-nb-ok{color:#2da44e;background:rgba(45,164,78,.14)}
.luma-nb-run{color:#3b82f6;background:rgba(59,130,246,.14)}
.luma-nb-fail{color:#e5534b;background:rgba(229,83,75,.14)}
.luma-nb-sim{color:#c69026;background:rgba(198,144,38,.16)}
.luma-nb-player{display:block;width:100%;max-height:480px;background:#000;border-radius:6px}
.luma-nb-meta{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:2px 12px;
margin:8px 0 0}
.luma-nb-meta dt{opacity:.7}
.luma-nb-meta dd{margin:0;overflow-wrap:anywhere}
.luma-nb-mono{font-family:var(--jp-code-font-family,ui-monospace,Menlo,Consolas,monospace);
font-size:12px}
.luma-nb-prompt{white-space:pre-wrap;max-height:9em;overflow:auto}
.luma-nb-muted{opacity:.7}
.luma-nb-status{margin:2px 0 0}
.luma-nb-note,.luma-nb-error{margin-top:8px;padding:6px 8px;border-radius:4px;
overflow-wrap:anywhere}
.luma-nb-note{border-left:3px solid #c69026;background:rgba(198,144,38,.10)}
.luma-nb-error{border-left:3px solid #e5534b;background:rgba(229,83,75,.10)}
.luma-nb-note a,.luma-nb-card a{color:var(--jp-content-link-color,#3b82f6)}
.luma-nb-grid{display:grid;gap:12px;align-items:start}
.luma-nb-grid .luma-nb-card{max-width:none;margin:0}
""".replace("\n", "")


class RichView:
    """Something that shows itself: HTML in a notebook, text in a terminal or ``repr``.

    Subclasses define :meth:`html` and :meth:`text`; IPython's display hooks come from here.
    """

    def html(self) -> str:
        """The HTML view."""
        raise NotImplementedError

    def text(self) -> str:
        """The plain-text view."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def __repr__(self) -> str:
        return self.text()
