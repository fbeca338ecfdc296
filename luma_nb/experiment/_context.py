"""Where a study runs: its client and session log, found or defaulted, and its warnings."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from luma_nb.errors import ValidationError

if TYPE_CHECKING:
    from luma_nb.client import Client
    from luma_nb.session_log import SessionLog

__all__ = ["ExperimentWarning", "as_log", "find_log", "require_client", "warn"]


class ExperimentWarning(UserWarning):
    """A study did not run to the end (a stop, a timeout, a submit with an unknown outcome)."""


def warn(message: str) -> None:
    """Warn with :class:`ExperimentWarning`, pointing at the caller's cell (the first frame
    outside luma_nb: study() and study.run() reach here by different paths)."""
    level = 2
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("luma_nb."):
        frame = frame.f_back
        level += 1
    warnings.warn(message, ExperimentWarning, stacklevel=level)


def require_client(client: Client | None) -> Client:
    """``client``, or the kernel's default client; an async client is refused."""
    from luma_nb.client import Client

    if client is None:
        from luma_nb.notebook import default_client

        return default_client()
    if not isinstance(client, Client):
        raise ValidationError(
            "a study needs a blocking luma_nb.Client (luma_nb.connect()), "
            f"not {type(client).__name__}",
            field="client",
        )
    return client


def as_log(session: SessionLog | str | Path | None) -> SessionLog:
    """A SessionLog from a log, a path, or None (the kernel's session)."""
    from luma_nb.session_log import SessionLog

    if session is None:
        from luma_nb.notebook import session as default_session

        return default_session()
    if isinstance(session, SessionLog):
        return session
    if isinstance(session, (str, Path)):
        return SessionLog(session)
    raise ValidationError(
        f"session must be a SessionLog or a path, not {type(session).__name__}", field="session"
    )


def find_log(experiment_id: str) -> SessionLog:
    """The session log that holds ``experiment_id``: the kernel's, else the newest on disk."""
    from luma_nb.notebook import session as default_session
    from luma_nb.session_log import DEFAULT_FOLDER, SessionLog

    current = default_session()
    if current.path.exists() and _mentions(current.path, experiment_id):
        return current
    folder = Path(DEFAULT_FOLDER)
    files = sorted(
        (p for p in folder.glob("*.jsonl") if p.is_file()),
        key=lambda p: (p.stat().st_mtime_ns, p.name),
        reverse=True,
    )
    for path in files:
        if _mentions(path, experiment_id):
            return SessionLog(path)
    raise ValidationError(
        f"no session log in {folder.absolute()} holds experiment {experiment_id!r}; "
        "pass session= (the log's path)",
        field="experiment_id",
    )


def _mentions(path: Path, experiment_id: str) -> bool:
    # A byte search first: cheaper than folding every session on disk.
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return f'"experiment":"{experiment_id}"'.encode() in data
