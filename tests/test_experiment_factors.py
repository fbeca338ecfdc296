"""The analysis per factor (sign test, mean difference, Friedman), the verdicts, the blind
review of a study of more than two arms, its plot, and the seam for measured columns."""

from __future__ import annotations

import math
import random
import re
import shutil
import statistics
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _experimenttools import make_client

import luma_nb
from luma_nb.experiment import Experiment, FriedmanTest, PairedComparison
from luma_nb.experiment._effects import compare
from luma_nb.experiment._plan import new_plan
from luma_nb.experiment._records import columns, tidy_record
from luma_nb.experiment._stats import chi2_sf, friedman, midranks
from luma_nb.experiment._summary import summarise
from luma_nb.simulator import Simulator, VirtualClock

# ----------------------------------------------------------------------------- chi-square, Friedman

# Published critical values of the chi-square distribution (upper tail p, df, value).
CHI2_TABLE = [
    (0.05, 1, 3.841459),
    (0.05, 2, 5.991465),
    (0.01, 2, 9.210340),
    (0.05, 3, 7.814728),
    (0.01, 4, 13.276704),
    (0.05, 10, 18.307038),
    (0.001, 5, 20.515006),
]


@pytest.mark.parametrize(("p", "df", "value"), CHI2_TABLE)
def test_chi2_sf_matches_the_tables(p: float, df: int, value: float) -> None:
    assert chi2_sf(value, df) == pytest.approx(p, rel=1e-5)


def test_chi2_sf_matches_scipy_and_closed_forms() -> None:
    stats = pytest.importorskip("scipy.stats")
    for df in (1, 2, 3, 5, 9, 30):
        for x in (0.0, 0.01, 0.5, 1.0, 2.5, 7.0, 15.0, 40.0, 120.0):
            assert chi2_sf(x, df) == pytest.approx(float(stats.chi2.sf(x, df)), rel=1e-9, abs=1e-15)
    # df = 2 is the exponential distribution: P(X >= x) = exp(-x / 2).
    assert chi2_sf(6.0, 2) == pytest.approx(math.exp(-3.0), rel=1e-12)
    with pytest.raises(ValueError, match="degrees"):
        chi2_sf(1.0, 0)


def test_midranks_share_tied_ranks() -> None:
    assert midranks([3, 1, 2]) == [3.0, 1.0, 2.0]
    assert midranks([5, 5, 1, 5]) == [3.0, 3.0, 1.0, 3.0]
    assert midranks([]) == []


def test_friedman_by_hand() -> None:
    # Every block ranks the three treatments the same way: rank sums n, 2n, 3n, so the
    # statistic is 12/(n k (k+1)) * 14 n^2 - 3 n (k+1) = 2n, the largest possible, and with
    # df = 2 its p-value is exp(-n).
    statistic, p = friedman([[1, 2, 3]] * 6)
    assert statistic == pytest.approx(12.0)
    assert p == pytest.approx(math.exp(-6.0))
    # Every block tied throughout: no evidence of any difference (scipy gives nan here).
    assert friedman([[3, 3, 3], [4, 4, 4]]) == (0.0, 1.0)
    with pytest.raises(ValueError, match="k >= 3"):
        friedman([[1, 2]])


def test_friedman_matches_scipy_with_and_without_ties() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(12)
    checked = 0
    for _ in range(300):
        k = rng.randint(3, 6)
        n = rng.randint(2, 12)
        if rng.random() < 0.5:
            blocks = [[float(rng.randint(1, 5)) for _ in range(k)] for _ in range(n)]  # ties
        else:
            blocks = [[rng.random() for _ in range(k)] for _ in range(n)]
        if all(len(set(block)) == 1 for block in blocks):
            continue
        expected = stats.friedmanchisquare(*zip(*blocks, strict=True))
        statistic, p = friedman(blocks)
        assert statistic == pytest.approx(float(expected.statistic), rel=1e-9, abs=1e-12)
        assert p == pytest.approx(float(expected.pvalue), rel=1e-7, abs=1e-14)
        checked += 1
    assert checked > 250


# ----------------------------------------------------------------------------- effects on records


def _records(cells: dict[tuple[int, str], list[float]], factor: str = "f") -> list[dict[str, Any]]:
    """Tidy-like records: (prompt index, level) -> the ratings of its arms."""
    records = []
    for (prompt, label), ratings in cells.items():
        for rating in ratings:
            records.append(
                {
                    "prompt_index": prompt,
                    "pair": prompt + 1,
                    "arm": label,
                    f"level_{factor}": label,
                    "rating": rating,
                    "state": "completed",
                    "elapsed": 1.0,
                    "prompt_changed": False,
                    "edit_distance": 0,
                    "edit_ratio": 0.0,
                }
            )
    return records


