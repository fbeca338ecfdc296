"""The :class:`Experiment` object: a study's plan, and its videos as the log knows them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb.client import check_wait
from luma_nb.errors import ValidationError
from luma_nb.experiment._budget import check_budget, check_max_submits
from luma_nb.experiment._context import as_log, require_client, warn
from luma_nb.experiment._from_rows import plan_from_rows
from luma_nb.experiment._measuring import Keyframes, Measurer
from luma_nb.experiment._plan import Plan, Unit, check_experiment_id, read_plan, write_plan
from luma_nb.experiment._plan_view import budget_sentence, status_html, status_text
from luma_nb.experiment._records import (
    NOT_SUBMITTED,
    TIDY_COLUMNS,
    is_unresolved,
    tidy_frame,
    tidy_record,
)
from luma_nb.experiment._run import RunReport, catch_up, run, warn_about
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
    """A study: its plan, and its videos as the session log knows them.

    Made by :func:`luma_nb.study` (or its preset :func:`compare_enhancement`), or rebuilt
    with :meth:`load` / :func:`resume_experiment`. Every number is read from the log when
    asked, so ratings saved in the review grid (or from another notebook) show up at once.

    Attributes
    ----------
    id : str
        The experiment id (the log's ``experiment`` column).
    seed : int or None
        The seed of the submission order (None for a study rebuilt from rows alone).
    prompts : tuple of str
        The prompts, in the order given (a template's, one per combination of its slots).
    params : dict
        The fixed request fields, sent explicitly in every arm (defaults included).
    factors : dict
        Each factor's level labels.
    arms : tuple of str
        The arm names.
    repeats, concurrency : int
        Blocks per prompt, and the most videos in flight at once.
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
        started: bool = True,
    ) -> None:
        self._plan = plan
        self.log = log
        self._client = client
        self._iterations = dict(iterations or {})
        self._started = started
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
        """The fixed request fields (a copy)."""
        return dict(self._plan.params)

    @property
    def factors(self) -> dict[str, tuple[str, ...]]:
        """Each factor's level labels, in the order given."""
        return {factor.name: factor.labels for factor in self._plan.factors}

    @property
    def arms(self) -> tuple[str, ...]:
        """The arm names (``"on"``, ``"off"``; ``"enhancement=on, loop=off"``...)."""
        return tuple(arm.name for arm in self._plan.arms)

    @property
    def repeats(self) -> int:
        """Blocks per prompt."""
        return self._plan.repeats

    @property
    def concurrency(self) -> int:
        """The most videos in flight at once."""
        return self._plan.concurrency

    def plan(self) -> Plan:
        """The design, without submitting anything: factors, arms, blocks, fixed fields,
        order, and the number of paid submits against the cap. Shows as a table in a
        notebook; its fields (``.order``, ``.submits``, ``.max_submits``...) are the plan."""
        return self._plan

    @property
    def started(self) -> bool:
        """True once the plan is in the session log (the study ran, or was loaded from it)."""
        return self._started

    @property
    def pairs(self) -> tuple[int, ...]:
        """The block numbers (1, 2, ...: prompt by prompt, repeat by repeat)."""
        return self._plan.pairs

    def iteration(self, pair: int, arm: str) -> str:
        """The session-log iteration id of block ``pair`` in ``arm`` (its name or key)."""
        unit = self._plan.unit(pair, arm)
        return self._iterations.get((pair, unit.arm)) or unit.iteration(self.id)

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
        rows = {row["iteration"]: row for row in self.log.to_records()} if self._started else {}
        return {unit: rows.get(self.iteration(unit.pair, unit.arm)) for unit in self._plan.units}

    def records(self) -> list[dict[str, Any]]:
        """One dict per planned video, in block order and arm order within a block.

        Keys :data:`TIDY_COLUMNS`, then ``level_<factor>``, ``slot_<name>`` and any
        measurements of the video (``metric_<name>``...). Videos never submitted are
        included with the state ``"not_submitted"``.
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

        Columns :data:`TIDY_COLUMNS`: the unit (``pair`` — the block —, ``repeat``, ``arm``,
        ``order`` of submission), what was sent, how it went (``state``, ``elapsed``), the
        echoed prompt and how far it is from the prompt sent (``edit_distance`` in
        characters, ``edit_ratio`` 0-1), the rating and note, and where the video is; then
        one ``level_<factor>`` column per factor, ``slot_<name>`` per template slot, and the
        video's measurements (``metric_<name>``...) when the log has them.
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

    def run(
        self,
        client: Client | None = None,
        *,
        max_wait: float | None = None,
        max_submits: int | None = None,
    ) -> Experiment:
        """Run the study, or finish it after an interruption; returns ``self``.

        A study not started yet (``luma_nb.study(..., run=False)``) first checks its budget
        (:class:`~luma_nb.experiment.BudgetExceededError` when its paid submits exceed the
        cap, before any request), then writes its plan to the log, then submits.

        A started study is finished: tasks still running are re-attached (batch polling),
        videos never submitted are submitted (in the planned order, within the concurrency
        bound), finished videos without a local copy are downloaded. Nothing already
        submitted is submitted again: a video whose submit outcome is unknown is reported
        (:meth:`unresolved`), not retried.

        Safe to run in two processes at once (two kernels, two ``resume_experiment`` calls):
        each never-submitted video is claimed in the log by exactly one of them, and the
        other skips it (and says so in an :class:`ExperimentWarning`) rather than paying for
        it twice. Events the log kept in memory after a failed write (a task id) are written
        first; while the disk is still full that ``OSError`` is raised.

        Parameters
        ----------
        client : Client, optional
            Default: the study's client, else the kernel's.
        max_wait : float, optional
            The longest to wait for the next video to finish; past it the run stops with an
            :class:`ExperimentWarning`, and a later ``run()`` re-attaches.
        max_submits : int, optional
            A new cap on the paid submits of this run (default: the study's).
        """
        check_wait(max_wait)
        cap = self._plan.max_submits if max_submits is None else check_max_submits(max_submits)
        if not self._started:
            if cap is not None:
                check_budget(self._plan.submits, cap, experiment=self.id)
            self._plan = replace(self._plan, max_submits=cap)
            api = require_client(client or self._client)
            self._client = api
            write_plan(self.log, self._plan)  # before any submit: the log alone can finish it
            self._started = True
            print(
                f"luma_nb: experiment {self.id}: {budget_sentence(self._plan)}; "
                f"{len(self._plan.prompts)} prompt(s) x {len(self._plan.arms)} arm(s) x "
                f"{self.repeats} repeat(s), seed {self.seed}, at most {self.concurrency} at "
                f"once; logged to {self.log.path}"
            )
            report = run(
                self._plan,
                self.log,
                api,
                todo=self._plan.order,
                max_wait=max_wait,
                keyframes=self._keyframes(),
            )
            self._after(report)
            return self
        self.log.flush()
        rows = self._rows()
        todo = [unit for unit in self._plan.order if rows[unit] is None]
        if cap is not None:
            check_budget(len(todo), cap, experiment=self.id)
        api = require_client(client or self._client)
        self._client = api
        report = RunReport()
        # Re-attach to what runs; download, then measure, what finished without a copy or a
        # measurement (a crash between the two, or an earlier run without the research extra).
        attached, done = catch_up(
            [rows[unit] for unit in self._plan.order], Measurer(self.log, api, report)
        )
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
                keyframes=self._keyframes(),
                report=report,
            )
        self._after(report)
        return self

    def _keyframes(self) -> dict[str, Keyframes]:
        """Each planned video's keyframe URLs, by iteration id (for the start/end match)."""
        sent: dict[str, Keyframes] = {}
        for unit in self._plan.units:
            request = self._plan.request(unit)
            iteration = self.iteration(unit.pair, unit.arm)
            sent[iteration] = (request.start_image_url, request.end_image_url)
        return sent

    def complete(
        self, client: Client | None = None, *, max_wait: float | None = None
    ) -> Experiment:
        """Finish the study after an interruption: the same as :meth:`run`."""
        return self.run(client, max_wait=max_wait)

    def _after(self, report: RunReport) -> None:
        self.last_run = report
        warn_about(self.id, report, lambda: self.counts().get(NOT_SUBMITTED, 0))

    def export_html(
        self, path: str | Path, *, title: str | None = None, embed: bool | None = None
    ) -> Path:
        """Write a standalone HTML report of the study, and return its absolute path.

        It leads with the verdict (a sentence per factor) and the plot, then shows every
        block with its arms side by side — filmstrip, player at the video's own size,
        rating, key measurements, prompt diff — with the details folded away, then all the
        tables. Opens with no kernel and no network: the videos (under the embed cap) and
        the filmstrips are embedded. ``path`` may be a folder (the file is named after the
        study); ``embed`` is as for :func:`luma_nb.report.export_html` (``False`` embeds
        no video, and names a simulated one instead of linking it; the small filmstrips
        are embedded still).
        """
        from luma_nb.experiment._report import export_study_html

        return export_study_html(self, path, title=title, embed=embed)

    # ------------------------------------------------------------------ analysis

    def summary(self, *, level: float = 0.95, paired_by: str = "prompt") -> ExperimentSummary:
        """A verdict per factor, then the numbers per arm.

        Parameters
        ----------
        level : float
            Confidence level of the intervals: Student's t, which stays honest for the
            handful of ratings a study has (a bootstrap would be too narrow there); a mean
            rating's is clipped to the 1-5 scale.
        paired_by : {"prompt", "pair"}
            The unit of comparison within which factors are compared. ``"prompt"``
            (default) averages over a prompt's repeats first, so the units are independent;
            ``"pair"`` treats every block (prompt x repeat) as its own unit. With
            ``repeats=1`` the two are the same.

        Returns
        -------
        ExperimentSummary
            Renders as one sentence per factor, the plot, the measured differences, then
            tables; numbers as attributes
            (``.factors["loop"].p_value``, ``.arms[name].mean_rating``; an enhancement
            study's ``.on``, ``.off``, ``.paired``). A two-level factor: an exact two-sided
            sign test of the paired differences, and their mean with a t-interval; more
            levels: the Friedman test.
        """
        return summarise(
            self.id,
            self.records(),
            arms=self.arms,
            factors=list(self.factors.items()),
            level=level,
            paired_by=paired_by,
        )

    def plot(self, *, level: float = 0.95) -> Figure:
        """The study's plot as a matplotlib figure (the summary shows it as themed SVG).

        Ratings by each factor's levels (units joined, mean with its t-interval) and the
        generation time per arm; once the videos are measured, each factor's effect on every
        measurement (in standard deviations of each) and, from five rated videos, each
        measurement's agreement with the ratings. Needs matplotlib
        (``pip install "luma_nb[research]"``).
        """
        return self.summary(level=level).figure()

    # ------------------------------------------------------------------ looking

    def review(self, *, embed: bool | None = None) -> BlindReview:
        """A blind review grid: arms hidden, order shuffled, a 1-5 rating per video.

        A two-arm study shows each pair side by side as A and B (assigned per pair by a
        seeded draw); a study of more arms shows every video on its own, in a seeded
        shuffled order across blocks and arms. Both are the same every time, also after a
        restart. Save writes a rating to the session log; a progress line counts them;
        Reveal (after a confirmation) shows each video's arm. Needs ipywidgets.
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
                start_image_url=row.get("start_image_url"),
                end_image_url=row.get("end_image_url"),
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
                labels.append(f"pair {unit.pair} · {self._plan.arm(unit.arm).words()}")
        return grid(videos, labels, columns=columns, embed=embed)

    def rate(self, pair: int, arm: str, stars: int, note: str | None = None) -> None:
        """Rate the video of block ``pair`` in ``arm`` (name or key) from 1 to 5 (written to
        the session log)."""
        self.log.rate(self.iteration(pair, arm), stars, note)

    def text(self) -> str:
        """One line about the study."""
        return status_text(self._plan, self.counts(), self.log.path, started=self._started)

    def __repr__(self) -> str:
        return self.text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def _repr_html_(self) -> str:
        return status_html(self._plan, self.counts(), self.log.path, started=self._started)
