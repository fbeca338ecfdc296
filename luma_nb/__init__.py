"""luma_nb: a Jupyter toolkit for the Ace Data Cloud Luma video API.

``import luma_nb`` is light: public names are loaded on first use, so neither pandas nor the
widget machinery (nor even httpx) is imported until something needs it. The public submodules
(``luma_nb.report``, ``luma_nb.simulator``...) work as attributes at once, imported on first
access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from luma_nb._version import __version__

if TYPE_CHECKING:
    from luma_nb import (
        aio,
        backend,
        chain,
        client,
        config,
        display,
        errors,
        experiment,
        models,
        notebook,
        panel,
        report,
        session_log,
        simulator,
    )
    from luma_nb.backend import connect
    from luma_nb.chain import chain_player, timeline
    from luma_nb.client import AsyncClient, Client
    from luma_nb.display import grid, show
    from luma_nb.errors import (
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigError,
        GenerationFailedError,
        InsufficientBalanceError,
        LumaError,
        ModerationError,
        NotFoundError,
        PermissionDeniedError,
        RateLimitError,
        ServerError,
        SubmitOutcomeUnknownError,
        TokenMismatchError,
        TransportError,
        UnexpectedResponseError,
        ValidationError,
        WaitCancelledError,
        WaitTimeoutError,
    )
    from luma_nb.experiment import Experiment, compare_enhancement, resume_experiment
    from luma_nb.models import ASPECT_RATIOS, Task, TaskState, Video, VideoRequest
    from luma_nb.notebook import extend, generate, history, rate, session, submit, use
    from luma_nb.panel import Panel
    from luma_nb.report import export_html
    from luma_nb.session_log import SessionLog, load_sessions

# public name -> module that defines it. The top level is what a notebook user needs; the
# plumbing (settings and policies, the default client, reset, the simulator behind a client,
# run_blocking, result and warning types, the session log's own errors) is imported from its
# module: luma_nb.config.Settings, luma_nb.notebook.reset, luma_nb.backend.simulator_of...
_EXPORTS: dict[str, str] = {
    "connect": "luma_nb.backend",
    "show": "luma_nb.display",
    "chain_player": "luma_nb.chain",
    "timeline": "luma_nb.chain",
    "export_html": "luma_nb.report",
    "Experiment": "luma_nb.experiment",
    "compare_enhancement": "luma_nb.experiment",
    "resume_experiment": "luma_nb.experiment",
    "grid": "luma_nb.display",
    "SessionLog": "luma_nb.session_log",
    "load_sessions": "luma_nb.session_log",
    "Client": "luma_nb.client",
    "AsyncClient": "luma_nb.client",
    "ASPECT_RATIOS": "luma_nb.models",
    "Task": "luma_nb.models",
    "TaskState": "luma_nb.models",
    "Video": "luma_nb.models",
    "VideoRequest": "luma_nb.models",
    "Panel": "luma_nb.panel",
}
_EXPORTS.update(
    dict.fromkeys(
        [
            "extend",
            "generate",
            "history",
            "rate",
            "session",
            "submit",
            "use",
        ],
        "luma_nb.notebook",
    )
)
_EXPORTS.update(
    dict.fromkeys(
        [
            "APIError",
            "APITimeoutError",
            "AuthenticationError",
            "BadRequestError",
            "ConfigError",
            "GenerationFailedError",
            "InsufficientBalanceError",
            "LumaError",
            "ModerationError",
            "NotFoundError",
            "PermissionDeniedError",
            "RateLimitError",
            "ServerError",
            "SubmitOutcomeUnknownError",
            "TokenMismatchError",
            "TransportError",
            "UnexpectedResponseError",
            "ValidationError",
            "WaitCancelledError",
            "WaitTimeoutError",
        ],
        "luma_nb.errors",
    )
)

#: The documented submodules: ``luma_nb.report`` works right after ``import luma_nb`` (the
#: module is imported on first access). Not in ``__all__``: a star import stays light.
_SUBMODULES = frozenset(
    {
        "aio",
        "backend",
        "chain",
        "client",
        "config",
        "display",
        "errors",
        "experiment",
        "models",
        "notebook",
        "panel",
        "render",
        "report",
        "session_log",
        "simulator",
    }
)

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        # import_module also binds the submodule as an attribute of this package.
        return importlib.import_module(f"luma_nb.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'luma_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*__all__, *_SUBMODULES})
