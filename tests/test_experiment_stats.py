"""The statistics of a study, checked against hand computations on a hand-made log."""

from __future__ import annotations

import math
import statistics
import sys
from pathlib import Path

import pytest

import luma_nb
from luma_nb.errors import ConfigError, ValidationError
from luma_nb.experiment import Experiment
from luma_nb.experiment._stats import (
    edit_distance,
    edit_ratio,
    sign_test,
    t_cdf,
    t_interval,
    t_quantile,
)
from luma_nb.models import Task, TaskState, Video, VideoRequest

# Published two-sided 95 % (and one 90 %) critical values of Student's t.
T_TABLE = [
    (0.975, 1, 12.706204736),
    (0.975, 2, 4.302652730),
    (0.975, 4, 2.776445105),
    (0.975, 9, 2.262157163),
    (0.975, 29, 2.045229642),
    (0.975, 120, 1.979930405),
    (0.95, 5, 2.015048373),
]


@pytest.mark.parametrize(("p", "df", "expected"), T_TABLE)
def test_t_quantile_matches_the_tables(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-8)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=1e-8)
    assert t_cdf(expected, df) == pytest.approx(p, abs=1e-10)


def test_t_distribution_edges() -> None:
    assert t_quantile(0.5, 3) == 0.0
    assert t_cdf(0.0, 7) == 0.5
    # df = 1 is the Cauchy distribution: closed form.
    assert t_cdf(1.0, 1) == pytest.approx(0.75, abs=1e-12)
    with pytest.raises(ValueError, match="p must"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="degrees"):
        t_cdf(1.0, 0)


def test_t_interval_by_hand() -> None:
    values = [5, 4, 5, 4, 5, 4, 5, 4, 3, 3]
    low, high = t_interval(values, 0.95)  # type: ignore[misc]
    half = 2.262157163 * statistics.stdev(values) / math.sqrt(10)
    assert (low, high) == pytest.approx((4.2 - half, 4.2 + half), abs=1e-8)
    assert t_interval([4], 0.95) is None  # one rating: no spread to estimate
    assert t_interval([3, 3, 3], 0.95) == (3.0, 3.0)
    # Clipped to the scale: a mean of ratings cannot leave 1..5.
    clipped = t_interval([5, 5, 4], 0.95, bounds=(1.0, 5.0))
    assert clipped is not None and clipped[1] == 5.0
    assert t_interval([1, 2, 3, 4, 5], 0.99)[0] < t_interval([1, 2, 3, 4, 5], 0.9)[0]  # type: ignore[index]


def test_sign_test_exact_p_values() -> None:
    # 8 of 9 untied pairs favour one arm: 2 * (C(9,8) + C(9,9)) / 2**9.
    assert sign_test(8, 1) == 2 * (math.comb(9, 8) + math.comb(9, 9)) / 2**9 == 0.0390625
    assert sign_test(1, 8) == 0.0390625
    assert sign_test(0, 0) == 1.0
    assert sign_test(3, 3) == 1.0  # capped at 1
    assert sign_test(5, 0) == 0.0625
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    with pytest.raises(ValueError, match="wins"):
        sign_test(-1, 2)


def test_edit_distance() -> None:
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance("", "abc") == 3
    assert edit_distance("same", "same") == 0
    assert edit_distance("a boat", "a boat, golden hour") == 13
    assert edit_distance("flaw", "lawn") == 2
    assert edit_ratio("abc", "abc") == 0.0
    assert edit_ratio("", "") == 0.0
    assert edit_ratio("abcd", "wxyz") == 1.0


# ----------------------------------------------------------------------------- hand-made log

ON = [5, 4, 5, 4, 5, 4, 5, 4, 3, 3]
OFF = [3, 3, 4, 3, 4, 2, 4, 3, 4, 3]  # on better in 8 pairs, off in 1, one tie
LATENCY = {"on": [100.0, 120.0, 140.0], "off": [90.0, 95.0, 200.0]}


def _hand_made(tmp_path: Path) -> luma_nb.SessionLog:
    """Ten pairs, rated by hand; the on arm echoes an enhanced prompt."""
    log = luma_nb.SessionLog(tmp_path / "hand.jsonl")
    for pair in range(1, 11):
        prompt = f"prompt {pair}"
        for arm, ratings in (("on", ON), ("off", OFF)):
            request = VideoRequest(prompt=prompt, enhancement=arm == "on")
            it = log.begin(
                request, backend="simulator", experiment="hand", arm=arm, tags=[f"pair:{pair}"]
            )
            echoed = prompt + ", golden hour" if arm == "on" else prompt
            task_id = f"t-{pair}-{arm}"
            elapsed = LATENCY[arm][(pair - 1) % 3]
            log.submitted(
                it,
                Task(
                    id=task_id,
                    state=TaskState.COMPLETED,
                    elapsed=elapsed,
                    video=Video(task_id, f"https://cdn.example/{task_id}.mp4", prompt=echoed),
                ),
            )
            log.rate(it, ratings[pair - 1])
    return log


