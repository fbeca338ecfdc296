"""Choosing the backend: the real API when there is a token, else the built-in simulator.

``connect()`` is the one place that decides. Order: the ``backend`` argument, then
``LUMA_NB_BACKEND`` (``api`` / ``simulator`` / ``auto``), then auto: a token (argument or
``ACEDATACLOUD_API_TOKEN``) means the real API; a loopback ``ACEDATACLOUD_API_BASE_URL`` means
a simulator you started with ``python -m luma_nb.simulator``; otherwise the in-process
simulator, announced by a banner so nobody mistakes its clips for real ones.

A simulator a client is connected to is registered
(:func:`luma_nb._media_policy.register_simulator`) for as long as that client lives: its
loopback media URLs are the only non-public URLs the notebook views download to embed.
"""

from __future__ import annotations

import html
import ipaddress
import math
import os
import secrets
import sys
import threading
import weakref
from typing import TYPE_CHECKING, Any, Literal, overload
from urllib.parse import urlsplit

from luma_nb._media_policy import register_simulator
from luma_nb.config import BASE_URL_ENV, TOKEN_ENV, PollPolicy, Secret, as_secret
from luma_nb.errors import ConfigError
from luma_nb.render.frontend import display_html, in_notebook

if TYPE_CHECKING:
    from luma_nb.client import AsyncClient, Client
    from luma_nb.simulator import Simulator

__all__ = ["SIMULATOR_POLL", "connect", "simulator_of"]

BACKEND_ENV = "LUMA_NB_BACKEND"
SPEED_ENV = "LUMA_NB_SIM_SPEED"
#: Polling the in-process simulator costs nothing, so it is polled briskly.
# A backoff, not the adaptive schedule: the simulator's clock runs faster than real time.
SIMULATOR_POLL = PollPolicy(initial=0.4, factor=1.25, maximum=2.0, max_wait=900.0, adaptive=False)
# Any non-empty token is accepted by the simulator; this one says what it is.
_SIMULATOR_TOKEN = "luma-nb-simulator"  # noqa: S105 (not a secret)

_simulators: weakref.WeakKeyDictionary[Any, Simulator] = weakref.WeakKeyDictionary()

_shared: Simulator | None = None
_shared_lock = threading.Lock()

Backend = Literal["auto", "api", "simulator"]


@overload
def connect(
    token: str | None = ...,
    *,
    backend: Backend | None = ...,
    asynchronous: Literal[False] = ...,
    banner: bool = ...,
    simulator: Simulator | None = ...,
    **options: Any,
) -> Client: ...


@overload
def connect(
    token: str | None = ...,
    *,
    backend: Backend | None = ...,
    asynchronous: Literal[True],
    banner: bool = ...,
    simulator: Simulator | None = ...,
    **options: Any,
) -> AsyncClient: ...


def connect(
    token: str | None = None,
    *,
    backend: Backend | None = None,
    asynchronous: bool = False,
    banner: bool = True,
    simulator: Simulator | None = None,
    **options: Any,
) -> Client | AsyncClient:
    """Return a client for the real API, or for the simulator when there is no token.

    Parameters
    ----------
    token : str, optional
        The API token; defaults to ``ACEDATACLOUD_API_TOKEN``.
    backend : {"auto", "api", "simulator"}, optional
        Force a backend; defaults to ``LUMA_NB_BACKEND``, else ``"auto"``.
    asynchronous : bool
        Return an :class:`~luma_nb.AsyncClient` instead of a :class:`~luma_nb.Client`.
    banner : bool
        Announce a simulated backend (in the notebook, or on stderr outside it).
    simulator : Simulator, optional
        The in-process simulator to use (default: one shared per process, running
        ``LUMA_NB_SIM_SPEED`` times faster than real time, 60 unless set).
    **options
        Passed to the client (``timeout``, ``max_retries``, ``poll``, ``cache_dir``...).
    """
    token = as_secret(token)  # type: ignore[assignment]  # no plain-string token in a frame
    choice = _choose(token, backend)
    # A forced simulator uses one you started on loopback, if the base URL points at it.
    if choice == "api" or (simulator is None and _loopback_base_url()):
        base_url = options.pop("base_url", None) or os.environ.get(BASE_URL_ENV)
        label = "simulator" if base_url and _is_loopback(base_url) else "api"
        # A Secret at once: no frame of ours holds the token as a plain string.
        secret = (
            as_secret(token or None)
            or as_secret(os.environ.get(TOKEN_ENV) or None)
            or (Secret(_SIMULATOR_TOKEN) if label == "simulator" else None)
        )
        if label == "simulator":
            options.setdefault("poll", SIMULATOR_POLL)
            if banner:
                _announce(f"a simulator at {base_url}")
        client = _client(asynchronous, secret, base_url=base_url, backend=label, **options)
        if label == "simulator" and base_url:
            # Its media comes from the same server (under the other loopback name).
            register_simulator(base_url, owner=client)
        return client

    sim = simulator or _shared_simulator()
    options.setdefault("poll", SIMULATOR_POLL)
    client = _client(
        asynchronous,
        Secret(_SIMULATOR_TOKEN),
        base_url=sim.base_url,
        transport=sim.transport(),
        backend="simulator",
        **options,
    )
    _simulators[client] = sim
    # Served on loopback (SimulatorServer.start points these at the socket), its media URLs
    # are fetched for display; its default .invalid hosts need no registration.
    register_simulator(sim.base_url, owner=client)
    register_simulator(sim.media_base_url, owner=client)
    if banner:
        _announce("the built-in simulator")
    return client