def test_a_two_level_factor_has_a_mean_difference_with_its_interval() -> None:
    on = [5, 4, 5, 4, 5, 4]
    off = [3, 3, 4, 4, 2, 4]
    cells = {(i, "on"): [on[i]] for i in range(6)} | {(i, "off"): [off[i]] for i in range(6)}
    effect = compare(_records(cells), "f", ["on", "off"], bounds=(-4.0, 4.0))
    assert isinstance(effect, PairedComparison)
    differences = [a - b for a, b in zip(on, off, strict=True)]
    half = 2.570581836 * statistics.stdev(differences) / math.sqrt(6)  # t(0.975, 5)
    mean = statistics.fmean(differences)
    assert effect.mean_difference == pytest.approx(mean)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((mean - half, mean + half), abs=1e-8)
    assert (effect.first_better, effect.second_better, effect.ties) == (4, 0, 2)
    assert effect.p_value == 0.125  # 2 / 2**4
    sentence = effect.sentence()
    assert sentence.startswith(
        "f: on rated 1.17 higher than off on average (95% CI -0.06 to +2.39)"
    )
    assert "sign test p = 0.125, n = 6 prompts (on better in 4, off in 0, 2 ties)." in sentence


def test_a_degenerate_interval_is_reported_as_such() -> None:
    cells = {(i, "on"): [4.0] for i in range(3)} | {(i, "off"): [3.0] for i in range(3)}
    effect = compare(_records(cells), "f", ["on", "off"])
    assert isinstance(effect, PairedComparison) and effect.no_spread
    sentence = effect.sentence()
    assert "no spread: every prompt differs by exactly +1.00" in sentence
    assert "1.00 to 1.00" not in sentence and "+1.00 to +1.00" not in sentence
    # The arms' own intervals too: all ratings equal is "no spread", not "4.00 to 4.00".
    summary = summarise("x", _records(cells), arms=["on", "off"], factors=[("f", ["on", "off"])])
    html, text = summary._repr_html_(), summary.text()
    assert "no spread (all 3 ratings 4)" in html and "4.00 to 4.00" not in html
    assert "no spread (all 3 ratings equal)" in text and "4.00 to 4.00" not in text
    one = compare(_records({(0, "on"): [4.0], (0, "off"): [2.0]}), "f", ["on", "off"])
    assert "no interval from 1 prompt" in one.sentence()


def test_a_three_level_factor_gets_the_friedman_test() -> None:
    stats = pytest.importorskip("scipy.stats")
    table = {0: (4, 3, 1), 1: (5, 3, 2), 2: (4, 4, 2), 3: (3, 5, 1)}
    levels = ["16:9", "9:16", "1:1"]
    cells = {(p, levels[j]): [float(v)] for p, row in table.items() for j, v in enumerate(row)}
    effect = compare(_records(cells, "aspect_ratio"), "aspect_ratio", levels)
    assert isinstance(effect, FriedmanTest)
    expected = stats.friedmanchisquare(*zip(*table.values(), strict=True))
    assert effect.statistic == pytest.approx(float(expected.statistic))
    assert effect.p_value == pytest.approx(float(expected.pvalue))
    assert effect.units == 4 and effect.df == 2
    assert effect.means == pytest.approx({"16:9": 4.0, "9:16": 3.75, "1:1": 1.5})
    sentence = effect.sentence()
    assert sentence.startswith("aspect_ratio: 16:9 rated highest (mean 4.00), 1:1 lowest (1.50)")
    assert f"p = {effect.p_value:.4g}, n = 4 prompts." in sentence
    # A unit missing a level is left out of the test; with none complete, it says so.
    partial = compare(_records({(0, "16:9"): [3.0], (0, "1:1"): [2.0]}, "a"), "a", levels)
    assert isinstance(partial, FriedmanTest) and partial.units == 0
    assert partial.sentence() == "a: no prompt is rated at all 3 levels yet."


def test_repeats_are_averaged_within_a_prompt_or_kept_as_blocks() -> None:
    records = _records({(0, "on"): [5.0, 1.0], (0, "off"): [3.0, 3.0]})
    for number, record in enumerate(records):
        record["pair"] = 1 + number % 2  # two blocks of one prompt
    by_prompt = compare(records, "f", ["on", "off"])
    by_block = compare(records, "f", ["on", "off"], paired_by="pair")
    assert by_prompt.units == 1 and by_block.units == 2
    assert "n = 2 blocks" in by_block.sentence()


