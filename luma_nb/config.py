"""Settings: token, base URL, timeouts, retry and poll policy.

Precedence: an explicit argument, then the environment (``ACEDATACLOUD_API_TOKEN``,
``ACEDATACLOUD_API_BASE_URL``, ``LUMA_NB_*``), then the default. The token is held in a
:class:`Secret` whose ``repr`` and ``str`` are masked, so it cannot leak through a log line,
a traceback or a notebook output by accident.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from luma_nb.errors import ConfigError

__all__ = ["DEFAULT_BASE_URL", "PollPolicy", "RetryPolicy", "Secret", "Settings"]

DEFAULT_BASE_URL = "https://api.acedata.cloud"
TOKEN_ENV = "ACEDATACLOUD_API_TOKEN"  # noqa: S105 (a variable name, not a secret)
BASE_URL_ENV = "ACEDATACLOUD_API_BASE_URL"


class Secret:
    """A string that never shows itself in ``repr``, ``str`` or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """Return the secret value; call only where it is sent to the API."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return repr(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[object, ...]:
        # Pickling would write the token into a file; refuse.
        raise TypeError("a Secret cannot be pickled")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter for retryable requests.

    ``delay(attempt)`` is ``min(cap, base * 2**attempt)`` scaled by a random factor in
    ``[1 - jitter, 1]``; a server ``Retry-After`` wins when it is larger (capped at
    ``max_retry_after``).
    """

    max_retries: int = 4
    base: float = 0.5
    cap: float = 8.0
    jitter: float = 0.5
    max_retry_after: float = 60.0

    def __post_init__(self) -> None:
        if not isinstance(self.max_retries, int) or not 0 <= self.max_retries <= 20:
            raise ConfigError(
                f"max_retries must be an integer from 0 to 20, not {self.max_retries!r}"
            )


@dataclass(frozen=True)
class PollPolicy:
    """How often ``wait`` asks for a task: ``initial`` seconds, growing by ``factor``,
    capped at ``maximum``; ``max_wait`` is the default deadline of one wait."""

    initial: float = 3.0
    factor: float = 1.25
    maximum: float = 15.0
    max_wait: float = 900.0

    def __post_init__(self) -> None:
        for name in ("initial", "maximum", "max_wait"):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                raise ConfigError(f"poll {name} must be a positive number, not {value!r}")
        if not _is_number(self.factor) or self.factor < 1:
            raise ConfigError(f"poll factor must be a number >= 1, not {self.factor!r}")


@dataclass(frozen=True)
class Settings:
    """Everything a client needs to know, resolved once at construction."""

    token: Secret = field(repr=True)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    backend: str = "api"

    @classmethod
    def resolve(
        cls,
        token: str | Secret | None = None,
        *,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        poll: PollPolicy | None = None,
        backend: str | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Resolve settings from arguments, then the environment, then defaults.

        Raises
        ------
        ConfigError
            When no token is found or a value is unusable.
        """
        env = os.environ if environ is None else environ
        secret = _resolve_token(token, env)
        url = normalise_base_url(base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL)
        if timeout is None:
            timeout = _env_float(env, "LUMA_NB_HTTP_TIMEOUT", 30.0)
        if not _is_number(timeout) or not 0 < timeout <= 3600:
            raise ConfigError(f"timeout must be seconds in (0, 3600], not {timeout!r}")
        retry = RetryPolicy(
            max_retries=max_retries
            if max_retries is not None
            else _env_int(env, "LUMA_NB_MAX_RETRIES", 4)
        )
        return cls(
            token=secret,
            base_url=url,
            timeout=float(timeout),
            retry=retry,
            poll=poll or PollPolicy(),
            backend=backend or "api",
        )

    @property
    def api_origin(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the API: the only origin that receives the token."""
        return origin_of(self.base_url)


def origin_of(url: str) -> tuple[str, str, int]:
    """The (scheme, host, port) triple that decides whether a URL is the API's."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, (parts.hostname or "").lower(), port


def normalise_base_url(url: str) -> str:
    """Check that a base URL is absolute http(s) and drop any trailing slash."""
    if not isinstance(url, str):
        raise ConfigError(f"base_url must be a string, not {type(url).__name__}")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url must be an absolute http(s) URL, not {url!r}")
    if parts.username or parts.password:
        raise ConfigError("base_url must not carry credentials; pass the token separately")
    return url.strip().rstrip("/")


def _resolve_token(token: str | Secret | None, env: Mapping[str, str]) -> Secret:
    if isinstance(token, Secret):
        value = token.reveal()
    elif token is None:
        value = env.get(TOKEN_ENV, "")
    elif isinstance(token, str):
        value = token
    else:
        raise ConfigError(f"token must be a string, not {type(token).__name__}")
    value = value.strip()
    if not value:
        raise ConfigError(
            "no API token: pass Client(token=...) or set the environment variable "
            f"{TOKEN_ENV} (get a token at https://platform.acedata.cloud). Without a key, "
            "luma_nb.connect() uses the built-in simulator."
        )
    if any(ch.isspace() for ch in value) or not value.isprintable():
        # Also catches a pasted "Bearer <token>".
        raise ConfigError(
            "the API token contains whitespace or control characters; pass the token "
            "itself, without a 'Bearer' prefix"
        )
    return Secret(value)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
