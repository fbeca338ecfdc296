"""The keyframe preflight's setting: :class:`KeyframePreflight` and its default limits.

``Client(preflight=...)`` takes one (or True/False, or nothing: the environment's
``LUMA_NB_PREFLIGHT``); the limits below are its defaults. What the preflight does with it is
described in :mod:`luma_nb._preflight`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from luma_nb._media_policy import canonical_host
from luma_nb._values import shown
from luma_nb.errors import ConfigError

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

#: ``resolver(host, port) -> [address, ...]`` (:attr:`KeyframePreflight.resolver`).
Resolver = Callable[[str, int], list[str]]


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
