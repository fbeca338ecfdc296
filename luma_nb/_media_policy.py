"""What untrusted data may make luma_nb read, fetch or write: one home for those decisions.

Session logs are shared and hand-edited, API answers come from a server, and both end up in
pages (the notebook cards, the chain views, the panel, the review grid, standalone reports).
One function decides how a video or an image reaches a page
(:func:`luma_nb.render.media.place`, which every view calls); it asks this module rather than
keeping its own copy of a rule:

Reading a local file into a page (:func:`read_media`)
    Only a regular file that resolves (every symlink followed) inside an active media cache
    folder (:func:`luma_nb._media_cache.active_roots`: the folders luma_nb itself downloads
    into) and whose leading bytes really are a video or an image (MP4/ISO-BMFF ``ftyp``,
    WebM/Matroska EBML, JPEG, PNG, GIF, WebP). A log row's ``media_path`` naming
    ``~/.ssh/id_rsa``, a symlink out of the cache or a text file in it is ignored, never read
    into the page.

Fetching a URL to embed it (:func:`fetch_refusal`, :func:`cached_copy`)
    A URL whose host is loopback, private, link-local or otherwise not public (an IP literal
    in any spelling, ``localhost``, single-label names, local-only suffixes) is downloaded
    only when it belongs to the simulator this process is connected to
    (:func:`register_simulator`; :func:`luma_nb.backend.connect` registers it) or names a
    ``.invalid`` host, which no network can answer: only the in-process simulator's transport
    does. Public URLs may be fetched; whether they are is the caller's rule (only with
    ``embed=True``: by default they are linked). The same rule covers a cached copy of a URL,
    and a log row's saved copy unless the row was made on the simulator (:func:`copy_allowed`).

Judging what the API can reach (:func:`public_url_refusal`, :func:`is_own_simulator_media`)
    The keyframe preflight (:mod:`luma_nb._preflight`) asks the same host rules the other way
    round: a keyframe URL must be public as written (no exception for simulators or
    ``.invalid`` hosts: the API is on the internet), unless it is the media of the simulator
    the client itself talks to.

Naming a file after log data (:func:`report_file_name`)
    A slug of the value, bounded, never a path, a hidden file or a reserved device name.

Host names are judged as written: a public-looking name that DNS resolves to a private
address is not caught here (that takes a check at connection time, in the HTTP client).
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
import re
import socket
import stat
import threading
import unicodedata
import weakref
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from luma_nb._html import sniff_media_type
from luma_nb._media_cache import MediaCache, active_roots

__all__ = [
    "LocalMedia",
    "cached_copy",
    "canonical_host",
    "copy_allowed",
    "fetch_refusal",
    "forget_simulator",
    "host_address",
    "inside_media_cache",
    "is_own_simulator_media",
    "is_public_host",
    "is_simulator_url",
    "public_url_refusal",
    "read_media",
    "register_simulator",
    "report_file_name",
]

# --------------------------------------------------------------------------- local files


@dataclass(frozen=True)
class LocalMedia:
    """The outcome of :func:`read_media`.

    Attributes
    ----------
    data_url : str or None
        A base64 ``data:`` URL of the file, when it may be embedded.
    size : int
        Bytes read (at least ``limit + 1`` when the file is over the cap), 0 when refused.
    refused : str or None
        Why the file was not read (a clause, no trailing period), or ``None``.
    """

    data_url: str | None
    size: int = 0
    refused: str | None = None

    def over(self, limit: int) -> bool:
        """Whether the file was left out only for being larger than ``limit`` bytes."""
        return self.data_url is None and self.refused is None and self.size > limit


def inside_media_cache(path: object) -> Path | None:
    """``path`` resolved (symlinks followed) when that lies inside an active cache folder."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    try:
        real = os.path.realpath(os.fspath(path))
    except (OSError, ValueError):  # NUL bytes, names too long, loops
        return None
    if not isinstance(real, str):
        return None
    for root in active_roots():
        try:
            base = os.path.realpath(root)
            if real != base and os.path.commonpath([real, base]) == base:
                return Path(real)
        except (OSError, ValueError):
            continue
    return None