def test_the_summary_leads_with_a_verdict_per_factor() -> None:
    cells = {(i, "on"): [4.0 + (i % 2)] for i in range(4)} | {(i, "off"): [3.0] for i in range(4)}
    summary = summarise("x", _records(cells), arms=["on", "off"], factors=[("f", ["on", "off"])])
    html = summary._repr_html_()
    verdict = html.index('<ul class="luma-nb-verdicts">')
    assert verdict < html.index("<table")
    assert summary.verdicts() == [summary.factors["f"].sentence()]
    assert summary.text().splitlines()[1].startswith("  f: on rated 1.50 higher than off")
    assert summary.paired is summary.factors["f"]


def test_measured_columns_are_compared_like_ratings() -> None:
    """The seam for the video metrics: any numeric metric_<name> column is analysed."""
    records = _records({(i, lvl): [3.0] for i in range(3) for lvl in ("on", "off")})
    for record in records:
        record["metric_motion"] = 0.30 if record["level_f"] == "on" else 0.10
        record["metric_broken"] = "n/a"  # not a number: not a measurement
    summary = summarise("x", records, arms=["on", "off"], factors=[("f", ["on", "off"])])
    assert list(summary.metrics) == ["metric_motion"]
    motion = summary.metrics["metric_motion"]["f"]
    assert isinstance(motion, PairedComparison)
    assert motion.mean_difference == pytest.approx(0.2) and motion.first_better == 3
    sentence = motion.sentence()
    assert "motion 0.2 higher with on than with off" in sentence
    assert "no spread: every prompt differs by exactly +0.2" in sentence  # not "0.2 to 0.2"
    assert "(higher with on in 3, with off in 0)" in sentence  # a measure is not "better"
    assert "Measurements by factor" in summary._repr_html_()
    assert sentence in summary.text() and "metric_" not in summary.text()


def test_a_log_row_measurements_reach_the_tidy_records() -> None:
    plan = new_plan(
        ["a kite"], repeats=1, concurrency=1, seed=1, params={}, factors={"loop": [True, False]}
    )
    unit = plan.units[0]
    row: dict[str, Any] = dict.fromkeys(["state", "prompt", "echoed_prompt"])
    row.update(state="completed", metric_motion=0.4, fps=24.0, frames=120, metric_cuts=0)
    record = tidy_record(plan, unit, row, order=1, iteration="x")
    assert (record["metric_motion"], record["fps"], record["frames"]) == (0.4, 24.0, 120)
    assert record["level_loop"] == "on" and record["loop"] is True
    order = columns([record])
    assert order[-5:] == ["level_loop", "fps", "frames", "metric_cuts", "metric_motion"]


def test_the_order_is_randomised_across_and_within_blocks() -> None:
    firsts, block_orders = set(), set()
    for seed in range(20):
        plan = new_plan(
            ["a", "b", "c"],
            repeats=1,
            concurrency=1,
            seed=seed,
            params={},
            factors={"aspect_ratio": ["16:9", "9:16", "1:1"]},
        )
        order = plan.order
        blocks = [order[i : i + 3] for i in range(0, 9, 3)]
        assert all(len({u.pair for u in block}) == 1 for block in blocks)  # blocks held together
        assert all({u.arm for u in block} == {"16:9", "9:16", "1:1"} for block in blocks)
        firsts.add(order[0].arm)
        block_orders.add(tuple(block[0].pair for block in blocks))
    assert len(firsts) == 3 and len(block_orders) >= 4


# ----------------------------------------------------------------------------- a study of 6 arms

LEVELS = {"aspect_ratio": ["16:9", "9:16", "1:1"], "loop": [True, False]}
PROMPTS = ["a red kite over green hills", "a fox in the snow"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Experiment]:
    tmp_path = tmp_path_factory.mktemp("factors")
    sim = Simulator(clock=VirtualClock(), seed=3)
    try:
        yield luma_nb.study(
            PROMPTS,
            factors=LEVELS,
            seed=31,
            client=make_client(sim, tmp_path),
            session=luma_nb.SessionLog(tmp_path / "s.jsonl"),
        )
    finally:
        sim.close()


@pytest.fixture
def study(finished: Experiment, tmp_path: Path) -> Experiment:
    copy = tmp_path / "copy.jsonl"
    shutil.copyfile(finished.log.path, copy)
    return Experiment.load(copy, finished.id)


