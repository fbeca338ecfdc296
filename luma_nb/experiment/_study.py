"""Starting a study (any factors, with a budget), its enhancement preset, and resuming one."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb.client import check_wait
from luma_nb.errors import ValidationError
from luma_nb.experiment._budget import DEFAULT_MAX_SUBMITS, check_max_submits
from luma_nb.experiment._context import as_log, find_log, require_client
from luma_nb.experiment._experiment import Experiment
from luma_nb.experiment._plan import ENHANCEMENT, check_experiment_id, new_plan, read_plan
from luma_nb.experiment._template import PromptTemplate

if TYPE_CHECKING:
    from luma_nb.client import Client
    from luma_nb.session_log import SessionLog

__all__ = ["compare_enhancement", "resume_experiment", "study"]


def study(
    prompts: Sequence[str] | PromptTemplate,
    *,
    factors: Mapping[str, Sequence[Any] | Mapping[str, Any]],
    repeats: int = 1,
    seed: int | None = None,
    concurrency: int = 4,
    max_submits: int = DEFAULT_MAX_SUBMITS,
    client: Client | None = None,
    session: SessionLog | str | Path | None = None,
    run: bool = True,
    max_wait: float | None = None,
    experiment_id: str | None = None,
    **fixed_request_fields: Any,
) -> Experiment:
    """Plan a fair, blind study of any request fields (and prompt variants), and run it.

    Every prompt (a *block* per prompt and repeat) is generated in every *arm*: every
    combination of the factors' levels (a full factorial). Every other request field is held
    fixed and sent explicitly in every request, defaults included. The order is randomised
    from ``seed`` across blocks and within each block, at most ``concurrency`` videos run at
    once, and everything goes to the session log — the plan first (with its paid-submit
    count and cap), then each video, with ``experiment`` and ``arm`` columns. Finished videos
    are downloaded for display. Interrupted? ``study.run()``, or :func:`resume_experiment`
    after a restart: nothing already submitted is submitted again.

    Parameters
    ----------
    prompts : list of str, or PromptTemplate
        The prompts, or a :class:`~luma_nb.experiment.PromptTemplate` such as
        ``PromptTemplate("a {animal} at {time}", animal=["fox", "owl"])``: every combination
        of the values of its slots is one prompt, and a slot named in ``factors`` is a
        factor (prompt variants).
    factors : dict
        Factor name -> its levels: a list of values (labels made up: on/off for booleans,
        short text as itself, else ``#1``, ``#2``...) or a dict label -> value. A factor is a
        request field (``enhancement``, ``loop``, ``aspect_ratio``, ``start_image_url``,
        ``end_image_url``, ``timeout``, ``callback_url``) or a template slot; it needs two
        levels or more. A level None of a keyframe means "no keyframe".
    repeats : int
        Blocks per prompt (default 1).
    seed : int, optional
        Seed of the order and of the blind review's draw; drawn and recorded if None.
    concurrency : int
        The most videos in flight (submitted, not finished) at once (default 4).
    max_submits : int
        The most paid submits the study may make (default 20). A study that needs more
        raises :class:`~luma_nb.experiment.BudgetExceededError` before any request; raise
        the cap on purpose, here or in ``study.run(max_submits=...)``.
    client : Client, optional
        A blocking client; default :func:`luma_nb.notebook.default_client`.
    session : SessionLog or path, optional
        Where to log; default :func:`luma_nb.session`.
    run : bool
        False plans the study and submits nothing (nor logs anything): look at
        ``study.plan()``, then call ``study.run()``.
    max_wait : float, optional
        The longest to wait for the next video to finish; past it the run stops with an
        :class:`~luma_nb.experiment.ExperimentWarning` and ``study.run()`` completes it later.
    experiment_id : str, optional
        An id of your own (default ``exp-`` + 8 hex digits); must be new to the log.
    **fixed_request_fields
        Request fields held fixed in every arm (``aspect_ratio="9:16"``, ...); not a factor.

    Returns
    -------
    Experiment

    Raises
    ------
    ValidationError
        Bad arguments (unknown fields, a factor also fixed, a factor of one level, a bad
        value), before anything is sent or logged.
    BudgetExceededError
        With ``run=True``, when the study needs more than ``max_submits`` paid submits.
    """
    check_wait(max_wait)
    cap = check_max_submits(max_submits)
    if not isinstance(run, bool):
        raise ValidationError(f"run must be True or False, not {run!r}", field="run")
    plan = new_plan(
        prompts,
        repeats=repeats,
        concurrency=concurrency,
        seed=seed,
        params=fixed_request_fields,
        experiment=experiment_id,
        factors=factors,
        max_submits=cap,
    )
    log = as_log(session)
    if read_plan(log, plan.experiment) is not None or any(
        row["experiment"] == plan.experiment for row in log.to_records()
    ):
        raise ValidationError(
            f"the session log already has an experiment {plan.experiment!r}; choose another "
            "id, or continue it with resume_experiment",
            field="experiment_id",
        )
    api = None if client is None else require_client(client)
    experiment = Experiment(plan, log, client=api, started=False)
    if run:
        experiment.run(max_wait=max_wait)
    else:
        print(
            f"luma_nb: experiment {plan.experiment} planned, nothing submitted: study.plan() shows "
            "the design and its cost, study.run() starts it"
        )
    return experiment


def compare_enhancement(
    prompts: list[str] | tuple[str, ...],
    *,
    repeats: int = 1,
    concurrency: int = 4,
    seed: int | None = None,
    client: Client | None = None,
    session: SessionLog | str | Path | None = None,
    max_wait: float | None = None,
    experiment_id: str | None = None,
    max_submits: int = DEFAULT_MAX_SUBMITS,
    **common_params: Any,
) -> Experiment:
    """Generate every prompt with ``enhancement`` on and off: :func:`study` with
    ``factors={"enhancement": [True, False]}``.

    The two videos of a prompt and repeat form a *pair*; its arms are ``"on"`` and
    ``"off"``, the blind review shows each pair as A and B, and the summary's paired
    comparison is ``summary.paired`` (on - off). ``**common_params`` are held fixed
    (``aspect_ratio`` default ``"16:9"``, ``loop`` default False, ``start_image_url``...);
    not ``enhancement``: the study sets it. The other arguments are :func:`study`'s.
    """
    return study(
        prompts,
        factors=ENHANCEMENT,
        repeats=repeats,
        seed=seed,
        concurrency=concurrency,
        max_submits=max_submits,
        client=client,
        session=session,
        max_wait=max_wait,
        experiment_id=experiment_id,
        **common_params,
    )


def resume_experiment(
    experiment_id: str,
    *,
    client: Client | None = None,
    session: SessionLog | str | Path | None = None,
    max_wait: float | None = None,
) -> Experiment:
    """Rebuild a study from its session log and finish it (see :meth:`Experiment.run`).

    Parameters
    ----------
    experiment_id : str
        The id printed when the study started (``experiment.id``).
    client : Client, optional
        Default :func:`luma_nb.notebook.default_client`.
    session : SessionLog or path, optional
        The study's log. By default the kernel's session if it holds the study, else the
        newest session file under ``./luma_sessions`` that does (a restarted kernel starts a
        new session file, so the study is looked for).
    max_wait : float, optional
        As for :func:`study`.
    """
    check_experiment_id(experiment_id)
    log = as_log(session) if session is not None else find_log(experiment_id)
    return Experiment.load(log, experiment_id, client=client).run(max_wait=max_wait)