def read_media(path: object, family: str, limit: int) -> LocalMedia:
    """Read a local file into a ``data:`` URL, if it is cached media of ``family`` under ``limit``.

    Parameters
    ----------
    path : str or PathLike
        The candidate (from a log row, the media cache, a fetcher).
    family : str
        ``"video/"`` or ``"image/"``: what the file must be.
    limit : int
        The embed cap in bytes; reading stops after ``limit + 1`` bytes.

    Returns
    -------
    LocalMedia
        Never raises: a file outside the cache, not a regular file, unreadable or not media
        of ``family`` is refused with a reason.
    """
    real = inside_media_cache(path)
    if real is None:
        return LocalMedia(None, refused="the file is not in luma_nb's media cache")
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        # Open the resolved name without following a link swapped in since, and look at what
        # was opened: a directory, a FIFO or a device inside the cache is refused, not read.
        fd = os.open(real, flags | getattr(os, "O_CLOEXEC", 0))
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                return LocalMedia(None, refused="it is not a regular file")
            with os.fdopen(os.dup(fd), "rb") as handle:
                # The leading bytes decide before anything else is read.
                head = handle.read(16)
                media_type = sniff_media_type(head, family)
                if media_type is None:
                    return LocalMedia(None, refused=f"the file is not {_article(family)}")
                raw = head + handle.read(max(0, limit + 1 - len(head)))
        finally:
            os.close(fd)
    except OSError as exc:
        # The error's text, not its message: that names the file, and notes get shared.
        why = exc.strerror or "error"
        return LocalMedia(None, refused=f"reading it failed: {type(exc).__name__}: {why}")
    if len(raw) > limit:
        return LocalMedia(None, max(len(raw), info.st_size))
    encoded = base64.b64encode(raw).decode("ascii")
    return LocalMedia(f"data:{media_type};base64,{encoded}", len(raw))


def _article(family: str) -> str:
    return "a video" if family.startswith("video") else "an image"


# --------------------------------------------------------------------------- hosts

# Names that never leave the machine or the local network, by convention or by RFC.
_LOCAL_SUFFIXES = (
    "localhost",
    "local",
    "localdomain",
    "internal",
    "intranet",
    "lan",
    "home",
    "corp",
    "private",
    "arpa",
)
_LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
# inet_aton spellings of IPv4 that a resolver accepts: 127.1, 0x7f.0.0.1, 2130706433, 0177.0.0.1.
_NUMERIC_HOST = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _canonical_host(host: str) -> str | None:
    """Lower-case ASCII host (IDNA applied, brackets and trailing dot dropped), or None."""
    host = host.strip("[]").rstrip(".").lower()
    if not host.isascii():
        try:
            host = unicodedata.normalize("NFKC", host).encode("idna").decode("ascii").lower()
        except (UnicodeError, ValueError):
            return None
        host = host.rstrip(".")
    address = _address(host)
    if address is not None:
        return address.compressed
    return host or None


def _address(host: str) -> Address | None:
    """The address a host spells, in any form a resolver would accept, or None for a name."""
    bare = host.split("%", 1)[0]  # an IPv6 zone id
    try:
        address: Address = ipaddress.ip_address(bare)
    except ValueError:
        if not _NUMERIC_HOST.fullmatch(host):
            return None
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def canonical_host(host: str) -> str | None:
    """How a host is compared: lower-case ASCII, IDNA applied, an IP in its compressed form
    (``127.1`` and ``[::ffff:127.0.0.1]`` both give ``127.0.0.1``); None when unusable."""
    return _canonical_host(host) if isinstance(host, str) else None


def host_address(host: str) -> Address | None:
    """The IP address a URL's host spells (``127.1``, ``[::ffff:127.0.0.1]``...), or None."""
    canonical = _canonical_host(host)
    return _address(canonical) if canonical is not None else None