def test_summary_numbers_on_a_hand_made_log(tmp_path: Path) -> None:
    study = Experiment.load(_hand_made(tmp_path), "hand")
    summary = study.summary()
    on, off = summary.on, summary.off
    assert (on.planned, on.completed, on.failed, on.success_rate) == (10, 10, 0, 1.0)
    assert on.mean_rating == pytest.approx(4.2)
    assert off.mean_rating == pytest.approx(3.3)
    half = 2.262157163 * statistics.stdev(ON) / math.sqrt(10)
    assert (on.ci_low, on.ci_high) == pytest.approx((4.2 - half, 4.2 + half), abs=1e-8)
    assert off.ci_low < off.mean_rating < off.ci_high  # type: ignore[operator]
    # Latency: pairs 1..10 cycle through the three values: 4, 3, 3 of them.
    assert on.median_latency == statistics.median([100.0] * 4 + [120.0] * 3 + [140.0] * 3)
    assert off.median_latency == 95.0
    assert on.prompt_changed_rate == 1.0 and off.prompt_changed_rate == 0.0
    assert on.median_edit_distance == 13 and off.median_edit_distance == 0
    paired = summary.paired
    assert (paired.units, paired.on_better, paired.off_better, paired.ties) == (10, 8, 1, 1)
    assert paired.p_value == 0.0390625
    assert paired.median_difference == 1.0
    assert summary.paired.test.startswith("sign test")


def test_summary_renders_and_converts(tmp_path: Path) -> None:
    study = Experiment.load(_hand_made(tmp_path), "hand")
    summary = study.summary(level=0.9)
    html = summary._repr_html_()
    assert "<table" in html and "sign test" in html and "90% CI" in html
    assert "p = 0.03906" in html
    assert "4.20" in repr(summary)
    pytest.importorskip("pandas")
    frame = summary.to_dataframe()
    assert list(frame.index) == ["on", "off"]
    assert frame.loc["on", "mean_rating"] == pytest.approx(4.2)


def test_summary_without_ratings_or_videos(tmp_path: Path) -> None:
    log = luma_nb.SessionLog(tmp_path / "x.jsonl")
    log.begin(VideoRequest(prompt="p", enhancement=True), backend="api", experiment="e", arm="on")
    study = Experiment.load(log, "e")
    summary = study.summary()
    assert summary.on.mean_rating is None and summary.on.ci_low is None
    assert summary.on.success_rate is None and summary.on.unresolved == 1
    assert summary.off.not_submitted == 1
    assert summary.paired.units == 0 and summary.paired.p_value == 1.0
    assert "enhancement: no prompt is rated at both levels (on, off) yet." in summary.text()
    html = summary._repr_html_()
    # Rows that say nothing are left out: no ratings, nothing failed or running.
    for empty in ("Failed", "Running", "Mean rating", "Rated<", "Completed"):
        assert f"<th>{empty}" not in html, empty
    assert "<th>Outcome unknown</th><td>1</td><td>0</td>" in html


def test_paired_by_prompt_averages_the_repeats(tmp_path: Path) -> None:
    log = luma_nb.SessionLog(tmp_path / "r.jsonl")
    # One prompt, three repeats: on wins twice, loses once; by prompt it is one unit.
    for pair, (on, off) in enumerate([(5, 3), (4, 3), (1, 5)], start=1):
        for arm, stars in (("on", on), ("off", off)):
            it = log.begin(
                VideoRequest(prompt="same", enhancement=arm == "on"),
                backend="api",
                experiment="rep",
                arm=arm,
                tags=[f"pair:{pair}", f"repeat:{pair}"],
            )
            log.rate(it, stars)
    study = Experiment.load(log, "rep")
    assert study.repeats == 3
    by_pair = study.summary(paired_by="pair").paired
    assert (by_pair.units, by_pair.on_better, by_pair.off_better) == (3, 2, 1)
    by_prompt = study.summary().paired
    assert by_prompt.unit == "prompt"
    # Means 10/3 vs 11/3: one unit, off better.
    assert (by_prompt.units, by_prompt.on_better, by_prompt.off_better) == (1, 0, 1)
    with pytest.raises(ValidationError):
        study.summary(paired_by="video")
    with pytest.raises(ValidationError):
        study.summary(level=95)  # type: ignore[arg-type]


def test_plot_draws_ratings_and_latency(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    figure = Experiment.load(_hand_made(tmp_path), "hand").plot()
    ratings, latency = figure.axes
    assert "sign test" in ratings.get_title()
    assert latency.get_ylabel().startswith("seconds")
    figure.savefig(tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 1000


def test_plot_without_matplotlib_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ConfigError, match=r"luma_nb\[research\]"):
        Experiment.load(_hand_made(tmp_path), "hand").plot()