def test_more_arms_are_reviewed_one_video_at_a_time(study: Experiment) -> None:
    pytest.importorskip("ipywidgets")
    review = study.review()
    assert review.pairs == [] and len(review.singles) == len(review.cards) == 12
    assert [s.number for s in review.singles] == list(range(1, 13))
    rows = {row["iteration"]: row for row in study.log.to_records()}
    for single in review.singles:
        html = single.card.player.value
        row = rows[single.card.iteration]
        assert "<video" in html and f"Video {single.number}" in html
        assert row["prompt"] not in html and row["arm"] not in html
        words = re.sub(r'data:[^"]*', "", html).lower()  # not the bytes of the clip
        assert "loop" not in words and "aspect" not in words and single.reveal.value == ""
        assert single.prompt == row["prompt"]  # no slot factor: the block's prompt is shared
    # Shuffled across blocks and arms, and the same after a restart.
    blocks = [s.pair for s in review.singles]
    assert blocks != sorted(blocks) and blocks != sorted(blocks, reverse=True)
    reloaded = Experiment.load(study.log.path, study.id).review()
    assert [s.card.iteration for s in reloaded.singles] == [
        s.card.iteration for s in review.singles
    ]
    assert review.progress_text() == "0 of 12 rated"
    for single in review.singles[:4]:
        single.card.rating.value = 3
        single.card.save_button.click()
    assert review.progress_text() == "4 of 12 rated"
    assert "4 of 12 videos rated, arms hidden" in review._snapshot_html()
    review.reveal_button.click()
    assert not review.revealed and "8 video(s) are not rated yet" in review.confirm_text.value
    review.confirm_button.click()
    assert review.revealed
    for single in review.singles:
        row = rows[single.card.iteration]
        words = f"aspect_ratio {row['aspect_ratio']}, loop {'on' if row['loop'] else 'off'}"
        assert single.reveal_text() == words and words in single.reveal.value
    assert review.singles[0].reveal_text() in review._snapshot_text()


def test_a_study_of_two_factors_summarises_and_plots_each(
    study: Experiment, tmp_path: Path
) -> None:
    stats = pytest.importorskip("scipy.stats")
    scores = {"16:9": 4, "9:16": 3, "1:1": 2}
    for unit in study.plan().units:
        arm = study.plan().arm(unit.arm)
        bonus = 1 if arm.label("loop") == "on" and unit.pair == 1 else 0
        study.rate(unit.pair, unit.arm, scores[arm.label("aspect_ratio")] - unit.pair + 1 + bonus)
    summary = study.summary()
    ratio, loop = summary.factors["aspect_ratio"], summary.factors["loop"]
    assert isinstance(ratio, FriedmanTest) and isinstance(loop, PairedComparison)
    # Each prompt's mean rating at each ratio (loop averaged out), ranked within the prompt.
    frame = [[4.5, 3.5, 2.5], [3.0, 2.0, 1.0]]
    expected = stats.friedmanchisquare(*zip(*frame, strict=True))
    assert ratio.statistic == pytest.approx(float(expected.statistic))
    assert ratio.means == pytest.approx({"16:9": 3.75, "9:16": 2.75, "1:1": 1.75})
    assert (loop.first_better, loop.ties) == (1, 1)
    assert len(summary.verdicts()) == 2 and len(summary.arms) == 6
    assert "loop=on" in summary.arms["aspect_ratio=16:9, loop=on"].arm
    with pytest.raises(luma_nb.ValidationError, match="3 levels"):
        _ = luma_nb.experiment.ExperimentSummary(
            experiment="x", arms={}, factors={"r": ratio}, level=0.95, metrics={}
        ).paired
    pytest.importorskip("matplotlib")
    figure = study.plot()
    ratio_axes, loop_axes, latency = figure.axes[:3]  # then the measurements' row
    assert "Friedman" in ratio_axes.get_title() and "sign test" in loop_axes.get_title()
    assert [t.get_text() for t in ratio_axes.get_xticklabels()] == ["16:9", "9:16", "1:1"]
    assert latency.get_ylabel().startswith("seconds")
    figure.savefig(tmp_path / "plot.png")
    page = study.export_html(tmp_path / "study.html").read_text(encoding="utf-8")
    assert "Friedman chi-square" in page and page.count("<video") == 12


def test_hostile_labels_are_escaped_and_never_mathtext(tmp_path: Path) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    math_text = r"$\frac{$"
    plan = new_plan(
        ["a kite"],
        repeats=1,
        concurrency=1,
        seed=1,
        params={},
        factors={"loop": {hostile: True, math_text: False}},
    )
    assert hostile not in plan._repr_html_() and "&lt;img" in plan._repr_html_()
    cells = {(i, hostile): [4.0] for i in range(2)} | {(i, math_text): [3.0] for i in range(2)}
    records = _records(cells, "loop")
    summary = summarise(
        "x", records, arms=[hostile, math_text], factors=[("loop", [hostile, math_text])]
    )
    assert hostile not in summary._repr_html_() and "&lt;img" in summary._repr_html_()
    pytest.importorskip("matplotlib")
    from luma_nb.experiment._plot import plot_experiment

    figure = plot_experiment(records, summary, {"loop": [hostile, math_text]}, title="a $x^$ b")
    figure.savefig(tmp_path / "plot.png")  # renders: "$" is not mathtext
