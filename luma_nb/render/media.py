"""How a video or an image reaches the page: the one decision, :func:`place`, and its answer.

Every view asks :func:`place` — the notebook card, the panel's results and thumbnails, the
chain timeline and player, the blind review, the grid and the standalone report — and gets a
:class:`Media`: the ``src`` (and ``poster``) to write, whether it is embedded, and a sentence
for the reader when the video is linked or missing.

The rules
---------
* A URL the browser can load itself (a public ``http(s)`` link) is used as it is, unless
  ``embed=True`` asks for embedding or the page must travel (``standalone``, a report file).
* A URL it cannot load (:func:`needs_embedding`: the simulator's ``.invalid`` host, loopback,
  private hosts where the browser runs elsewhere) is embedded as a base64 ``data:`` URL,
  from the item's saved copy, the media cache, or the registered fetcher (in that order),
  when the file is no larger than :func:`embed_limit`. Otherwise a note says why, and links
  the remote video when a browser could follow the link.
* What may be read or fetched is :mod:`luma_nb._media_policy`'s call, never this module's:
  a saved copy only when :func:`~luma_nb._media_policy.copy_allowed` and
  :func:`~luma_nb._media_policy.read_media` agree, a URL only when
  :func:`~luma_nb._media_policy.fetch_refusal` has no objection.
* A standalone page never downloads a public video unless ``embed=True`` asks, and an
  embedded video never keeps a remote poster there (the file would reach for the network).

Nothing here raises for bad data: problems become a ``note``.
"""

from __future__ import annotations

import dataclasses
import inspect
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from luma_nb._html import IMAGE, VIDEO, human_bytes, safe_url
from luma_nb._media_policy import (
    cached_copy,
    copy_allowed,
    fetch_refusal,
    host_address,
    read_media,
)

__all__ = [
    "DEFAULT_EMBED_LIMIT",
    "EMBED_LIMIT_ENV",
    "IMAGE",
    "REMOTE_BROWSER_ENV",
    "VIDEO",
    "Media",
    "describe_error",
    "embed_limit",
    "media_fetcher",
    "needs_embedding",
    "place",
    "reachable_looking",
    "set_media_fetcher",
]

#: Environment variable that overrides the embed cap (an integer number of bytes; 0 = never).
EMBED_LIMIT_ENV = "LUMA_NB_EMBED_MAX_BYTES"
#: The embed cap when the variable is unset: 8 MB (8 * 1024 * 1024 bytes).
DEFAULT_EMBED_LIMIT = 8 * 1024 * 1024
#: Variables whose presence means the browser runs on another machine than the kernel
#: (Binder, JupyterHub, Colab, VS Code, Codespaces, Kaggle).
REMOTE_BROWSER_ENV: tuple[str, ...] = (
    "BINDER_SERVICE_HOST",
    "BINDER_REQUEST",
    "JUPYTERHUB_SERVICE_PREFIX",
    "COLAB_RELEASE_TAG",
    "VSCODE_PID",
    "CODESPACES",
    "KAGGLE_KERNEL_RUN_TYPE",
)

Fetcher = Callable[[str], Path]
_fetcher: Fetcher | None = None
_warned_limits: set[str] = set()

_NOT_HTTP = "The video URL is not an http(s) link, so it is not shown."
_NO_COPY = "The video could not be embedded: there is no local copy of it yet."
_NOT_LOADABLE = (
    "The video was not embedded and its URL cannot be loaded from a browser "
    "(it is not a public http(s) link)."
)


# --------------------------------------------------------------------------- configuration


def embed_limit() -> int:
    """The largest file, in bytes, that is embedded into a page.

    ``LUMA_NB_EMBED_MAX_BYTES`` when it holds a non-negative integer (``0`` turns embedding
    off), else :data:`DEFAULT_EMBED_LIMIT`. An unreadable value warns once and is ignored.
    The cap applies to each file (video and poster) separately.
    """
    raw = os.environ.get(EMBED_LIMIT_ENV, "").strip()
    if not raw:
        return DEFAULT_EMBED_LIMIT
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        if raw not in _warned_limits:
            _warned_limits.add(raw)
            warnings.warn(
                f"{EMBED_LIMIT_ENV}={raw!r} is not a number of bytes; "
                f"using the default of {human_bytes(DEFAULT_EMBED_LIMIT)}",
                stacklevel=2,
            )
        return DEFAULT_EMBED_LIMIT
    return value


def set_media_fetcher(fetch: Callable[[str], Path] | None) -> None:
    """Register who turns a media URL into a local file for embedding (``None`` unregisters).

    The notebook layer registers its default client's :meth:`~luma_nb.client.Client.download`,
    which caches by content and sends the API token only to the API's own host. ``fetch`` must
    be blocking (it is called from ``_repr_html_``) and return a file inside the media cache:
    no other file is embedded. It is never asked for a private URL that is not the simulator's.
    """
    # One fetcher per kernel, like the default client it usually belongs to.
    global _fetcher
    _fetcher = fetch


