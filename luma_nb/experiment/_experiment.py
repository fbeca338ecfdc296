"""The :class:`Experiment` object: a study's plan, and its videos as the log knows them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._html import esc
from luma_nb._session_fold import TERMINAL_STATES, usable_task_id
from luma_nb.client import check_wait
from luma_nb.errors import ValidationError
from luma_nb.experiment._context import as_log, require_client, warn
from luma_nb.experiment._from_rows import plan_from_rows
from luma_nb.experiment._plan import Plan, Unit, check_experiment_id, read_plan
from luma_nb.experiment._records import (
    NOT_SUBMITTED,
    TIDY_COLUMNS,
    is_unresolved,
    tidy_frame,
    tidy_record,
)
from luma_nb.experiment._run import RunReport, download, run
from luma_nb.experiment._summary import ExperimentSummary, summarise
from luma_nb.models import Video, VideoRequest

if TYPE_CHECKING:
    import pandas
    from matplotlib.figure import Figure

    from luma_nb.client import Client
    from luma_nb.display import GridView
    from luma_nb.experiment._review import BlindReview
    from luma_nb.session_log import SessionLog

__all__ = ["NOT_SUBMITTED", "TIDY_COLUMNS", "Experiment"]


class Experiment:
    """An enhancement study: its plan, and its videos as the session log knows them.

    Made by :func:`compare_enhancement`, or rebuilt with :meth:`load` /
    :func:`resume_experiment`. Every number is read from the log when asked, so ratings saved
    in the review grid (or from another notebook) show up at once.

    Attributes
    ----------
    id : str
        The experiment id (the log's ``experiment`` column).
    seed : int or None
        The seed of the submission order (None for a study rebuilt from rows alone).
    prompts : tuple of str
        The prompts, in the order given.
    params : dict
        The common parameters, sent explicitly in both arms (defaults included).
    repeats, concurrency : int
        Pairs per prompt, and the most videos in flight at once.
    log : SessionLog
        Where the study is recorded.
    last_run : RunReport or None
        What the last run (or :meth:`complete`) did in this process.
    """

    def __init__(
        self,
        plan: Plan,
        log: SessionLog,
        *,
        client: Client | None = None,
        iterations: Mapping[tuple[int, str], str] | None = None,
    ) -> None:
        self._plan = plan
        self.log = log
        self._client = client
        self._iterations = dict(iterations or {})
        self.last_run: RunReport | None = None

    # ------------------------------------------------------------------ identity

    @property
    def id(self) -> str:
        """The experiment id."""
        return self._plan.experiment

    @property
    def seed(self) -> int | None:
        """The seed of the submission order (and of the blind A/B assignment)."""
        return self._plan.seed

    @property
    def prompts(self) -> tuple[str, ...]:
        """The prompts."""
        return self._plan.prompts

    @property
    def params(self) -> dict[str, Any]:
        """The common parameters (a copy)."""
        return dict(self._plan.params)

    @property
    def repeats(self) -> int:
        """Pairs per prompt."""
        return self._plan.repeats

    @property
    def concurrency(self) -> int:
        """The most videos in flight at once."""
        return self._plan.concurrency

    @property
    def plan(self) -> Plan:
        """The full plan (order, blind assignment)."""
        return self._plan

    @property
    def pairs(self) -> tuple[int, ...]:
        """The pair numbers (1, 2, ...: prompt by prompt, repeat by repeat)."""
        return self._plan.pairs

    def iteration(self, pair: int, arm: str) -> str:
        """The session-log iteration id of ``pair`` in ``arm`` (``"on"`` or ``"off"``)."""
        unit = self._plan.unit(pair, arm)
        return self._iterations.get((pair, arm)) or unit.iteration(self.id)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        session: SessionLog | str | Path,
        experiment_id: str,
        *,
        client: Client | None = None,
    ) -> Experiment:
        """Rebuild a study from a session log (a :class:`SessionLog` or a path).

        The plan comes from the log's ``experiment`` event. A log without one (a comparison
        run by hand with ``experiment=`` and ``arm="on"``/``"off"``, paired by ``pair:<n>``
        tags or by prompt) is rebuilt from its rows.

        Raises :class:`~luma_nb.errors.ValidationError` when the log holds no such study, or
        only a plan event a hand edit made unreadable (it says which field).
        """
        log = as_log(session)
        plan = read_plan(log, check_experiment_id(experiment_id))
        if plan is not None:
            return cls(plan, log, client=client)
        rows = [row for row in log.to_records() if row["experiment"] == experiment_id]
        if not rows:
            raise ValidationError(
                f"no experiment {experiment_id!r} in the session log {log.path}",
                field="experiment_id",
            )
        plan, iterations = plan_from_rows(experiment_id, rows)
        return cls(plan, log, client=client, iterations=iterations)

    # ------------------------------------------------------------------ rows

    def _rows(self) -> dict[Unit, dict[str, Any] | None]:
        rows = {row["iteration"]: row for row in self.log.to_records()}
        return {unit: rows.get(self.iteration(unit.pair, unit.arm)) for unit in self._plan.units}

    def records(self) -> list[dict[str, Any]]:
        """One dict per planned video (keys :data:`TIDY_COLUMNS`), in pair order, on first.

        Videos never submitted are included with the state ``"not_submitted"``.
        """
        order = {unit: n for n, unit in enumerate(self._plan.order, start=1)}
        return [
            tidy_record(
                self._plan,
                unit,
                row,
                order=order[unit],
                iteration=self.iteration(unit.pair, unit.arm),
            )
            for unit, row in self._rows().items()
        ]

    def to_dataframe(self) -> pandas.DataFrame:
        """The study as a tidy DataFrame: one row per planned video (needs pandas).

        Columns :data:`TIDY_COLUMNS`: the unit (``pair``, ``repeat``, ``arm``, ``order`` of
        submission), what was sent, how it went (``state``, ``elapsed``), the echoed prompt
        and how far it is from the prompt sent (``edit_distance`` in characters,
        ``edit_ratio`` 0-1), the rating and note, and where the video is.
        """
        return tidy_frame(self.records())

    def counts(self) -> dict[str, int]:
        """How many planned videos are in each state (``completed``, ``not_submitted``...)."""
        return dict(Counter(record["state"] for record in self.records()))

    @property
    def is_complete(self) -> bool:
        """True when every planned video has completed or failed."""
        return all(state in ("completed", "failed") for state in self.counts())

    def unresolved(self) -> list[dict[str, Any]]:
        """Videos whose submit has an unknown outcome: maybe billed, so never resubmitted
        automatically. Check the provider's task list, then resubmit by hand if needed.

        These are the ``outcome_unknown`` rows, and rows begun but not finished that have no
        task id to wait for (the kernel died during the POST, or a hand edit broke the id).
        """
        return [record for record in self.records() if is_unresolved(record)]

    # ------------------------------------------------------------------ finishing

    def complete(
        self, client: Client | None = None, *, max_wait: float | None = None
    ) -> Experiment:
        """Finish the study after an interruption; returns ``self``.

        Tasks still running are re-attached (batch polling), videos never submitted are
        submitted (in the planned order, within the concurrency bound), finished videos
        without a local copy are downloaded. Nothing already submitted is submitted again:
        a video whose submit outcome is unknown is reported (:meth:`unresolved`), not retried.

        Safe to run in two processes at once (two kernels, two ``resume_experiment`` calls):
        each never-submitted video is claimed in the log by exactly one of them, and the
        other skips it (and says so in an :class:`ExperimentWarning`) rather than paying for
        it twice. Events the log kept in memory after a failed write (a task id) are written
        first; while the disk is still full that ``OSError`` is raised.
        """
        check_wait(max_wait)
        api = require_client(client or self._client)
        self._client = api
        self.log.flush()
        todo: list[Unit] = []
        attached: dict[str, str] = {}
        done = 0
        report = RunReport()
        rows = self._rows()
        for unit in self._plan.order:
            row = rows[unit]
            if row is None:
                todo.append(unit)
                continue
            iteration = str(row["iteration"])
            if row["state"] not in TERMINAL_STATES and usable_task_id(row["task_id"]):
                attached[row["task_id"]] = iteration
                continue
            done += 1
            media = row["media_path"]
            if row["state"] == "completed" and row["video_url"] and not _is_file(media):
                download(self.log, api, iteration, row["video_url"], report)
        unresolved = self.unresolved()
        if unresolved:
            warn(
                f"{len(unresolved)} video(s) of experiment {self.id} have an unknown submit "
                "outcome (the request may have been billed), so they are not resubmitted: "
                + ", ".join(r["iteration"] for r in unresolved)
                + ". Check your task list; experiment.unresolved() lists them."
            )
        if todo or attached:
            report = run(
                self._plan,
                self.log,
                api,
                todo=todo,
                attached=attached,
                max_wait=max_wait,
                already_done=done,
            )
        self._after(report)
        return self

    def _after(self, report: RunReport) -> None:
        self.last_run = report
        failed = {
            it: exc for it, exc in report.submit_errors.items() if exc is not report.stopped_by
        }
        if failed:
            warn(
                f"{len(failed)} video(s) could not be submitted (logged, not retried): "
                + "; ".join(f"{it}: {type(exc).__name__}: {exc}" for it, exc in failed.items())
            )
        if report.stopped_by is not None:
            waiting = self.counts().get(NOT_SUBMITTED, 0)
            warn(
                f"experiment {self.id} stopped submitting: {type(report.stopped_by).__name__}: "
                f"{report.stopped_by}. {waiting} video(s) not submitted; fix the cause, then "
                "call experiment.complete()."
            )
        if report.timed_out is not None:
            warn(
                f"experiment {self.id}: gave up waiting ({report.timed_out}); the videos still "
                "running are in the log: experiment.complete() (or resume_experiment("
                f"{self.id!r}) after a restart) re-attaches to them."
            )
        if report.claimed_elsewhere:
            warn(
                f"{len(report.claimed_elsewhere)} video(s) of experiment {self.id} were begun by "
                "another process at the same moment (another kernel, or resume_experiment run "
                "twice), so they were not submitted here: "
                + ", ".join(report.claimed_elsewhere)
                + ". experiment.complete() later re-attaches to them."
            )
        if report.download_errors:
            warn(
                f"{len(report.download_errors)} finished video(s) could not be saved locally "
                "(the log keeps their URLs): "
                + "; ".join(f"{it}: {exc}" for it, exc in report.download_errors.items())
            )

    def export_html(
        self, path: str | Path, *, title: str | None = None, embed: bool | None = None
    ) -> Path:
        """Write a standalone HTML report of the study: its videos (embedded under the cap),
        prompts, parameters, ratings and the summary. Opens with no kernel and no network."""
        from luma_nb.report import export_html

        rows = [row for row in self.log.to_records() if row.get("experiment") == self.id]
        return export_html(
            rows,
            path,
            title=title or f"Enhancement study {self.id}",
            embed=embed,
            summary_html=self.summary(),
        )

    # ------------------------------------------------------------------ analysis

    def summary(self, *, level: float = 0.95, paired_by: str = "prompt") -> ExperimentSummary:
        """Per-arm numbers and a paired comparison of the ratings.

        Parameters
        ----------
        level : float
            Confidence level of the mean rating's interval: a Student's t-interval, which
            stays honest for the handful of ratings a study has (a bootstrap would be too
            narrow there), clipped to the 1-5 scale.
        paired_by : {"prompt", "pair"}
            The unit of the paired comparison. ``"prompt"`` (default) averages each arm over
            a prompt's repeats first, so the units are independent; ``"pair"`` treats every
            repeat as its own unit. With ``repeats=1`` the two are the same.

        Returns
        -------
        ExperimentSummary
            Renders as a table; numbers as attributes (``.on.mean_rating``,
            ``.paired.p_value``). The paired test is an exact two-sided sign test: ratings
            are ordinal with many ties, so only the direction of each difference is used.
        """
        return summarise(self.id, self.records(), level=level, paired_by=paired_by)

    def plot(self, *, level: float = 0.95) -> Figure:
        """Ratings per arm (pairs joined, mean with its t-interval) and latency per arm.

        Needs matplotlib (``pip install "luma_nb[research]"``); returns the figure.
        """
        from luma_nb.experiment._plot import plot_experiment

        return plot_experiment(self.records(), self.summary(level=level), title=self.id)

    # ------------------------------------------------------------------ looking

    def review(self, *, embed: bool | None = None) -> BlindReview:
        """A blind review grid: each pair side by side as A and B, arms hidden.

        A and B are assigned per pair with a seeded draw (the same every time, also after a
        restart). Each video has a 1-5 rating and an optional note; Save writes them to the
        session log. Reveal shows which video had enhancement on. Needs ipywidgets.
        """
        from luma_nb.experiment._review import BlindReview

        return BlindReview(self, embed=embed)

    def video(self, pair: int, arm: str) -> Video | None:
        """The finished video of ``pair`` in ``arm`` (None until there is one)."""
        from luma_nb.render.adapt import video_from_row

        unit = self._plan.unit(pair, arm)
        row = self._rows()[unit]
        if row is None:
            return None
        return video_from_row(row, request=self._request_of(row))

    def _request_of(self, row: Mapping[str, Any]) -> VideoRequest | None:
        try:
            return VideoRequest(
                action="generate",
                prompt=row["prompt"],
                aspect_ratio=row["aspect_ratio"],
                loop=bool(row["loop"]),
                enhancement=bool(row["enhancement"]),
            )
        except ValidationError:
            return None  # a hand-edited row: show the video without its request

    def grid(self, *, columns: int = 2, embed: bool | None = None) -> GridView:
        """The finished videos side by side, labelled with pair and arm (not blind)."""
        from luma_nb.display import grid
        from luma_nb.render.adapt import video_from_row

        videos: list[Video] = []
        labels: list[str] = []
        for unit, row in self._rows().items():
            video = None if row is None else video_from_row(row, request=self._request_of(row))
            if video is not None:
                videos.append(video)
                labels.append(f"pair {unit.pair} · enhancement {unit.arm}")
        return grid(videos, labels, columns=columns, embed=embed)

    def rate(self, pair: int, arm: str, stars: int, note: str | None = None) -> None:
        """Rate the video of ``pair`` in ``arm`` from 1 to 5 (written to the session log)."""
        self.log.rate(self.iteration(pair, arm), stars, note)

    def text(self) -> str:
        """One line about the study."""
        counts = self.counts()
        total = sum(counts.values())
        states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        seed = "" if self.seed is None else f", seed {self.seed}"
        return (
            f"Experiment {self.id}: {len(self.prompts)} prompt(s) x 2 arms x {self.repeats} "
            f"repeat(s) = {total} videos ({states}){seed}; log {self.log.path}"
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        counts = self.counts()
        states = " · ".join(f"{n} {esc(state)}" for state, n in sorted(counts.items()))
        params = ", ".join(f"{esc(k)}={esc(v)}" for k, v in self.params.items())
        prompts = "".join(f"<li>{esc(p)}</li>" for p in self.prompts)
        return (
            '<div class="luma-nb-experiment" style="font-family:sans-serif;font-size:13px">'
            f"<b>Enhancement study {esc(self.id)}</b> · {len(self.prompts)} prompt(s)"
            f" &times; 2 arms &times; {self.repeats} repeat(s) · seed {esc(self.seed)}"
            f" · concurrency {self.concurrency}<br>{states}<br>common parameters: {params}"
            f"<ol>{prompts}</ol>"
            f'<span style="opacity:.7">log: {esc(self.log.path)}</span></div>'
        )


def _is_file(path: object) -> bool:
    if not isinstance(path, str) or not path:
        return False
    try:
        return Path(path).is_file()
    except (OSError, ValueError):  # a hand-edited path with a NUL byte, or far too long
        return False
