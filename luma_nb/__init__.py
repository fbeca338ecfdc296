"""luma_nb: a Jupyter toolkit for the Ace Data Cloud Luma video API.

``import luma_nb`` is light: public names are loaded on first use, so neither pandas nor the
widget machinery (nor even httpx) is imported until something needs it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from luma_nb._version import __version__

if TYPE_CHECKING:
    from luma_nb._preflight import KeyframePreflight, KeyframeReport, KeyframeWarning
    from luma_nb.aio import RunTimeoutError, enable_nested_asyncio, run_blocking
    from luma_nb.backend import connect, simulator_of
    from luma_nb.chain import chain_player, timeline
    from luma_nb.client import AsyncClient, Client
    from luma_nb.config import PollPolicy, RetryPolicy, Settings
    from luma_nb.display import grid, show
    from luma_nb.errors import (
        APIError,
        APITimeoutError,
        AuthenticationError,
        BadRequestError,
        ConfigError,
        GenerationFailedError,
        InsufficientBalanceError,
        KeyframeError,
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
        WaitTimeoutError,
    )
    from luma_nb.experiment import (
        Experiment,
        ExperimentSummary,
        ExperimentWarning,
        compare_enhancement,
        resume_experiment,
    )
    from luma_nb.models import ASPECT_RATIOS, Task, TaskError, TaskState, Video, VideoRequest
    from luma_nb.notebook import (
        default_client,
        extend,
        generate,
        history,
        rate,
        reset,
        session,
        submit,
        use,
    )
    from luma_nb.panel import Panel
    from luma_nb.report import export_html
    from luma_nb.session_log import (
        IterationExistsError,
        ResumeResult,
        SessionLog,
        SessionLogWriteError,
        load_sessions,
    )

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    "enable_nested_asyncio": "luma_nb.aio",
    "run_blocking": "luma_nb.aio",
    "RunTimeoutError": "luma_nb.aio",
    "connect": "luma_nb.backend",
    "simulator_of": "luma_nb.backend",
    "show": "luma_nb.display",
    "chain_player": "luma_nb.chain",
    "timeline": "luma_nb.chain",
    "export_html": "luma_nb.report",
    "Experiment": "luma_nb.experiment",
    "ExperimentSummary": "luma_nb.experiment",
    "ExperimentWarning": "luma_nb.experiment",
    "compare_enhancement": "luma_nb.experiment",
    "resume_experiment": "luma_nb.experiment",
    "grid": "luma_nb.display",
    "SessionLog": "luma_nb.session_log",
    "SessionLogWriteError": "luma_nb.session_log",
    "IterationExistsError": "luma_nb.session_log",
    "ResumeResult": "luma_nb.session_log",
    "load_sessions": "luma_nb.session_log",
    "Client": "luma_nb.client",
    "AsyncClient": "luma_nb.client",
    "PollPolicy": "luma_nb.config",
    "RetryPolicy": "luma_nb.config",
    "Settings": "luma_nb.config",
    "ASPECT_RATIOS": "luma_nb.models",
    "Task": "luma_nb.models",
    "TaskError": "luma_nb.models",
    "TaskState": "luma_nb.models",
    "Video": "luma_nb.models",
    "VideoRequest": "luma_nb.models",
    "Panel": "luma_nb.panel",
    "KeyframePreflight": "luma_nb._preflight",
    "KeyframeReport": "luma_nb._preflight",
    "KeyframeWarning": "luma_nb._preflight",
}
_EXPORTS.update(
    dict.fromkeys(
        [
            "default_client",
            "extend",
            "generate",
            "history",
            "rate",
            "reset",
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
            "KeyframeError",
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
            "WaitTimeoutError",
        ],
        "luma_nb.errors",
    )
)

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'luma_nb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