def media_fetcher() -> Fetcher | None:
    """The fetcher registered with :func:`set_media_fetcher`, if any."""
    return _fetcher


def _remote_browser() -> bool:
    return any(os.environ.get(name) for name in REMOTE_BROWSER_ENV)


def needs_embedding(url: str) -> bool:
    """Whether the browser likely cannot load ``url`` itself, so it should be embedded.

    True when the URL is not ``http(s)`` (a ``data:`` URL is already embedded: False), has no
    host or a ``.invalid`` host (the simulator's), or a loopback host (``localhost``,
    ``127.0.0.0/8`` in any spelling, ``::1``, ``0.0.0.0``). Loopback is always embedded: on
    Binder, JupyterHub, Colab or a remote VS Code the browser's loopback is another machine, and
    even locally the player would go dead in the saved notebook once the server stops. When one of
    :data:`REMOTE_BROWSER_ENV` is set, private-network addresses and single-label host names
    (a container's name) are embedded as well. Everything else is left to the browser.
    """
    if not isinstance(url, str):
        return True
    if url[:5].lower() == "data:":
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return True
    if parts.scheme.lower() not in ("http", "https") or not host:
        return True
    host = host.rstrip(".").lower()
    if host == "invalid" or host.endswith(".invalid"):
        return True
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = host_address(host)  # any spelling: 127.1, 2130706433, [::ffff:127.0.0.1]
    if address is not None and (address.is_loopback or address.is_unspecified):
        return True
    if _remote_browser():
        if address is not None:
            return address.is_private or address.is_link_local
        return "." not in host
    return False


def reachable_looking(url: object) -> bool:
    """Worth offering as a link or a fallback ``src``: an http(s) URL on a host that resolves."""
    if not isinstance(url, str) or safe_url(url) is None:
        return False
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    return not (host == "invalid" or host.endswith(".invalid"))


def describe_error(exc: BaseException) -> str:
    """``"Type: message"``, at most 300 characters (for notes and broken cards)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


# --------------------------------------------------------------------------- the answer


@dataclasses.dataclass(frozen=True)
class Media:
    """Where a player's video (or an image) comes from, and what the reader is told.

    Attributes
    ----------
    src : str or None
        A safe ``data:`` or ``http(s)`` URL for the element, or ``None`` for no element.
    embedded : bool
        ``src`` is a ``data:`` URL: it plays with no network.
    poster : str or None
        A safe URL for the video's ``poster`` attribute.
    note : str or None
        Plain text explaining a linked or missing video (escaped when rendered).
    link : str or None
        A safe ``http(s)`` URL of the remote video, to offer next to the note.
    """

    src: str | None
    embedded: bool = False
    poster: str | None = None
    note: str | None = None
    link: str | None = None

    @property
    def how(self) -> str | None:
        """``"embedded"``, ``"linked"`` (a remote ``src``) or ``None`` (no element)."""
        if self.src is None:
            return None
        return "embedded" if self.embedded else "linked"


# --------------------------------------------------------------------------- embedding


def _what(family: str) -> str:
    return "video" if family == VIDEO else "poster"


def _read(path: object, family: str, link: str | None) -> tuple[str | None, str | None]:
    """``(data_url, None)``, ``(None, why)`` when over the cap, ``(None, None)`` when unusable.

    Only cached media is read (:func:`luma_nb._media_policy.read_media`); any other path —
    outside the cache, not of ``family``, gone — counts as no copy.
    """
    if path is None:
        return None, None
    limit = embed_limit()
    local = read_media(path, family, limit)
    if local.data_url is not None:
        return local.data_url, None
    if not local.over(limit):
        return None, None
    if limit == 0:
        return None, f"Embedding is off ({EMBED_LIMIT_ENV}=0)."
    instead = (
        "it is linked instead"
        if link
        else "there is no public link to it, so download it with client.download(video)"
    )
    return None, (
        f"The {_what(family)} is {human_bytes(local.size)}, over the {human_bytes(limit)} "
        f"embed cap; {instead}. Set {EMBED_LIMIT_ENV} (bytes) to raise the cap."
    )


def _fetched(url: str) -> tuple[Path | None, str | None]:
    """The registered fetcher's copy of ``url``, or the reason there is none."""
    refusal = fetch_refusal(url)
    if refusal is not None:
        return None, f"luma_nb did not fetch it because {refusal}"
    fetch = _fetcher
    if fetch is None:
        return None, (
            "it is not in the media cache and no fetcher is registered "
            "(luma_nb.display.set_media_fetcher)"
        )
    try:
        result: object = fetch(url)
    except Exception as exc:
        return None, f"fetching it failed: {describe_error(exc)}"
    if inspect.isawaitable(result):
        if inspect.iscoroutine(result):
            result.close()  # never awaited: close it so Python does not warn at GC
        return None, "the registered fetcher is async; register a blocking one"
    if not isinstance(result, (str, os.PathLike)):
        return None, f"the fetcher returned {type(result).__name__}, not a path"
    return Path(result), None


