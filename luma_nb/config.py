"""Settings: token, base URL, timeouts, retry and poll policy.

Precedence: an explicit argument, then the environment (``ACEDATACLOUD_API_TOKEN``,
``ACEDATACLOUD_API_BASE_URL``, ``LUMA_NB_*``), then the default. The token is held in a
:class:`Secret` whose ``repr`` and ``str`` are masked, so it cannot leak through a log line,
a traceback or a notebook output by accident.
"""

from __future__ import annotations

import ipaddress
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
#: Set to 1 to allow a plain-http base URL on a host that is not this machine.
ALLOW_HTTP_ENV = "LUMA_NB_ALLOW_INSECURE_HTTP"
#: Secrets shorter than this are not scrubbed from answers (see Secret.scrub).
MIN_SCRUB_CHARS = 8
#: Default cap of one download (a real 5 s video is a few MB; this stops an endless body).
DEFAULT_MAX_DOWNLOAD_BYTES = 1 << 30
#: Largest JSON answer the client reads from the API (a batch of 50 records is ~100 KB).
MAX_ANSWER_BYTES = 4 << 20


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

    def __bool__(self) -> bool:
        return bool(self._value)

    def stripped(self) -> Secret:
        """The same secret without surrounding whitespace."""
        return Secret(self._value.strip())

    def is_clean(self) -> bool:
        """True when the value has no whitespace, control or unprintable characters."""
        return self._value.isprintable() and not any(ch.isspace() for ch in self._value)

    def _scrubbable(self) -> bool:
        # A value this short is no credential (real tokens have 32+ characters), and
        # replacing it everywhere would mangle answers ("t" is in every "task_id").
        return len(self._value) >= MIN_SCRUB_CHARS

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the secret replaced by asterisks."""
        return text.replace(self._value, "********") if self._scrubbable() else text

    def found_in(self, data: bytes) -> bool:
        """True when the secret (long enough to be scrubbed) appears in ``data`` as UTF-8."""
        return self._scrubbable() and self._value.encode("utf-8", "surrogatepass") in data

    def scrub_bytes(self, data: bytes) -> bytes:
        """``data`` with every UTF-8 occurrence of the secret replaced by asterisks."""
        if not self._scrubbable():
            return data
        return data.replace(self._value.encode("utf-8", "surrogatepass"), b"********")


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
    """How often ``wait`` asks for a task, and the default deadline of one wait (``max_wait``).

    ``adaptive`` (the default): the schedule follows how long generations take (learned from
    the tasks the client saw finish, seeded from the session log; see
    :mod:`luma_nb._schedule`): no looks where nothing finishes, dense looks where generations
    usually end, never more often than every ``floor`` seconds nor less often than every
    ``ceiling`` seconds.

    ``adaptive=False``: a backoff from ``initial`` seconds growing by ``factor`` up to
    ``maximum``; :meth:`fixed` makes it a fixed interval.
    """

    initial: float = 3.0
    factor: float = 1.25
    maximum: float = 15.0
    max_wait: float = 900.0
    adaptive: bool = True
    floor: float = 1.0
    ceiling: float = 60.0

    def __post_init__(self) -> None:
        for name in ("initial", "maximum", "max_wait", "floor", "ceiling"):
            value = getattr(self, name)
            if not _is_number(value) or value <= 0:
                raise ConfigError(f"poll {name} must be a positive number, not {value!r}")
        if not _is_number(self.factor) or self.factor < 1:
            raise ConfigError(f"poll factor must be a number >= 1, not {self.factor!r}")
        if self.ceiling < self.floor:
            raise ConfigError(
                f"poll ceiling ({self.ceiling!r}) must not be below its floor ({self.floor!r})"
            )
        if not isinstance(self.adaptive, bool):
            raise ConfigError(f"poll adaptive must be True or False, not {self.adaptive!r}")

    @classmethod
    def fixed(cls, seconds: float, *, max_wait: float = 900.0) -> PollPolicy:
        """Look every ``seconds`` (start to start), e.g. ``PollPolicy.fixed(3)``: the SDK's."""
        return cls(initial=seconds, factor=1.0, maximum=seconds, max_wait=max_wait, adaptive=False)


