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
    # `name as name` re-exports explicitly, so that strict type checkers and IDEs (mypy,
    # pyright) see the lazy names with their signatures; tests/test_public_api.py keeps this
    # block equal to _EXPORTS.
    from luma_nb import (
        aio as aio,
        backend as backend,
        chain as chain,
        client as client,
        config as config,
        display as display,
        errors as errors,
        experiment as experiment,
        models as models,
        notebook as notebook,
        panel as panel,
        report as report,
        session_log as session_log,
        simulator as simulator,
        video_metrics as video_metrics,
    )
    from luma_nb._preflight import (
        KeyframePreflight as KeyframePreflight,
        KeyframeReport as KeyframeReport,
        KeyframeWarning as KeyframeWarning,
    )
    from luma_nb.backend import connect as connect
    from luma_nb.chain import chain_player as chain_player, timeline as timeline
    from luma_nb.client import AsyncClient as AsyncClient, Client as Client
    from luma_nb.display import grid as grid, show as show
    from luma_nb.errors import (
        APIError as APIError,
        APITimeoutError as APITimeoutError,
        AuthenticationError as AuthenticationError,
        BadRequestError as BadRequestError,
        ConfigError as ConfigError,
        GenerationFailedError as GenerationFailedError,
        InsufficientBalanceError as InsufficientBalanceError,
        KeyframeError as KeyframeError,
        LumaError as LumaError,
        ModerationError as ModerationError,
        NotFoundError as NotFoundError,
        PermissionDeniedError as PermissionDeniedError,
        RateLimitError as RateLimitError,
        ServerError as ServerError,
        SubmitOutcomeUnknownError as SubmitOutcomeUnknownError,
        TokenMismatchError as TokenMismatchError,
        TransportError as TransportError,
        UnexpectedResponseError as UnexpectedResponseError,
        ValidationError as ValidationError,
        WaitCancelledError as WaitCancelledError,
        WaitTimeoutError as WaitTimeoutError,
    )
    from luma_nb.experiment import (
        BudgetExceededError as BudgetExceededError,
        compare_enhancement as compare_enhancement,
        resume_experiment as resume_experiment,
        study as study,
    )
    from luma_nb.models import (
        Task as Task,
        TaskState as TaskState,
        Video as Video,
        VideoRequest as VideoRequest,
    )
    from luma_nb.notebook import (
        extend as extend,
        generate as generate,
        history as history,
        rate as rate,
        session as session,
        submit as submit,
        use as use,
    )
    from luma_nb.panel import Panel as Panel
    from luma_nb.report import export_html as export_html
    from luma_nb.session_log import SessionLog as SessionLog, load_sessions as load_sessions

# public name -> module that defines it. The top level is what a notebook user needs; the
# plumbing (settings and policies, the default client, reset, the simulator behind a client,
# run_blocking, result and warning types, the session log's own errors, constants such as
# luma_nb.models.ASPECT_RATIOS, the study's class luma_nb.experiment.Experiment, which
# luma_nb.study returns) is imported from its module: luma_nb.config.Settings,
# luma_nb.notebook.reset, luma_nb.backend.simulator_of...
_EXPORTS: dict[str, str] = {
    "connect": "luma_nb.backend",
    "show": "luma_nb.display",
    "chain_player": "luma_nb.chain",
    "timeline": "luma_nb.chain",
    "export_html": "luma_nb.report",
    "BudgetExceededError": "luma_nb.experiment",
    "compare_enhancement": "luma_nb.experiment",
    "resume_experiment": "luma_nb.experiment",
    "study": "luma_nb.experiment",
    "grid": "luma_nb.display",
    "SessionLog": "luma_nb.session_log",
    "load_sessions": "luma_nb.session_log",
    "Client": "luma_nb.client",
    "AsyncClient": "luma_nb.client",
    "Task": "luma_nb.models",
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
        "video_metrics",
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
