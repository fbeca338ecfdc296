"""Enhancement studies: the same prompts with ``enhancement`` on and off, compared fairly.

>>> from luma_nb.experiment import compare_enhancement  # doctest: +SKIP
>>> prompts = ["a paper boat in the rain", "a fox at dawn"]
>>> study = compare_enhancement(prompts, seed=1)  # doctest: +SKIP
>>> study.review()  # blind A/B grid; ratings go to the session log  # doctest: +SKIP
>>> study.summary()  # per arm, with a t-interval; a sign test  # doctest: +SKIP
>>> study.to_dataframe()  # tidy: one row per video  # doctest: +SKIP

After a kernel restart, ``resume_experiment(study_id)`` re-attaches to running videos and
submits only those never submitted. The design and the statistics are explained in
``docs/experiments.md``. Nothing heavy is imported here: pandas, ipywidgets and matplotlib
load only when a method needs them.
"""

from __future__ import annotations

from luma_nb.experiment._context import ExperimentWarning
from luma_nb.experiment._experiment import TIDY_COLUMNS, Experiment
from luma_nb.experiment._run import RunReport
from luma_nb.experiment._study import compare_enhancement, resume_experiment
from luma_nb.experiment._summary import ArmSummary, ExperimentSummary, PairedComparison

__all__ = [
    "TIDY_COLUMNS",
    "ArmSummary",
    "Experiment",
    "ExperimentSummary",
    "ExperimentWarning",
    "PairedComparison",
    "RunReport",
    "compare_enhancement",
    "resume_experiment",
]
