"""The keyframe preflight's decisions, sans-I/O: can the API fetch and use this image?

:func:`inspect` is a generator: it yields :class:`Resolve` (answered with the addresses, or
:class:`Failed`) and :class:`Get` (answered with :class:`Got` or :class:`Failed`) steps and
returns a :class:`~luma_nb._preflight_report.KeyframeReport`. It refuses URLs the API could not
reach (not http(s), a private host, a name that resolves to a private address), follows
redirects by hand (each target checked again), and examines the answer: status, size, the
format the bytes are, the label the host gave, the dimensions. :mod:`luma_nb._preflight_fetch`
performs the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from luma_nb._html import human_bytes, sniff_media_type
from luma_nb._keyframe_image import read_image
from luma_nb._media_policy import canonical_host, host_address, is_public_host, public_url_refusal
from luma_nb._preflight_policy import KeyframePreflight
from luma_nb._preflight_report import (
    DAMAGED,
    NOT_IMAGE,
    TOO_LARGE,
    UNREACHABLE,
    KeyframeReport,
    failure,
)
from luma_nb._values import shown, url_problem

_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WebP"}
# Labels that say "an image of this kind"; the spelled-out aliases some servers use.
_LABELS = {**_FORMATS, "image/jpg": "JPEG", "image/pjpeg": "JPEG", "image/x-png": "PNG"}
# Labels that say nothing about the content.
_GENERIC = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})

_PUBLISH = (
    "Put the image where anyone on the internet can open it (a public bucket, an image host, a "
    "share link that needs no sign-in) and pass that URL."
)


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
                return failure(
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
            return _httpfailure(url, current, host, got.status)
        return _examine(url, current, got, policy)


def _place(
    url: str, current: str, policy: KeyframePreflight, redirects: int
) -> tuple[str, int] | KeyframeReport:
    """``(host, port)`` of a URL the API could reach, or the failure."""
    scheme = current.split(":", 1)[0].lower() if ":" in current else ""
    via = f" (where {shown(url)} redirects)" if redirects else ""
    if scheme in ("data", "file", "blob"):
        return failure(
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
        return failure(
            url,
            UNREACHABLE,
            f"{shown(current)}{via}",
            f"it is not an absolute http(s) URL the API can fetch: {problem}",
            "Pass the full https:// link of the image.",
            final_url=current,
        )
    refusal = public_url_refusal(current, allow=frozenset(policy.allow_hosts))
    if refusal is not None:
        return failure(
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
        return failure(
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
        return failure(
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
    return failure(
        url,
        UNREACHABLE,
        found,
        problem,
        "Check that the link opens in a private browser window. If you are sure the API can "
        "fetch it, skip the check with preflight=False.",
        final_url=current,
    )


def _httpfailure(url: str, current: str, host: str, status: int) -> KeyframeReport:
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
    return failure(
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
        return failure(
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
            return failure(
                url,
                NOT_IMAGE,
                f"a {kind} image, {human_bytes(len(body))}",
                f"it is a {kind}; the API takes JPEG, PNG or WebP keyframes",
                "Convert it to JPEG, PNG or WebP.",
                **facts,
            )
        page = label in ("text/html", "application/xhtml+xml") or body.lstrip()[:1] == b"<"
        what = "an HTML page" if page else f"{label or 'unlabelled data'}, not an image"
        return failure(
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
        return failure(
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
        return failure(
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