@dataclass(frozen=True)
class Settings:
    """Everything a client needs to know, resolved once at construction."""

    token: Secret = field(repr=True)
    base_url: str = DEFAULT_BASE_URL
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    poll: PollPolicy = field(default_factory=PollPolicy)
    backend: str = "api"
    max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES

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
        max_download_bytes: int | None = None,
        allow_insecure_http: bool | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Resolve settings from arguments, then the environment, then defaults.

        Raises
        ------
        ConfigError
            When no token is found or a value is unusable.
        """
        # Wrap the token first: no frame below holds it as a plain string (tracebacks that
        # capture local variables would print it).
        token = as_secret(token)
        # Wrapped: a traceback that prints locals would print os.environ, token and all.
        env = _Environment(os.environ if environ is None else environ)
        secret = _resolve_token(token, env)
        if allow_insecure_http is None:
            allow_insecure_http = env.get(ALLOW_HTTP_ENV, "") == "1"
        elif not isinstance(allow_insecure_http, bool):
            raise ConfigError(
                f"allow_insecure_http must be True or False, not {allow_insecure_http!r}"
            )
        url = normalise_base_url(
            base_url or env.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
            allow_insecure_http=allow_insecure_http,
        )
        if timeout is None:
            timeout = _env_float(env, "LUMA_NB_HTTP_TIMEOUT", 30.0)
        if not _is_number(timeout) or not 0 < timeout <= 3600:
            raise ConfigError(f"timeout must be seconds in (0, 3600], not {timeout!r}")
        if max_download_bytes is None:
            max_download_bytes = _env_int(
                env, "LUMA_NB_MAX_DOWNLOAD_BYTES", DEFAULT_MAX_DOWNLOAD_BYTES
            )
        if (
            not isinstance(max_download_bytes, int)
            or isinstance(max_download_bytes, bool)
            or not 0 < max_download_bytes <= 1 << 40
        ):
            raise ConfigError(
                f"max_download_bytes must be a whole number of bytes in (0, 2**40], "
                f"not {max_download_bytes!r}"
            )
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
            max_download_bytes=max_download_bytes,
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


def is_loopback_host(host: str) -> bool:
    """True for ``localhost`` and loopback addresses (127.0.0.0/8, ::1)."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalise_base_url(url: str, *, allow_insecure_http: bool = False) -> str:
    """Check that a base URL is absolute http(s) and drop any trailing slash.

    Plain ``http`` is refused for any host but this machine's loopback (the bearer token
    would travel in cleartext) unless ``allow_insecure_http`` is True.
    """
    if not isinstance(url, str):
        raise ConfigError(f"base_url must be a string, not {type(url).__name__}")
    text = url.strip()
    if not text.isprintable() or any(ch.isspace() for ch in text):
        raise ConfigError(f"base_url must not contain spaces or control characters: {text!r}")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a bad IPv6 literal, a port out of range
        raise ConfigError(f"base_url is not a valid URL ({exc}): {text!r}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"base_url must be an absolute http(s) URL, not {text!r}")
    if parts.username or parts.password:
        raise ConfigError("base_url must not carry credentials; pass the token separately")
    if port == 0:
        raise ConfigError(f"base_url has port 0, which no server listens on: {text!r}")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback_host(parts.hostname):
        raise ConfigError(
            f"base_url {text!r} is plain http on a host that is not this machine: the API "
            "token would travel in cleartext. Use https, or allow it explicitly with "
            f"Client(allow_insecure_http=True) or {ALLOW_HTTP_ENV}=1."
        )
    return text.rstrip("/")


def as_secret(token: str | Secret | None) -> Secret | None:
    """Wrap a plain-string token in a :class:`Secret` at once (None stays None)."""
    if isinstance(token, str):
        return Secret(token)
    if token is None or isinstance(token, Secret):
        return token
    raise ConfigError(f"token must be a string, not {type(token).__name__}")


class _Environment:
    """Read access to environment variables, with a repr that shows none of them."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = values

    def get(self, name: str, default: str | None = None) -> str | None:
        """The variable's value, or ``default``."""
        return self._values.get(name, default)

    def __repr__(self) -> str:
        return "<environment>"


def _resolve_token(token: Secret | None, env: _Environment) -> Secret:
    secret = Secret(env.get(TOKEN_ENV) or "") if token is None else token
    secret = secret.stripped()
    if not secret:
        raise ConfigError(
            "no API token: pass Client(token=...) or set the environment variable "
            f"{TOKEN_ENV} (get a token at https://platform.acedata.cloud). Without a key, "
            "luma_nb.connect() uses the built-in simulator."
        )
    if not secret.is_clean():
        # Also catches a pasted "Bearer <token>".
        raise ConfigError(
            "the API token contains whitespace or control characters; pass the token "
            "itself, without a 'Bearer' prefix"
        )
    return secret


def _is_number(value: object) -> bool:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float (10**400)
        return False


def _env_float(env: _Environment, name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, not {raw!r}") from None


def _env_int(env: _Environment, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, not {raw!r}") from None
