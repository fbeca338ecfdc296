"""Where the simulator may reach out: callback POSTs and keyframe GETs.

``callback_url`` makes the simulator POST, and ``start_image_url`` / ``end_image_url`` make it
GET, to an address its client chooses. Left open, that is a relay into the network of whoever
runs it. So by default the simulator reaches **loopback addresses only** (127.0.0.0/8, ``::1``,
and host names that resolve to nothing but those, ``localhost`` included):

- a URL is checked before anything is sent: an IP literal as is, a host name by resolving it
  (every address it resolves to must be loopback); an unresolvable name is refused too;
- the connection then goes to the very address that was checked (the host name stays in the
  ``Host`` header and TLS SNI), so a name that re-resolves elsewhere (DNS rebinding) changes
  nothing;
- redirects are re-checked hop by hop (keyframes follow at most ``MAX_REDIRECTS``; callbacks
  follow none);
- a refusal is one fixed sentence, decided before any connection, so it never tells whether the
  target exists or answered.

``allow_remote=True`` (``Simulator(allow_remote_fetch=True)``, CLI ``--allow-remote-fetch``)
lifts the restriction. The policy holds whatever ``image_fetcher`` or ``callback_transport`` is
plugged in: a custom fetcher only ever receives URLs the policy allowed.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

__all__ = [
    "MAX_REDIRECTS",
    "AddressPolicy",
    "AddressRefused",
    "GuardedTransport",
    "Target",
    "is_loopback_address",
    "refusal_message",
]

MAX_REDIRECTS = 5

Resolver = Callable[[str, int], list[str]]


def refusal_message(field_name: str) -> str:
    """The one sentence every refused ``field_name`` URL gets (it names no target detail)."""
    return (
        f"{field_name} was refused: this simulator reaches only loopback addresses "
        "(127.0.0.0/8, ::1, localhost); start it with allow_remote_fetch=True "
        "(--allow-remote-fetch) to reach other hosts"
    )


class AddressRefused(Exception):
    """A URL the :class:`AddressPolicy` does not let the simulator reach."""


@dataclass(frozen=True)
class Target:
    """A URL that passed the policy: where to connect, and under which name.

    Attributes
    ----------
    scheme, host : str
        From the URL (``host`` lower-cased, without IPv6 brackets).
    port : int
        From the URL, or 80 / 443.
    address : str or None
        The checked IP address to connect to; ``None`` when remote fetches are allowed (then
        nothing is resolved and the connection goes wherever the URL says).
    """

    scheme: str
    host: str
    port: int
    address: str | None


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


def is_loopback_address(text: str) -> bool:
    """Whether ``text`` is a loopback IP address (IPv4-mapped IPv6 included)."""
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _ip_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


@dataclass(frozen=True)
class AddressPolicy:
    """Which addresses callbacks and keyframe fetches may reach.

    Parameters
    ----------
    allow_remote : bool
        ``False`` (default): loopback only. ``True``: any http(s) URL.
    resolver : callable, optional
        ``resolve(host, port) -> [ip, ...]`` (default: the system resolver).
    """

    allow_remote: bool = False
    resolver: Resolver = field(default=_system_resolver, repr=False, compare=False)

    def check(self, url: str) -> Target:
        """Check ``url`` without connecting to it.

        Raises
        ------
        AddressRefused
            If the URL is not http(s), is malformed, does not resolve, or (unless remote
            fetches are allowed) resolves to any address that is not loopback.
        """
        try:
            parts = urlsplit(url)
            scheme = parts.scheme.lower()
            host = (parts.hostname or "").lower()
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:  # a bad IPv6 literal or port
            raise AddressRefused(url) from None
        if scheme not in ("http", "https") or not host:
            raise AddressRefused(url)
        if self.allow_remote:
            return Target(scheme, host, port, None)
        literal = _ip_literal(host)
        if literal is not None:
            addresses = [literal]
        else:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError, ValueError):
                raise AddressRefused(url) from None
        if not addresses or not all(is_loopback_address(a) for a in addresses):
            raise AddressRefused(url)
        return Target(scheme, host, port, addresses[0].split("%", 1)[0])


class GuardedTransport(httpx.BaseTransport):
    """A transport that checks every request's URL and connects to the checked address.

    Parameters
    ----------
    policy : AddressPolicy
        The check. A refused request raises :class:`AddressRefused` before ``inner`` sees it.
    inner : httpx.BaseTransport, optional
        What sends the (pinned) request; default a plain ``httpx.HTTPTransport``.
    """

    def __init__(self, policy: AddressPolicy, inner: httpx.BaseTransport | None = None) -> None:
        self.policy = policy
        self._inner = inner if inner is not None else httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        """Check, pin and forward one request."""
        target = self.policy.check(str(request.url))
        if target.address is None:
            return self._inner.handle_request(request)
        extensions = dict(request.extensions)
        if target.scheme == "https":
            extensions["sni_hostname"] = target.host
        pinned = httpx.Request(
            request.method,
            request.url.copy_with(host=target.address),
            headers=request.headers,  # keeps Host: the name the URL gave
            stream=request.stream,
            extensions=extensions,
        )
        return self._inner.handle_request(pinned)

    def close(self) -> None:
        """Close the inner transport."""
        self._inner.close()