def _shared_simulator() -> Simulator:
    """One in-process simulator per Python process: like a server, it outlives clients, so
    a new client (after ``luma_nb.notebook.reset()``) still finds the tasks submitted before."""
    global _shared
    with _shared_lock:
        if _shared is None:
            from luma_nb.simulator import Simulator

            # A random seed: a fixed one would give every kernel the same task ids and media
            # URLs, and the media cache (keyed by URL, shared across kernels) would then serve
            # one kernel's clip to another.
            # It has no listener (only this process's own code reaches it), so it is no
            # relay into the network: it may fetch the public keyframe URLs a user types.
            _shared = Simulator(seed=secrets.token_hex(8), speed=_speed(), allow_remote_fetch=True)
        return _shared


def simulator_of(client: Client | AsyncClient) -> Simulator | None:
    """The in-process simulator behind a client made by :func:`connect`, if any."""
    return _simulators.get(client)


def _choose(token: str | Secret | None, backend: str | None) -> str:
    """``"api"``, or ``"simulator"`` (a loopback base URL or the in-process one)."""
    choice = backend or os.environ.get(BACKEND_ENV) or "auto"
    if choice not in ("auto", "api", "simulator"):
        raise ConfigError(f"backend must be 'auto', 'api' or 'simulator', not {choice!r}")
    if choice != "auto":
        return choice
    secret = as_secret(token)
    has_token = bool(secret and secret.stripped()) or bool(os.environ.get(TOKEN_ENV, "").strip())
    return "api" if has_token or _loopback_base_url() else "simulator"


def _loopback_base_url() -> str | None:
    """``ACEDATACLOUD_API_BASE_URL`` when it points at a simulator on this machine."""
    base_url = os.environ.get(BASE_URL_ENV)
    return base_url if base_url and _is_loopback(base_url) else None


def _client(asynchronous: bool, token: str | Secret | None, **options: Any) -> Client | AsyncClient:
    from luma_nb.client import AsyncClient, Client

    if asynchronous:
        return AsyncClient(token, **options)
    return Client(token, **options)


def _speed() -> float:
    raw = os.environ.get(SPEED_ENV)
    if not raw:
        return 60.0
    try:
        speed = float(raw)
    except ValueError:
        raise ConfigError(f"{SPEED_ENV} must be a number, not {raw!r}") from None
    if not (math.isfinite(speed) and speed > 0):
        raise ConfigError(f"{SPEED_ENV} must be a positive finite number, not {raw!r}")
    return speed


def _is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _announce(where: str) -> None:
    text = (
        f"luma_nb: videos come from {where}: they are SIMULATED clips, free, made "
        f"locally. Set {TOKEN_ENV} (or pass a token) to use the real Luma API."
    )
    if in_notebook():
        display_html(
            '<div class="luma-nb-banner" style="padding:6px 10px;border-left:4px solid '
            '#d97706;background:rgba(217,119,6,.12);font-family:sans-serif;font-size:13px">'
            f"<b>Simulated backend.</b> {html.escape(text)}</div>"
        )
    else:
        print(text, file=sys.stderr)