def _embedded(
    url: str, family: str, saved: object, link: str | None, *, download: bool
) -> tuple[str | None, str | None]:
    """Embed ``url`` from its saved copy, the cache, or (when ``download``) the fetcher."""
    for copy in (saved, cached_copy(url)):
        data_url, problem = _read(copy, family, link)
        if data_url is not None or problem is not None:
            return data_url, problem
    if not download:
        return None, None
    path, problem = _fetched(url)
    if path is None:
        return None, f"The {_what(family)} could not be embedded: {problem}."
    data_url, over = _read(path, family, link)
    if data_url is None and over is None:
        refused = read_media(path, family, embed_limit()).refused or "the file is unusable"
        return None, f"The {_what(family)} could not be embedded: {refused}."
    return data_url, over


def _poster(
    url: object,
    *,
    follow: bool,
    embed: bool | None,
    saved: object,
    backend: object,
    standalone: bool,
    fetch: bool,
) -> str | None:
    # A poster is cosmetic: it earns no note, and one that cannot be placed is dropped. It
    # follows the video: an embedded video should not depend on the network for its poster.
    if not isinstance(url, str) or not url:
        return None
    direct = safe_url(url, data=(IMAGE,))
    if direct is not None and direct.startswith("data:"):
        return direct
    remote = direct if reachable_looking(url) else None
    if embed is False:
        return direct
    unreachable = needs_embedding(url)
    if not (follow or embed or unreachable):
        return remote
    copy = saved if saved is not None and copy_allowed(url, backend) else None
    download = fetch and (embed is True or unreachable or not standalone)
    data_url, _ = _embedded(url, IMAGE, copy, None, download=download)
    if data_url is not None:
        return data_url
    # A remote poster would make an offline file reach for the network: drop it instead.
    return None if standalone and follow else remote


def place(
    url: object,
    family: str = VIDEO,
    *,
    poster: object = None,
    embed: bool | None = None,
    saved: object = None,
    saved_poster: object = None,
    backend: object = None,
    standalone: bool = False,
    fetch: bool = True,
) -> Media:
    """Decide how a video (with its poster) or an image reaches the page.

    Parameters
    ----------
    url : str
        The media URL (from the API, a log row, or a ``data:`` URL).
    family : {VIDEO, IMAGE}
        What it is: ``data:`` URLs and local files of another type are refused.
    poster : str, optional
        The video's thumbnail URL (ignored for an image).
    embed : bool or None
        ``None`` embeds what the browser could not load itself (and, when ``standalone``,
        every local copy); ``True`` embeds whatever it can; ``False`` never embeds.
    saved, saved_poster : str or PathLike, optional
        A local copy the caller knows of (a log row's ``media_path``, the panel's download).
        Read only when the policy allows a copy of ``url`` given ``backend``.
    backend : str, optional
        ``"api"`` or ``"simulator"``: where the item was made.
    standalone : bool
        The page must travel (a report file): embed every local copy, never download a
        public file unless ``embed=True``, and never keep a remote poster next to an
        embedded video.
    fetch : bool
        Whether the registered fetcher may be asked (the panel downloads on its own loop).

    Returns
    -------
    Media
        Never raises for bad data.
    """
    if not isinstance(url, str) or not url:
        return Media(None)
    direct = safe_url(url, data=(family,))
    link = safe_url(url) if reachable_looking(url) else None

    def with_poster(media: Media, follow: bool) -> Media:
        if family != VIDEO or media.src is None:
            return media
        shown = _poster(
            poster,
            follow=follow,
            embed=embed,
            saved=saved_poster,
            backend=backend,
            standalone=standalone,
            fetch=fetch,
        )
        return dataclasses.replace(media, poster=shown)

    if direct is not None and direct.startswith("data:"):
        return with_poster(Media(direct, embedded=True), True)
    if direct is None:
        return Media(None, note=_NOT_HTTP if family == VIDEO else None)
    unreachable = needs_embedding(url)
    want = embed if embed is not None else (unreachable or standalone)
    remote = Media(link) if link is not None else Media(None, note=_NOT_LOADABLE)
    if not want:
        # Asked not to embed: the URL as it is, with a word when no browser could load it.
        if family != VIDEO:
            return Media(direct)
        note = None if link is not None else _NOT_LOADABLE
        return with_poster(Media(direct, note=note), False)
    copy = saved if saved is not None and copy_allowed(url, backend) else None
    download = fetch and (embed is True or unreachable or not standalone)
    data_url, problem = _embedded(url, family, copy, link, download=download)
    if data_url is not None:
        return with_poster(Media(data_url, embedded=True), True)
    if problem is None and unreachable:
        # Nothing local, and the caller downloads on its own (the panel): no dead player.
        return Media(None, note=_NO_COPY if family == VIDEO else None)
    if family != VIDEO:
        return Media(link)
    if problem is None:
        # Nothing local and no download allowed (a public video in a standalone page).
        return with_poster(remote, False)
    # Keep the remote URL as the player's source when it might work (e.g. over the cap but on
    # a public CDN): the note explains, and a dead player costs nothing more than no player.
    return with_poster(Media(link, note=problem, link=link), False)
