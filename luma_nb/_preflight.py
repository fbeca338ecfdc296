"""Keyframe preflight: is a start or end image one the API can fetch and use, before paying?

The API fetches ``start_image_url`` and ``end_image_url`` itself, from the internet, after the
request was accepted (and billed). The usual failures — a link only this machine can reach, an
expired or private link, a web page instead of an image, an image whose shape does not fit the
video — are visible from here. So before any ``POST /luma/videos`` that carries a keyframe the
clients check each URL once (:class:`Keyframes`, one per client):

Reachable by the API
    An http(s) URL (``file:`` and ``data:`` URLs are refused before anything else: the API is
    not documented to accept either) whose host, as written, is public
    (:func:`luma_nb._media_policy.public_url_refusal`: no loopback, private, link-local or
    local-only name in any spelling) and whose name resolves only to public addresses. The GET
    then goes to the very address that was checked (the name stays in ``Host`` and TLS SNI).
    The one exception: the media of the simulator this client talks to
    (:func:`luma_nb._media_policy.is_own_simulator_media`) passes without a fetch.
Fetched like the API would
    Without the API token (an httpx client of its own: no ``authorization`` header and none
    of the API client's cookies ever reach an image host), within :data:`PREFLIGHT_TIMEOUT`
    seconds in all, following at most :data:`MAX_REDIRECTS` redirects, each target checked
    again as above, reading at most :data:`MAX_KEYFRAME_BYTES` (20 MB, the simulator's cap).
An image the API can use
    The bytes must be JPEG, PNG or WebP (sniffed, whatever the label says) and the label an
    image type of those three; a generic label (``application/octet-stream``, none) passes with
    a note. The dimensions are read (:mod:`luma_nb._keyframe_image`: Pillow when installed,
    which also decodes the file, else the JPEG/PNG/WebP header) with the EXIF orientation
    applied.
Warnings, not errors (:class:`KeyframeWarning`)
    A shape that differs from the requested ``aspect_ratio`` by more than
    :data:`RATIO_TOLERANCE` (5%: the frame will be cropped or letterboxed), and an image whose
    shorter side is under :data:`MIN_SIDE` pixels (the ~752-pixel-high video upscales it).

A failure raises :class:`~luma_nb.errors.KeyframeError` (a ``ValidationError``: nothing was
sent). A keyframe that passed is not fetched again by the same client (a study of 40 runs on
one keyframe checks it once); one that failed is checked again next time (you may have fixed
it). ``preflight=False`` on a call, ``Client(preflight=False)``, ``LUMA_NB_PREFLIGHT=0`` or the
panel's checkbox skip the check.

The decisions are sans-I/O: :func:`inspect` is a generator that yields :class:`Resolve` and
:class:`Get` steps and is answered with addresses, :class:`Got` or :class:`Failed`;
:func:`drive` and :func:`adrive` perform the steps with blocking or async httpx.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import threading
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Callable, Collection, Generator, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from luma_nb._html import human_bytes, sniff_media_type
from luma_nb._keyframe_image import read_image
from luma_nb._media_policy import (
    canonical_host,
    host_address,
    is_own_simulator_media,
    is_public_host,
    public_url_refusal,
)
from luma_nb._values import shown, url_problem
from luma_nb._version import __version__
from luma_nb.errors import ConfigError, KeyframeError, ValidationError
from luma_nb.models import ASPECT_RATIOS

if TYPE_CHECKING:
    import httpx

    from luma_nb.models import VideoRequest

__all__ = [
    "MAX_KEYFRAME_BYTES",
    "MAX_REDIRECTS",
    "MIN_SIDE",
    "PREFLIGHT_ENV",
    "PREFLIGHT_TIMEOUT",
    "RATIO_TOLERANCE",
    "KeyframePreflight",
    "KeyframeReport",
    "KeyframeWarning",
    "Keyframes",
    "adrive",
    "drive",
    "inspect",
    "judge",
]

#: Largest keyframe accepted (the simulator's own cap; a 4K JPEG is a few MB).
MAX_KEYFRAME_BYTES = 20 * 1024 * 1024
#: Seconds one keyframe check may take in all (resolving, redirects and the body included).
PREFLIGHT_TIMEOUT = 10.0
#: Redirects followed, each target checked again.
MAX_REDIRECTS = 3
#: Relative difference between the image's shape and the requested ratio that still passes.
RATIO_TOLERANCE = 0.05
#: An image whose shorter side is under this many pixels draws a warning.
MIN_SIDE = 256
#: Set to 0 to skip the preflight (the client setting ``preflight=`` wins).
PREFLIGHT_ENV = "LUMA_NB_PREFLIGHT"
#: The fields that carry keyframes, and how a message names the frame.
FIELDS = {"start_image_url": "first", "end_image_url": "last"}

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
# Labels that say "an image of this kind"; the spelled-out aliases some servers use.
_LABELS = {**_FORMATS, "image/jpg": "JPEG", "image/pjpeg": "JPEG", "image/x-png": "PNG"}
# Labels that say nothing about the content.
_GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_HEADERS = {
    "accept": "image/jpeg,image/png,image/webp;q=0.9,*/*;q=0.1",
    "user-agent": f"luma_nb/{__version__} (keyframe preflight)",
}
_CACHE_SIZE = 512
_CONNECT_TIMEOUT = 5.0

# Codes of KeyframeError (the session log's ``error_code``).
UNREACHABLE = "keyframe_unreachable"
NOT_IMAGE = "keyframe_not_image"
TOO_LARGE = "keyframe_too_large"
DAMAGED = "keyframe_damaged"

Resolver = Callable[[str, int], list[str]]


class KeyframeWarning(UserWarning):
    """A keyframe the API can use that will not look right: its shape differs from the
    requested ``aspect_ratio`` (the frame is cropped or letterboxed), it is so small that the
    video upscales it, or its host labels it vaguely. Silence it with
    ``warnings.filterwarnings("ignore", category=luma_nb.KeyframeWarning)``."""


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (the system resolver; IPv6 zone ids dropped)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]).split("%", 1)[0] for info in infos))


# --------------------------------------------------------------------------- the setting


@dataclass(frozen=True)
class KeyframePreflight:
    """How a client checks keyframes before a paid submit (``Client(preflight=...)``).

    Parameters
    ----------
    enabled : bool
        Check at all (default True; ``LUMA_NB_PREFLIGHT=0`` turns the default off).
    max_bytes : int
        Largest image accepted (default 20 MB).
    timeout : float
        Seconds one check may take in all (default 10).
    max_redirects : int
        Redirects followed, each re-checked (default 3).
    ratio_tolerance : float
        Relative shape difference from ``aspect_ratio`` that passes without a warning (0.05).
    min_side : int
        Shorter side, in pixels, under which an image draws a warning (256).
    allow_hosts : collection of str
        Host names or addresses to treat as public although they are not (tests use it to
        stand loopback servers in for public hosts). Their spelling is normalised.
    resolver : callable, optional
        ``resolver(host, port) -> [address, ...]`` (default: the system resolver).
    """

    enabled: bool = True
    max_bytes: int = MAX_KEYFRAME_BYTES
    timeout: float = PREFLIGHT_TIMEOUT
    max_redirects: int = MAX_REDIRECTS
    ratio_tolerance: float = RATIO_TOLERANCE
    min_side: int = MIN_SIDE
    allow_hosts: Collection[str] = frozenset()
    resolver: Resolver | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"preflight enabled must be True or False, not {self.enabled!r}")
        for name, low, high in (("max_bytes", 1, 1 << 34), ("max_redirects", 0, 20)):
            whole = getattr(self, name)
            if not isinstance(whole, int) or isinstance(whole, bool) or not low <= whole <= high:
                raise ConfigError(f"preflight {name} must be an integer in [{low}, {high}]")
        if not isinstance(self.min_side, int) or isinstance(self.min_side, bool):
            raise ConfigError("preflight min_side must be an integer")
        for name, limit in (("timeout", 600.0), ("ratio_tolerance", 1.0)):
            value = getattr(self, name)
            if (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not (math.isfinite(value) and 0 < value <= limit)
            ):
                raise ConfigError(f"preflight {name} must be a number in (0, {limit:g}]")
        if isinstance(self.allow_hosts, str) or not all(
            isinstance(h, str) for h in self.allow_hosts
        ):
            raise ConfigError("preflight allow_hosts must be a collection of host names")
        hosts = frozenset(canonical_host(h) or h for h in self.allow_hosts)
        object.__setattr__(self, "allow_hosts", hosts)
        if self.resolver is not None and not callable(self.resolver):
            raise ConfigError("preflight resolver must be a callable (host, port) -> [address]")

    @classmethod
    def resolve(
        cls, value: object = None, environ: Mapping[str, str] | None = None
    ) -> KeyframePreflight:
        """The setting of ``Client(preflight=value)``: a policy, True/False, or None (the
        environment's ``LUMA_NB_PREFLIGHT``, else on)."""
        if isinstance(value, KeyframePreflight):
            return value
        if isinstance(value, bool):
            return cls(enabled=value)
        if value is not None:
            raise ConfigError(
                f"preflight must be True, False or a KeyframePreflight, not {shown(value)}"
            )
        raw = (os.environ if environ is None else environ).get(PREFLIGHT_ENV, "").strip().lower()
        if raw in ("", "1", "true", "yes", "on"):
            return cls()
        if raw in ("0", "false", "no", "off"):
            return cls(enabled=False)
        raise ConfigError(f"{PREFLIGHT_ENV} must be 0 or 1, not {raw!r}")


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class KeyframeReport:
    """What the preflight found about one keyframe URL.

    Attributes
    ----------
    url : str
        The URL as given.
    ok : bool
        Whether the API can fetch and use it (warnings aside).
    found : str
        What was found, in a few words (``"a 1920x1080 JPEG, 412 KB"``, ``"HTTP 404"``).
    problem, advice : str or None
        Why it cannot be used, and what to do (``None`` when ``ok``).
    code : str or None
        The :class:`~luma_nb.errors.KeyframeError` code of a failure.
    final_url : str or None
        Where the redirects ended.
    content_type, format : str or None
        The label the host gave, and the format the bytes are (``JPEG``, ``PNG``, ``WebP``).
    width, height, size : int or None
        Pixels as displayed (EXIF orientation applied) and bytes.
    source : str
        ``"fetched"``, ``"simulator"`` (the connected simulator's own media: not fetched) or
        ``"not checked"``.
    notes : tuple of str
        Remarks that hold whatever the aspect ratio (a generic content type).
    aspect_ratio : str or None
        The ratio the warnings were judged against.
    warnings : tuple of str
        ``notes`` plus the shape and size warnings for ``aspect_ratio``.
    """

    url: str
    ok: bool
    found: str
    problem: str | None = None
    advice: str | None = None
    code: str | None = None
    final_url: str | None = None
    content_type: str | None = None
    format: str | None = None
    width: int | None = None
    height: int | None = None
    size: int | None = None
    source: str = "fetched"
    notes: tuple[str, ...] = ()
    aspect_ratio: str | None = None
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        """One line for a person: what was found, and why it fails or what to watch."""
        if not self.ok:
            return f"{self.problem} ({self.found}). {self.advice}"
        text = self.found
        if self.warnings:
            text += ". " + " ".join(_sentence(w) for w in self.warnings)
        return text


def _sentence(text: str) -> str:
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def _failure(
    url: str,
    code: str,
    found: str,
    problem: str,
    advice: str,
    *,
    final_url: str | None = None,
    **facts: Any,
) -> KeyframeReport:
    return KeyframeReport(
        url=url,
        ok=False,
        found=found,
        problem=problem,
        advice=advice,
        code=code,
        final_url=final_url or url,
        **facts,
    )


_PUBLISH = (
    "Put the image where anyone on the internet can open it (a public bucket, an image host, a "
    "share link that needs no sign-in) and pass that URL."
)


def keyframe_error(field_name: str, report: KeyframeReport) -> KeyframeError:
    """The :class:`KeyframeError` of a failed report (the message says nothing was sent)."""
    return KeyframeError(
        f"{field_name} {shown(report.url, 120)} cannot be used as a keyframe: {report.problem}. "
        f"Found: {report.found}. {report.advice} Nothing was submitted, so nothing was billed "
        "(to skip this check, pass preflight=False).",
        field=field_name,
        url=report.url,
        found=report.found,
        advice=report.advice or "",
        code=report.code or UNREACHABLE,
        report=report,
    )


# --------------------------------------------------------------------------- judging


def _ratio(text: str) -> float:
    wide, high = text.split(":")
    return int(wide) / int(high)


def _shape(width: int, height: int, tolerance: float) -> str:
    actual = width / height
    nearest = min(ASPECT_RATIOS, key=lambda r: abs(math.log(actual / _ratio(r))))
    if abs(math.log(actual / _ratio(nearest))) <= math.log1p(tolerance):
        return nearest
    return f"{actual:.2f}:1"


def judge(
    report: KeyframeReport, aspect_ratio: str | None, policy: KeyframePreflight
) -> KeyframeReport:
    """``report`` with its warnings for ``aspect_ratio`` (no ratio: shape not judged).

    The shape warns when ``width / height`` differs from the ratio by more than
    ``policy.ratio_tolerance`` (relative, either way); the size when the shorter side is under
    ``policy.min_side``.
    """
    found = list(report.notes)
    width, height = report.width, report.height
    if report.ok and width and height:
        if aspect_ratio in ASPECT_RATIOS:
            actual, wanted = width / height, _ratio(aspect_ratio)
            if abs(math.log(actual / wanted)) > math.log1p(policy.ratio_tolerance):
                nearest = min(ASPECT_RATIOS, key=lambda r: abs(math.log(actual / _ratio(r))))
                found.append(
                    f"it is {width}x{height} ({_shape(width, height, policy.ratio_tolerance)}), "
                    f"not {aspect_ratio}: it will be cropped or letterboxed; crop it to "
                    f"{aspect_ratio}, or ask for aspect_ratio={nearest!r}"
                )
        if min(width, height) < policy.min_side:
            found.append(
                f"it is only {width}x{height}: under {policy.min_side} px on its shorter side "
                "the video (about 752 px high) upscales it and it will look soft"
            )
    return replace(report, aspect_ratio=aspect_ratio, warnings=tuple(found))


# --------------------------------------------------------------------------- the flow


@dataclass(frozen=True)
class Resolve:
    """Resolve ``host`` (answer: a list of addresses, or :class:`Failed`)."""

    host: str
    port: int


@dataclass(frozen=True)
class Get:
    """GET ``url`` without credentials, connecting to ``address`` when given (the checked
    one; ``host`` stays in ``Host`` and SNI), by ``deadline`` (``time.monotonic``), reading a
    2xx body to ``max_bytes`` + 1 bytes at most (answer: :class:`Got` or :class:`Failed`)."""

    url: str
    address: str | None
    host: str
    deadline: float
    max_bytes: int


@dataclass(frozen=True)
class Got:
    """An answer: status, media type (lower case, no parameters), ``location``, declared size
    and the body (read only for a 2xx, and not when it was declared too large)."""

    status: int
    content_type: str = ""
    location: str | None = None
    declared_size: int | None = None
    body: bytes = b""


@dataclass(frozen=True)
class Failed:
    """A step that did not get an answer: ``kind`` is ``resolve``, ``timeout``, ``connect``
    or ``error``; ``detail`` a short reason."""

    kind: str
    detail: str


Step = Resolve | Get
Flow = Generator[Step, Any, KeyframeReport]


def inspect(url: str, policy: KeyframePreflight, clock: Callable[[], float]) -> Flow:
    """Decide whether the API can fetch and use the image at ``url`` (not judged for a ratio:
    see :func:`judge`)."""
    deadline = clock() + policy.timeout
    current = url
    redirects = 0
    while True:
        place = _place(url, current, policy, redirects)
        if isinstance(place, KeyframeReport):
            return place
        host, port = place
        address: str | None = None
        if host_address(host) is None and host not in policy.allow_hosts:
            answer = yield Resolve(host, port)
            refusal = _resolved(url, current, host, answer, policy)
            if isinstance(refusal, KeyframeReport):
                return refusal
            address = refusal
        got = yield Get(current, address, host, deadline, policy.max_bytes)
        if isinstance(got, Failed):
            return _no_answer(url, current, host, got, policy)
        if got.status in _REDIRECTS and got.location:
            if redirects >= policy.max_redirects:
                return _failure(
                    url,
                    UNREACHABLE,
                    f"more than {policy.max_redirects} redirects",
                    "it redirects too many times",
                    "Pass the final URL of the image itself.",
                    final_url=current,
                )
            redirects += 1
            current = urljoin(current, got.location)
            continue
        if not 200 <= got.status < 300:
            return _http_failure(url, current, host, got.status)
        return _examine(url, current, got, policy)


def _place(
    url: str, current: str, policy: KeyframePreflight, redirects: int
) -> tuple[str, int] | KeyframeReport:
    """``(host, port)`` of a URL the API could reach, or the failure."""
    scheme = current.split(":", 1)[0].lower() if ":" in current else ""
    via = f" (where {shown(url)} redirects)" if redirects else ""
    if scheme in ("data", "file", "blob"):
        return _failure(
            url,
            UNREACHABLE,
            f"a {scheme}: URL{via}",
            f"a {scheme}: URL is not one the API can fetch: it takes keyframes by http(s) "
            "and is not documented to accept anything else",
            _PUBLISH,
            final_url=current,
        )
    problem = url_problem(current) if isinstance(current, str) else "it is not a string"
    if problem is not None:
        return _failure(
            url,
            UNREACHABLE,
            f"{shown(current)}{via}",
            f"it is not an absolute http(s) URL the API can fetch: {problem}",
            "Pass the full https:// link of the image.",
            final_url=current,
        )
    refusal = public_url_refusal(current, allow=frozenset(policy.allow_hosts))
    if refusal is not None:
        return _failure(
            url,
            UNREACHABLE,
            f"the host {urlsplit(current).hostname}{via}",
            f"the API cannot reach it: {refusal}",
            _PUBLISH,
            final_url=current,
        )
    parts = urlsplit(current)
    host = canonical_host(parts.hostname or "") or ""
    return host, parts.port or (443 if parts.scheme.lower() == "https" else 80)


def _public_address(address: str, policy: KeyframePreflight) -> bool:
    return (canonical_host(address) or address) in policy.allow_hosts or is_public_host(address)


def _resolved(
    url: str, current: str, host: str, answer: object, policy: KeyframePreflight
) -> str | KeyframeReport:
    """The address to connect to, or the failure."""
    if isinstance(answer, Failed) or not isinstance(answer, list) or not answer:
        detail = answer.detail if isinstance(answer, Failed) else "no address"
        return _failure(
            url,
            UNREACHABLE,
            f"the host name {host} does not resolve here ({detail})",
            "its host name does not resolve",
            "Check the link for typos. If this machine needs a VPN or an internal DNS to "
            f"reach it, the API cannot reach it either. {_PUBLISH}",
            final_url=current,
        )
    private = [a for a in answer if not _public_address(a, policy)]
    if private:
        return _failure(
            url,
            UNREACHABLE,
            f"{host} resolves to {private[0]}",
            f"the API cannot reach it: {host} resolves to {private[0]}, a loopback, private "
            "or local address that only this machine or its own network can reach",
            _PUBLISH,
            final_url=current,
        )
    return str(answer[0])


def _no_answer(
    url: str, current: str, host: str, failed: Failed, policy: KeyframePreflight
) -> KeyframeReport:
    if failed.kind == "timeout":
        found = f"no complete answer from {host} within {policy.timeout:g} s"
        problem = "the host is too slow or does not answer"
    elif failed.kind == "connect":
        found = f"{host} refused or dropped the connection ({failed.detail})"
        problem = "the host does not answer"
    else:
        found = f"the request to {host} failed ({failed.detail})"
        problem = "the image could not be fetched"
    return _failure(
        url,
        UNREACHABLE,
        found,
        problem,
        "Check that the link opens in a private browser window. If you are sure the API can "
        "fetch it, skip the check with preflight=False.",
        final_url=current,
    )


def _http_failure(url: str, current: str, host: str, status: int) -> KeyframeReport:
    if status in (401, 403, 407):
        problem = "the host refuses to serve it to an anonymous client"
        advice = (
            "Make the image public, or use a share link that needs no sign-in (the API "
            "fetches it without your cookies or credentials)."
        )
    elif status in (404, 410):
        problem = "the link is broken or has expired"
        advice = (
            "Open it in a private browser window; signed links expire, so upload the image "
            "again and use the fresh link."
        )
    else:
        problem = f"the host answered HTTP {status} instead of the image"
        advice = "Try again later, or host the image somewhere else."
    return _failure(
        url, UNREACHABLE, f"HTTP {status} from {host}", problem, advice, final_url=current
    )


def _examine(url: str, final: str, got: Got, policy: KeyframePreflight) -> KeyframeReport:
    """Judge a 2xx answer: an image of an accepted kind and size?"""
    label = got.content_type
    body = got.body
    size = got.declared_size if got.declared_size is not None else len(body)
    facts: dict[str, Any] = {"final_url": final, "content_type": label or None}
    if size > policy.max_bytes or len(body) > policy.max_bytes:
        shown_size = human_bytes(size) if size > policy.max_bytes else "more"
        return _failure(
            url,
            TOO_LARGE,
            f"{shown_size} ({label or 'no content type'})",
            f"it is larger than the {human_bytes(policy.max_bytes)} a keyframe may be",
            "Resize or compress it: the video is about 1360x752, so a JPEG of that size "
            "(a few hundred KB) loses nothing.",
            **facts,
        )
    facts["size"] = len(body)
    sniffed = sniff_media_type(body[:16], "image/")
    fmt = _FORMATS.get(sniffed or "")
    if fmt is None:
        if sniffed is not None:
            kind = sniffed.split("/", 1)[1].upper()
            return _failure(
                url,
                NOT_IMAGE,
                f"a {kind} image, {human_bytes(len(body))}",
                f"it is a {kind}; the API takes JPEG, PNG or WebP keyframes",
                "Convert it to JPEG, PNG or WebP.",
                **facts,
            )
        page = label in ("text/html", "application/xhtml+xml") or body.lstrip()[:1] == b"<"
        what = "an HTML page" if page else f"{label or 'unlabelled data'}, not an image"
        return _failure(
            url,
            NOT_IMAGE,
            f"{what} ({label or 'no content type'}, {human_bytes(len(body))})",
            "it is not a JPEG, PNG or WebP image"
            + (": perhaps a sign-in page, a viewer page or an expired link" if page else ""),
            "Use the direct link to the image file itself (the one that shows only the image "
            "when opened), not the page that displays it.",
            **facts,
        )
    facts["format"] = fmt
    notes: tuple[str, ...] = ()
    if label not in _GENERIC and _LABELS.get(label) is None:
        return _failure(
            url,
            NOT_IMAGE,
            f"a {fmt} image served as {label}",
            f"the host labels it {label}, not as an image, and a fetcher may refuse it",
            f"Serve it as {_mime(fmt)} (most hosts do so for a file named .jpg, .png or .webp).",
            **facts,
        )
    if label in _GENERIC:
        notes = (
            f"the host serves it as {label or 'no content type'}, not {_mime(fmt)}: a fetcher "
            "that trusts the label may refuse it",
        )
    image = read_image(body)
    if image is None:
        return _failure(
            url,
            DAMAGED,
            f"a damaged {fmt} file, {human_bytes(len(body))}",
            f"it starts like a {fmt} image but cannot be read",
            "Export or save the image again and upload the new file.",
            **facts,
        )
    rotated = ", EXIF-rotated" if image.rotated else ""
    return KeyframeReport(
        url=url,
        ok=True,
        found=f"a {image.width}x{image.height} {fmt}, {human_bytes(len(body))}{rotated}",
        width=image.width,
        height=image.height,
        notes=notes,
        **facts,
    )


def _mime(fmt: str) -> str:
    return next(mime for mime, name in _FORMATS.items() if name == fmt)


# --------------------------------------------------------------------------- drivers


def _pinned(http: httpx.Client | httpx.AsyncClient, step: Get) -> httpx.Request:
    import httpx

    left = max(0.001, step.deadline - time.monotonic())
    request = http.build_request(
        "GET", step.url, timeout=httpx.Timeout(left, connect=min(_CONNECT_TIMEOUT, left))
    )
    if step.address is None:
        return request
    extensions = dict(request.extensions)
    if request.url.scheme == "https":
        extensions["sni_hostname"] = step.host
    return httpx.Request(
        "GET",
        request.url.copy_with(host=step.address),
        headers=request.headers,  # keeps Host: the name the URL gave
        extensions=extensions,
    )


class _Body:
    """Collects a 2xx body to the cap, watching the deadline."""

    def __init__(self, step: Get, response: httpx.Response) -> None:
        self.step = step
        self.status = response.status_code
        self.label = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        location = response.headers.get("location")
        self.location = location if 300 <= self.status < 400 else None
        declared = response.headers.get("content-length", "")
        self.declared = int(declared) if declared.isascii() and declared.isdigit() else None
        self.chunks: list[bytes] = []
        self.size = 0

    @property
    def wanted(self) -> bool:
        """Whether the body is read at all."""
        too_large = self.declared is not None and self.declared > self.step.max_bytes
        return 200 <= self.status < 300 and not too_large

    def add(self, chunk: bytes) -> bool:
        """Take a chunk; False when reading should stop (the cap passed)."""
        if time.monotonic() > self.step.deadline:
            raise TimeoutError
        self.chunks.append(chunk)
        self.size += len(chunk)
        return self.size <= self.step.max_bytes

    def got(self) -> Got:
        return Got(self.status, self.label, self.location, self.declared, b"".join(self.chunks))


def _failed(exc: BaseException) -> Failed:
    import httpx

    if isinstance(exc, (httpx.TimeoutException, TimeoutError)):
        return Failed("timeout", "timed out")
    if isinstance(exc, httpx.ConnectError):
        return Failed("connect", _reason(exc))
    return Failed("error", f"{type(exc).__name__}: {_reason(exc)}")


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 120 else text[:117] + "..."


def _resolve(resolver: Resolver, step: Resolve) -> list[str] | Failed:
    try:
        return [str(a) for a in resolver(step.host, step.port)]
    except (OSError, UnicodeError, ValueError) as exc:
        return Failed("resolve", getattr(exc, "strerror", None) or _reason(exc))


def _client_options() -> dict[str, Any]:
    # A client of its own: no auth, no cookies of the API client, redirects checked by hand.
    return {"follow_redirects": False, "headers": _HEADERS}


def drive(flow: Flow, resolver: Resolver | None = None) -> KeyframeReport:
    """Run :func:`inspect` with blocking httpx (a fresh client without credentials)."""
    import httpx

    resolve = resolver or system_resolver
    with httpx.Client(**_client_options()) as http:
        try:
            step = next(flow)
            while True:
                answer: object
                if isinstance(step, Resolve):
                    answer = _resolve(resolve, step)
                else:
                    try:
                        response = http.send(_pinned(http, step), stream=True)
                        try:
                            body = _Body(step, response)
                            if body.wanted:
                                for chunk in response.iter_bytes():
                                    if not body.add(chunk):
                                        break
                            answer = body.got()
                        finally:
                            response.close()
                    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
                        answer = _failed(exc)
                step = flow.send(answer)
        except StopIteration as stop:
            report: KeyframeReport = stop.value
            return report
        finally:
            flow.close()


async def adrive(flow: Flow, resolver: Resolver | None = None) -> KeyframeReport:
    """Run :func:`inspect` with async httpx (resolving in a worker thread)."""
    import httpx

    resolve = resolver or system_resolver
    async with httpx.AsyncClient(**_client_options()) as http:
        try:
            step = next(flow)
            while True:
                answer: object
                if isinstance(step, Resolve):
                    answer = await asyncio.to_thread(_resolve, resolve, step)
                else:
                    try:
                        response = await http.send(_pinned(http, step), stream=True)
                        try:
                            body = _Body(step, response)
                            if body.wanted:
                                async for chunk in response.aiter_bytes():
                                    if not body.add(chunk):
                                        break
                            answer = body.got()
                        finally:
                            await response.aclose()
                    except (httpx.HTTPError, httpx.InvalidURL, TimeoutError, OSError) as exc:
                        answer = _failed(exc)
                step = flow.send(answer)
        except StopIteration as stop:
            report: KeyframeReport = stop.value
            return report
        finally:
            flow.close()


# --------------------------------------------------------------------------- per client


class Keyframes:
    """One client's keyframe preflight: the policy, the cache, and the checks of a request.

    Parameters
    ----------
    policy : KeyframePreflight
        The client's setting.
    backend, base_url : str
        The client's; media of the simulator it talks to pass without a fetch.
    owner : object
        The client (held weakly), for :func:`~luma_nb._media_policy.is_own_simulator_media`.
    """

    def __init__(
        self, policy: KeyframePreflight, *, backend: str, base_url: str, owner: object
    ) -> None:
        self.policy = policy
        self._backend = backend
        self._base_url = base_url
        self._owner = weakref.ref(owner)
        self._cache: OrderedDict[str, KeyframeReport] = OrderedDict()
        self._lock = threading.Lock()
        self._url_locks: dict[str, threading.Lock] = {}
        self._flights: dict[str, asyncio.Future[KeyframeReport | None]] = {}
        #: How many URLs this client fetched to check them (cache hits and simulator media
        #: are not fetched).
        self.fetches = 0

    # ---------------------------------------------------------------- what to check

    def wanted(self, request: VideoRequest, preflight: object) -> list[tuple[str, str]]:
        """``(field, url)`` of the keyframes to check; ``preflight`` is the call's override.

        Raises ValidationError for a ``preflight`` that is not True, False or None.
        """
        if preflight is not None and not isinstance(preflight, bool):
            raise ValidationError(
                f"preflight must be True, False or None, not {shown(preflight)}",
                field="preflight",
            )
        if not (self.policy.enabled if preflight is None else preflight):
            return []
        found = ((name, getattr(request, name)) for name in FIELDS)
        return [(name, url) for name, url in found if isinstance(url, str)]

    @staticmethod
    def arguments(url: object, aspect_ratio: object) -> tuple[str, str | None]:
        """``(url, aspect_ratio)`` of a ``check_keyframe`` call, or a ValidationError."""
        if not isinstance(url, str):
            raise ValidationError(f"url must be a string, not {shown(url)}", field="url")
        if aspect_ratio is not None and aspect_ratio not in ASPECT_RATIOS:
            raise ValidationError(
                f"aspect_ratio must be one of {', '.join(ASPECT_RATIOS)} or None, "
                f"not {shown(aspect_ratio)}",
                field="aspect_ratio",
            )
        return url, aspect_ratio

    def _settled(self, url: str) -> KeyframeReport | None:
        """The base report when no fetch is needed: the simulator's media, or a cache hit."""
        owner = self._owner()
        if (
            self._backend == "simulator"
            and owner is not None
            and is_own_simulator_media(url, owner=owner, base_url=self._base_url)
        ):
            return KeyframeReport(
                url=url,
                ok=True,
                found="the connected simulator's own image",
                final_url=url,
                source="simulator",
            )
        with self._lock:
            report = self._cache.get(url)
            if report is not None:
                self._cache.move_to_end(url)
            return report

    def _remember(self, report: KeyframeReport) -> None:
        with self._lock:
            self.fetches += 1
            if report.ok:  # a failure is checked again: it may have been fixed since
                self._cache[report.url] = report
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)

    def forget(self) -> None:
        """Empty the cache (every keyframe is fetched again on its next check)."""
        with self._lock:
            self._cache.clear()

    # ---------------------------------------------------------------- blocking

    def report(self, url: str, aspect_ratio: str | None) -> KeyframeReport:
        """The judged report of ``url`` (fetched at most once at a time, cached if ok)."""
        base = self._settled(url)
        if base is None:
            with self._lock:
                lock = self._url_locks.setdefault(url, threading.Lock())
            with lock:
                base = self._settled(url)
                if base is None:
                    base = drive(inspect(url, self.policy, time.monotonic), self.policy.resolver)
                    self._remember(base)
            with self._lock:
                self._url_locks.pop(url, None)
        return judge(base, aspect_ratio, self.policy)

    def check(self, request: VideoRequest, preflight: object, *, stacklevel: int) -> None:
        """Check the request's keyframes: KeyframeError for the first that fails, a
        KeyframeWarning for each warning. ``stacklevel`` 1 is the caller of this method."""
        for name, url in self.wanted(request, preflight):
            self._enforce(name, self.report(url, request.aspect_ratio), stacklevel + 1)

    # ---------------------------------------------------------------- async

    async def areport(self, url: str, aspect_ratio: str | None) -> KeyframeReport:
        """:meth:`report`, awaited (concurrent checks of one URL on one loop share a fetch)."""
        base = self._settled(url)
        if base is None:
            loop = asyncio.get_running_loop()
            flight = self._flights.get(url)
            if flight is not None and flight.get_loop() is loop:
                base = await asyncio.shield(flight)
            if base is None:
                base = await self._fly(url, loop)
        return judge(base, aspect_ratio, self.policy)

    async def _fly(self, url: str, loop: asyncio.AbstractEventLoop) -> KeyframeReport:
        flight: asyncio.Future[KeyframeReport | None] = loop.create_future()
        self._flights[url] = flight
        base: KeyframeReport | None = None
        try:
            base = await adrive(inspect(url, self.policy, time.monotonic), self.policy.resolver)
            self._remember(base)
            return base
        finally:
            flight.set_result(base)  # None (a cancel, an error): each waiter checks itself
            if self._flights.get(url) is flight:
                del self._flights[url]

    async def acheck(self, request: VideoRequest, preflight: object, *, stacklevel: int) -> None:
        """:meth:`check`, awaited."""
        for name, url in self.wanted(request, preflight):
            self._enforce(name, await self.areport(url, request.aspect_ratio), stacklevel + 1)

    # ---------------------------------------------------------------- outcome

    @staticmethod
    def _enforce(name: str, report: KeyframeReport, stacklevel: int) -> None:
        if not report.ok:
            raise keyframe_error(name, report)
        for text in report.warnings:
            warnings.warn(
                KeyframeWarning(
                    f"{name} {shown(report.url, 120)} (the {FIELDS[name]} frame): {text}."
                ),
                stacklevel=stacklevel + 1,
            )