def _public_address(address: Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded: list[ipaddress.IPv4Address] = []
        if address.sixtofour is not None:
            embedded.append(address.sixtofour)
        if address.teredo is not None:
            embedded.extend(address.teredo)
        if address in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        if address.is_site_local or not all(_public_address(e) for e in embedded):
            return False
    return bool(
        address.is_global
        and not (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        )
    )


def is_public_host(host: str) -> bool:
    """Whether ``host`` (as written in a URL) names something on the public internet.

    False for loopback, private, link-local, shared, reserved and other special addresses in
    any spelling (``127.1``, ``0x7f000001``, ``[::ffff:127.0.0.1]``, 6to4/NAT64 wrappings of
    them), for ``localhost`` and single-label names, and for local-only suffixes
    (``.local``, ``.internal``, ``.lan``, ``.home.arpa``...). ``.invalid`` is not public either.
    """
    canonical = _canonical_host(host) if isinstance(host, str) else None
    if canonical is None:
        return False
    address = _address(canonical)
    if address is not None:
        return _public_address(address)
    if "." not in canonical or _is_invalid(canonical):
        return False
    return not any(canonical == s or canonical.endswith("." + s) for s in _LOCAL_SUFFIXES)


def _is_invalid(host: str) -> bool:
    return host == "invalid" or host.endswith(".invalid")


# --------------------------------------------------------------------------- simulators

Origin = tuple[str, str, int]

_lock = threading.Lock()
_origins: set[Origin] = set()
_owned: weakref.WeakKeyDictionary[object, set[Origin]] = weakref.WeakKeyDictionary()


def _origin(url: object) -> Origin | None:
    if not isinstance(url, str):
        return None
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not host:
        return None
    canonical = _canonical_host(host)
    if canonical is None:
        return None
    return scheme, canonical, port if port is not None else (443 if scheme == "https" else 80)


def _aliases(origin: Origin) -> set[Origin]:
    # The loopback simulator answers its API on 127.0.0.1 and hands out media URLs on
    # localhost (the same socket under another name), so loopback names count as one host.
    scheme, host, port = origin
    if host in _LOOPBACK_NAMES:
        return {(scheme, name, port) for name in _LOOPBACK_NAMES}
    return {origin}


def register_simulator(url: str, *, owner: object = None) -> None:
    """Trust ``url``'s origin (scheme, host, port) as a simulator this process talks to.

    With ``owner`` (a client), the origin is trusted while the owner lives; without, for the
    rest of the process. A URL that is not http(s) is ignored.
    """
    origin = _origin(url)
    if origin is None:
        return
    with _lock:
        if owner is None:
            _origins.update(_aliases(origin))
        else:
            _owned.setdefault(owner, set()).update(_aliases(origin))


def forget_simulator(url: str) -> None:
    """Stop trusting ``url``'s origin (both forms of registration)."""
    origin = _origin(url)
    if origin is None:
        return
    gone = _aliases(origin)
    with _lock:
        _origins.difference_update(gone)
        for origins in _owned.values():
            origins.difference_update(gone)


def is_simulator_url(url: str, *, owner: object = None) -> bool:
    """Whether ``url`` is on the origin of a registered simulator.

    With ``owner`` (a client), only the simulators registered for that owner, or for the
    whole process, count: the simulator *this* client talks to.
    """
    origin = _origin(url)
    if origin is None:
        return False
    with _lock:
        if origin in _origins:
            return True
        if owner is not None:
            return origin in _owned.get(owner, ())
        return any(origin in found for found in _owned.values())


def is_own_simulator_media(url: str, *, owner: object, base_url: str) -> bool:
    """Whether ``url`` belongs to the simulator that ``owner`` (a client whose backend is the
    simulator, at ``base_url``) talks to.

    True for an origin registered for ``owner`` (or for the process), for the origin of
    ``base_url`` itself (loopback names counting as one host: the loopback simulator serves
    media on ``localhost`` and its API on ``127.0.0.1``), and for a ``.invalid`` host, which no
    network answers: only the in-process simulator's transport does.
    """
    origin = _origin(url)
    if origin is None:
        return False
    own = _origin(base_url)
    return (
        _is_invalid(origin[1])
        or is_simulator_url(url, owner=owner)
        or (own is not None and origin in _aliases(own))
    )


def _httpx_host(url: str) -> str | None:
    """The host the HTTP client itself would connect to, or None when it refuses the URL."""
    try:
        import httpx
    except ImportError:  # pragma: no cover - httpx is a dependency
        return ""
    try:
        raw = httpx.URL(url).raw_host.decode("ascii")
    except Exception:
        return None
    return _canonical_host(raw)


def _judged_host(url: str) -> tuple[str | None, str | None]:
    """``(canonical host, None)`` of an http(s) URL, or ``(None, why not)``."""
    origin = _origin(url)
    if origin is None:
        return None, "its URL is not an http(s) link"
    host = origin[1]
    # The URL parser and the HTTP client must agree on the host, or the check would judge a
    # different host than the one the request goes to.
    client_host = _httpx_host(url)
    if client_host is None or (client_host and client_host != host):
        return None, "its host name is ambiguous"
    return host, None


def public_url_refusal(url: str, *, allow: frozenset[str] = frozenset()) -> str | None:
    """``None`` when ``url`` is an http(s) URL whose host, as written, is public, else why not.

    The rule for what a server on the internet (the API fetching a keyframe) can reach: no
    exception for simulators or ``.invalid`` hosts, unlike :func:`fetch_refusal`. ``allow``
    holds canonical hosts (:func:`canonical_host`) to treat as public all the same.
    """
    host, refusal = _judged_host(url)
    if host is None:
        return refusal
    if host in allow or is_public_host(host):
        return None
    return (
        f"its host ({host}) is a loopback, private, link-local or local-only address, which "
        "only this machine or its own network can reach"
    )


def fetch_refusal(url: str) -> str | None:
    """``None`` when luma_nb may download ``url`` to embed it, else why not (a clause).

    Allowed: public hosts, registered simulators and ``.invalid`` hosts (no network answers
    them; only the in-process simulator's transport does). Refused: everything else that is
    not an http(s) URL with a public host, however it is spelled.
    """
    host, refusal = _judged_host(url)
    if host is None:
        return refusal
    if _is_invalid(host) or is_simulator_url(url) or is_public_host(host):
        return None
    return (
        f"its host ({host}) is a loopback, private or local address, and luma_nb fetches from "
        "those only for the simulator this kernel is connected to"
    )


def copy_allowed(url: object, backend: object) -> bool:
    """Whether a log row's saved copy of ``url`` may be embedded, given the row's ``backend``.

    The notebook helpers save every finished video, so a hostile answer's private URL can
    have a copy in the cache. That copy is embedded only when the URL may be fetched, or the
    row was made on the simulator (whose loopback port of an earlier kernel is not registered).
    """
    return backend == "simulator" or (isinstance(url, str) and fetch_refusal(url) is None)


def cached_copy(url: str) -> Path | None:
    """The media cache's copy of ``url``, if luma_nb may embed what that URL served."""
    if fetch_refusal(url) is not None:
        return None
    try:
        return MediaCache().lookup(url)
    except Exception:  # a broken cache folder only means "not cached"
        return None


# --------------------------------------------------------------------------- file names

_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"com{i}" for i in range(10)] + [f"lpt{i}" for i in range(10)]
)
_UNSAFE_RUN = re.compile(r"[^A-Za-z0-9._-]+")
#: The longest stem :func:`report_file_name` makes (well under any file system's 255 bytes).
MAX_STEM = 80
#: The stem used when a value leaves nothing usable.
FALLBACK_STEM = "luma_nb-report"


def report_file_name(value: object, suffix: str = ".html") -> str:
    """A file name for ``value`` (a session id from a log) that stays in its folder.

    ASCII letters, digits, ``.``, ``_`` and ``-`` are kept, any other run becomes ``-``;
    leading dots and dashes go (no hidden files, no ``..``), the stem is at most
    :data:`MAX_STEM` characters, and a reserved device name (``CON``, ``NUL``, ``COM1``...)
    gets a prefix. When the value had to change, 8 hex digits of its hash keep two different
    sessions from landing on one file. Nothing usable left: :data:`FALLBACK_STEM` (with that
    hash when there was a value).
    """
    text = value if isinstance(value, str) else ""
    stem = _UNSAFE_RUN.sub("-", text).strip(".-") or FALLBACK_STEM
    if stem.split(".", 1)[0].lower() in _RESERVED:
        stem = "session-" + stem
    if text and (stem != text or len(stem) > MAX_STEM):
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        stem = stem[: MAX_STEM - 9].rstrip(".-") + "-" + digest
    return stem + suffix
