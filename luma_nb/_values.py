"""Untrusted values made safe: what a user passes in, and what an API answer holds.

Sans-I/O and free of luma_nb imports. The checks return a *reason* (a short phrase) or
``None``, so that :mod:`luma_nb.models` can raise :class:`~luma_nb.errors.ValidationError`
with the field's name; the readers turn anything JSON can carry into a typed value or ``None``
and never raise — not on integers beyond a float, ``NaN``, 5,000-digit strings, superscript
digits, lone surrogates or nested garbage.
"""

from __future__ import annotations

import ipaddress
import math
import re
import unicodedata
from urllib.parse import urlsplit

#: Longest id (``video_id``, ``task_id``) accepted; real ones are 36-character UUIDs.
MAX_ID_CHARS = 256
#: Largest width or height read from an answer; anything above is garbage, not a video.
MAX_PIXELS = 100_000
#: Longest error message kept from an answer (the rest is cut, with an ellipsis).
MAX_MESSAGE_CHARS = 2_000

# Categories that draw nothing: controls, format characters (U+200B..U+200D, U+2060,
# U+FEFF, U+00AD, U+180E...) and every kind of space or line/paragraph separator.
_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})
# Default-ignorable code points outside those categories (Unicode's DerivedCoreProperties),
# and the braille blank: they render as nothing too.
_IGNORABLE = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
)
_IPV4_STYLE = re.compile(r"[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+")


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters; never raises (not even for 10**5000)."""
    try:
        text = repr(value)
    except Exception:  # a 5,000-digit int, a broken __repr__
        text = f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def char_name(char: str) -> str:
    """``U+200B (ZERO WIDTH SPACE)``: how an error message names an odd character."""
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name})" if name else "")


def is_finite_number(value: object) -> bool:
    """True for an int or a finite float (not a bool); a huge int never overflows here."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


def surrogate_at(text: str) -> int | None:
    """Index of the first lone surrogate (text that UTF-8 cannot encode), if any."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def is_invisible(char: str) -> bool:
    """True for whitespace and characters that draw nothing (U+200B, U+FEFF, U+00AD...)."""
    if char.isspace() or unicodedata.category(char) in _INVISIBLE:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in _IGNORABLE)


def first_visible(text: str) -> int | None:
    """Index of the first character that draws something, or None for "empty" text."""
    return next((i for i, char in enumerate(text) if not is_invisible(char)), None)


def id_problem(value: object) -> str | None:
    """Why ``value`` is not a usable id (``video_id``, ``task_id``), or None."""
    if not isinstance(value, str):
        return f"it is a {type(value).__name__}, not a string"
    if not value:
        return "it is empty"
    if len(value) > MAX_ID_CHARS:
        return f"it is {len(value)} characters long (at most {MAX_ID_CHARS})"
    odd = next((c for c in value if _unprintable(c)), None)
    if odd is not None:
        return f"it contains {char_name(odd)}"
    return None


def url_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL that httpx and the API can use, or None.

    Refused: other schemes, no host, whitespace, control, invisible or surrogate characters,
    credentials (``user:password@``), a port that is not a number in 1..65535, a malformed
    IPv6 or IPv4 address, and a hostname that IDNA cannot encode.
    """
    if not url:
        return "it is empty"
    odd = next((c for c in url if _unprintable(c)), None)
    if odd is not None:
        return f"it contains {char_name(odd)}"
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL", a netloc that NFKC rewrites
        return f"it cannot be parsed ({exc})"
    if parts.scheme not in ("http", "https"):
        return "only http and https URLs are allowed"
    if "@" in parts.netloc:
        return "it carries credentials (user:password@); pass a URL without them"
    host, port = _split_netloc(parts.netloc)
    if port and not (
        port.isascii() and port.isdigit() and len(port) <= 10 and 0 < int(port) < 65536
    ):
        return f"its port {port[:12]!r} is not a number from 1 to 65535"
    return _host_problem(host)


def _unprintable(char: str) -> bool:
    # Controls, format and private/unassigned/surrogate code points, and every space.
    return unicodedata.category(char)[0] in "CZ"


def _split_netloc(netloc: str) -> tuple[str, str]:
    if netloc.startswith("["):
        end = netloc.find("]")
        if end < 0:
            return netloc, ""
        rest = netloc[end + 1 :]
        return netloc[: end + 1], (rest[1:] if rest.startswith(":") else rest)
    host, _, port = netloc.partition(":")
    return host, port


def _host_problem(host: str) -> str | None:
    if not host:
        return "it has no host"
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1] if host.endswith("]") else host[1:])
        except ValueError:
            return f"{shown(host, 60)} is not an IPv6 address in brackets"
        return None if host.endswith("]") else "its IPv6 address has no closing ']'"
    if "[" in host or "]" in host:
        return "it has a bracket outside an IPv6 address"
    if _IPV4_STYLE.fullmatch(host):
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            return f"{shown(host, 60)} is not an IPv4 address"
    elif not host.isascii():
        import idna  # httpx's own dependency: the same IDNA 2008 rules it applies

        try:
            idna.encode(host.lower())
        except (idna.IDNAError, UnicodeError, ValueError):
            return f"its hostname {shown(host, 60)} is not a valid internationalised name"
    return None


# ----------------------------------------------------------------------------- answers


def read_text(value: object, limit: int | None = None) -> str | None:
    """A non-empty string from an answer (numbers become text), else None.

    Lone surrogates (JSON may carry ``"\\ud800"``) become U+FFFD, so that the text can be
    logged, shown and sent again; ``limit`` cuts it with an ellipsis.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if value.bit_length() > 256:  # str() of a 5,000-digit int raises
            return None
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        text = str(value)
    else:
        return None
    if not text:
        return None
    if surrogate_at(text) is not None:
        text = "".join("\ufffd" if "\ud800" <= c <= "\udfff" else c for c in text)
    if limit is not None and len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def read_float(value: object) -> float | None:
    """A finite float from a number or a numeric string; anything else (NaN too) is None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        try:
            value = float(value)
        except OverflowError:  # JSON integers have no size limit; floats do
            return None
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    if isinstance(value, float) and math.isfinite(value):
        return value
    return None


def read_size(value: object) -> int | None:
    """A width or height in pixels (1..MAX_PIXELS) from an int, an integral float or digits."""
    number: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and len(value) <= 32:
        try:  # int() reads Arabic-Indic digits; "²" and "①" pass isdigit() but not int()
            number = int(value.strip())
        except ValueError:
            return None
    if number is None or not 0 < number <= MAX_PIXELS:
        return None
    return number


def read_url(value: object) -> str | None:
    """A usable http(s) URL from an answer (see :func:`url_problem`), else None."""
    if isinstance(value, str) and url_problem(value) is None:
        return value
    return None
