"""Running a new study, and finishing an interrupted one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb.client import check_wait
from luma_nb.errors import ValidationError
from luma_nb.experiment._context import as_log, find_log, require_client
from luma_nb.experiment._experiment import Experiment
from luma_nb.experiment._plan import check_experiment_id, new_plan, read_plan, write_plan
from luma_nb.experiment._run import run

if TYPE_CHECKING:
    from luma_nb.client import Client
    from luma_nb.session_log import SessionLog

__all__ = ["compare_enhancement", "resume_experiment"]


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
    **common_params: Any,
) -> Experiment:
    """Generate every prompt with ``enhancement`` on and off, and return the study.

    Every prompt is generated ``repeats`` times in each arm (on, off); the two videos of a
    prompt and repeat form a *pair*. Every other parameter is identical in both arms and sent
    explicitly. Submission order is shuffled with a seeded RNG (so drift of the service over
    time falls on both arms alike), at most ``concurrency`` videos run at once, and
    everything goes to the session log — the plan first, then each video, tagged
    ``pair:<n>`` and ``repeat:<k>``, with ``experiment`` and ``arm`` (``"on"``/``"off"``)
    columns. Finished videos are downloaded for display. Interrupted? :func:`resume_experiment`.

    Parameters
    ----------
    prompts : list of str
        The prompts to compare (at least one).
    repeats : int
        Pairs per prompt (default 1).
    concurrency : int
        The most videos in flight (submitted, not finished) at once (default 4).
    seed : int, optional
        Seed of the submission order and of the blind A/B draw; drawn and recorded if None.
    client : Client, optional
        A blocking client; default :func:`luma_nb.notebook.default_client`.
    session : SessionLog or path, optional
        Where to log; default :func:`luma_nb.session`.
    max_wait : float, optional
        The longest to wait for the next video to finish; past it the run stops with an
        :class:`ExperimentWarning` and the study can be completed later.
    experiment_id : str, optional
        An id of your own (default ``exp-`` + 8 hex digits); must be new to the log.
    **common_params
        ``aspect_ratio`` (default ``"16:9"``), ``loop`` (default False),
        ``start_image_url``, ``end_image_url``, ``callback_url``, ``timeout``. Not
        ``enhancement``: the study sets it.

    Returns
    -------
    Experiment

    Raises
    ------
    ValidationError
        Bad arguments, before anything is sent or logged.
    """
    check_wait(max_wait)
    plan = new_plan(
        prompts,
        repeats=repeats,
        concurrency=concurrency,
        seed=seed,
        params=common_params,
        experiment=experiment_id,
    )
    api = require_client(client)
    log = as_log(session)
    if read_plan(log, plan.experiment) is not None or any(
        row["experiment"] == plan.experiment for row in log.to_records()
    ):
        raise ValidationError(
            f"the session log already has an experiment {plan.experiment!r}; choose another "
            "id, or continue it with resume_experiment",
            field="experiment_id",
        )
    write_plan(log, plan)  # before any submit: the log alone can finish the study
    experiment = Experiment(plan, log, client=api)
    print(
        f"luma_nb: experiment {plan.experiment}: {len(plan.order)} videos "
        f"({len(plan.prompts)} prompt(s) x 2 arms x {plan.repeats} repeat(s)), seed "
        f"{plan.seed}, at most {plan.concurrency} at once; logged to {log.path}"
    )
    experiment._after(run(plan, log, api, todo=plan.order, max_wait=max_wait))
    return experiment


def resume_experiment(
    experiment_id: str,
    *,
    client: Client | None = None,
    session: SessionLog | str | Path | None = None,
    max_wait: float | None = None,
) -> Experiment:
    """Rebuild a study from its session log and finish it (see :meth:`Experiment.complete`).

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
        As for :func:`compare_enhancement`.
    """
    check_experiment_id(experiment_id)
    log = as_log(session) if session is not None else find_log(experiment_id)
    return Experiment.load(log, experiment_id, client=client).complete(max_wait=max_wait)
