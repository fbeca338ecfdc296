"""Studies: prompts x any request fields (and prompt variants), compared fairly and blind.

>>> import luma_nb  # doctest: +SKIP
>>> study = luma_nb.study(  # doctest: +SKIP
...     ["a paper boat in the rain", "a fox at dawn"],
...     factors={"enhancement": [True, False], "loop": [True, False]},
...     seed=1,
...     run=False,
... )
>>> study.plan()  # the design and its paid submits, against max_submits  # doctest: +SKIP
>>> study.run()  # doctest: +SKIP
>>> study.review()  # blind: arms hidden, order shuffled; ratings go to the log  # doctest: +SKIP
>>> study.summary()  # a verdict per factor, the plot, what was measured  # doctest: +SKIP
>>> study.to_dataframe()  # tidy: one row per video, with metric_* columns  # doctest: +SKIP
>>> study.export_html("study.html")  # the report: verdict first  # doctest: +SKIP

Every downloaded video is measured (:mod:`luma_nb.video_metrics`) into the log as it finishes.
``compare_enhancement(prompts)`` is the preset ``factors={"enhancement": [True, False]}``.
After a kernel restart, ``resume_experiment(study_id)`` re-attaches to running videos and
submits only those never submitted. The design and the statistics are explained in
``docs/experiments.md``. Nothing heavy is imported here: pandas, ipywidgets and matplotlib
load only when a method needs them.
"""

from __future__ import annotations

from luma_nb.experiment._agreement import Agreement
from luma_nb.experiment._budget import DEFAULT_MAX_SUBMITS, BudgetExceededError
from luma_nb.experiment._context import ExperimentWarning
from luma_nb.experiment._effects import FriedmanTest, PairedComparison
from luma_nb.experiment._experiment import TIDY_COLUMNS, Experiment
from luma_nb.experiment._plan import Plan
from luma_nb.experiment._run import RunReport
from luma_nb.experiment._study import compare_enhancement, resume_experiment, study
from luma_nb.experiment._summary import ArmSummary, ExperimentSummary
from luma_nb.experiment._template import PromptTemplate

__all__ = [
    "DEFAULT_MAX_SUBMITS",
    "TIDY_COLUMNS",
    "Agreement",
    "ArmSummary",
    "BudgetExceededError",
    "Experiment",
    "ExperimentSummary",
    "ExperimentWarning",
    "FriedmanTest",
    "PairedComparison",
    "Plan",
    "PromptTemplate",
    "RunReport",
    "compare_enhancement",
    "resume_experiment",
    "study",
]
