"""The summary of measured studies: metrics compared like ratings, their agreement with the
ratings (Spearman, checked against scipy), the prompts' rewriting per arm, tables without
empty rows, and the plot as themed inline SVG."""

from __future__ import annotations

import random
import re
from html.parser import HTMLParser
from typing import Any

import pytest

from luma_nb.experiment import _stats
from luma_nb.experiment._agreement import MIN_VIDEOS, agreement
from luma_nb.experiment._effects import PairedComparison
from luma_nb.experiment._figure import INK
from luma_nb.experiment._summary import summarise

SENT = "a kite over green hills"
ECHO = "a kite over green hills, slow push-in, golden hour light"


def _records(
    n_prompts: int = 6, *, ratings: bool = True, seed: int = 0, label: str = "on"
) -> list[dict[str, Any]]:
    """Tidy-like records of a two-arm study (``label`` vs off), measured, on the simulator."""
    rng = random.Random(seed)
    records = []
    for prompt in range(n_prompts):
        for arm in (label, "off"):
            on = arm == label
            records.append(
                {
                    "prompt_index": prompt,
                    "pair": prompt + 1,
                    "arm": arm,
                    "level_f": arm,
                    "rating": (4 if on else 3) + rng.choice([0, 1]) if ratings else None,
                    "state": "completed",
                    "elapsed": 120.0 + prompt,
                    "backend": "simulator",
                    "prompt": SENT,
                    "echoed_prompt": ECHO if on else SENT,
                    "prompt_changed": on,
                    "edit_distance": len(ECHO) - len(SENT) if on else 0,
                    "edit_ratio": 0.3 if on else 0.0,
                    "metric_motion": (2.0 if on else 1.0) + rng.uniform(0, 0.5),
                    "metric_loop_seam": 5.0 + rng.uniform(0, 1),
                    "metric_cuts": 0,
                    "metric_start_match": None,
                }
            )
    return records


def _summary(records: list[dict[str, Any]], label: str = "on") -> Any:
    return summarise("exp-x", records, arms=[label, "off"], factors=[("f", [label, "off"])])


class _Text(HTMLParser):
    """The visible text of markup (no <style>, no SVG)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "svg"):
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "svg"):
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def _visible(markup: str) -> str:
    parser = _Text()
    parser.feed(markup)
    return " ".join(parser.parts)


# ----------------------------------------------------------------------------- Spearman


@pytest.mark.parametrize("seed", range(6))
def test_spearman_matches_scipy_with_ties(seed: int) -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(seed)
    n = rng.randint(5, 30)
    ratings = [float(rng.randint(1, 5)) for _ in range(n)]  # ties, as ratings have
    values = [rng.choice([0.5, 1.0, 1.5]) + 0.3 * r * rng.random() for r in ratings]
    expected = stats.spearmanr(values, ratings)
    rho, p_value = _stats.spearman(values, ratings)  # type: ignore[misc]
    assert rho == pytest.approx(float(expected.statistic), abs=1e-12)
    assert p_value == pytest.approx(float(expected.pvalue), rel=1e-9, abs=1e-12)


def test_spearman_is_undefined_without_an_order() -> None:
    assert _stats.spearman([1.0, 2.0], [2.0, 1.0]) is None  # fewer than three
    assert _stats.spearman([1.0, 1.0, 1.0, 1.0], [1.0, 2.0, 3.0, 4.0]) is None  # constant
    assert _stats.spearman([1.0, 2.0, 3.0], [3.0, 5.0, 9.0]) == (1.0, 0.0)
    with pytest.raises(ValueError, match="same length"):
        _stats.spearman([1.0], [1.0, 2.0])


def test_agreement_needs_enough_rated_measured_videos() -> None:
    records = _records(2)  # 4 rated videos
    found = agreement(records, "metric_motion")
    assert found.rho is None and found.n == 4
    assert f"at least {MIN_VIDEOS} rated, measured videos; 4 so far" in found.sentence()
    records = _records(3)
    found = agreement(records, "metric_motion")
    assert found.n == 6 and found.rho is not None and found.rho > 0.5
    assert re.fullmatch(
        r"motion: Spearman rho = \+0\.\d\d with the ratings \(p = [0-9.e-]+, n = 6 videos\)\.",
        found.sentence(),
    )
    constant = agreement(records, "metric_cuts")
    assert constant.rho is None and "same measurement" in (constant.reason or "")
    unrated = agreement(_records(4, ratings=False), "metric_motion")
    assert unrated.n == 0 and unrated.rho is None


# ----------------------------------------------------------------------------- the summary


def test_metrics_are_compared_like_ratings_with_a_sentence_each() -> None:
    summary = _summary(_records())
    motion = summary.metrics["metric_motion"]["f"]
    assert isinstance(motion, PairedComparison) and motion.first_better == 6
    verdicts = summary.metric_verdicts()
    # Largest (in standard deviations) first; a measurement equal everywhere says nothing.
    assert verdicts[0].startswith("f: motion ") and "higher with on than with off" in verdicts[0]
    assert not any("scene cuts" in sentence for sentence in verdicts)
    assert summary.constant_metrics() == {"metric_cuts": 0.0}
    assert "metric_start_match" not in summary.metrics  # never measured: not a column
    text = summary.text()
    assert "The same in every measured video: scene cuts 0." in text
    assert "metric_" not in text


def test_the_tables_have_no_empty_rows_and_say_how_much_prompts_were_rewritten() -> None:
    summary = _summary(_records(2))
    arms = summary.arms
    assert arms["on"].rewritten_share == pytest.approx(5 / 10)  # 5 of the echo's 10 words
    assert arms["off"].rewritten_share == 0.0
    assert arms["on"].measured == 2
    html = summary._repr_html_()
    visible = _visible(html)
    assert "Prompt rewritten" in visible and "50%" in visible
    for empty in ("Failed", "Running", "Outcome unknown", "Not submitted"):
        assert empty not in visible  # zero in every arm: no row
    assert "scene cuts" not in _visible(html.split("Measurements per arm")[1])
    # Too few ratings for a correlation: one sentence says why, no table of n/a.
    assert "it needs at least 5 rated, measured videos; 4 so far" in visible
    assert "Spearman's rank correlation" not in visible
    assert html.index('<ul class="luma-nb-verdicts">') < html.index("<table")


def test_a_degenerate_interval_is_reported_as_such() -> None:
    records = _records(3)
    for record in records:
        record["rating"] = 3
        record["metric_motion"] = 2.0 if record["arm"] == "on" else 1.5
    summary = _summary(records)
    motion = summary.metrics["metric_motion"]["f"]
    assert motion.no_spread
    text = summary.text() + _visible(summary._repr_html_())
    assert "no spread: every prompt differs by exactly +0.5" in text
    assert "no spread (all 3 ratings 3)" in text
    assert not re.search(r"\b(\d+\.\d+) to \1\b", text)  # never "3.00 to 3.00"


def test_enough_ratings_give_an_agreement_table() -> None:
    summary = _summary(_records(4))
    visible = _visible(summary._repr_html_())
    assert "Agreement with the ratings" in visible and "rho" in visible
    assert summary.agreement["metric_motion"].n == 8


# ----------------------------------------------------------------------------- the plot


def test_the_plot_is_inline_svg_in_the_pages_own_colour() -> None:
    pytest.importorskip("matplotlib")
    summary = _summary(_records(3))
    html = summary._repr_html_()
    svg = summary.svg
    assert svg is not None and svg in html
    assert svg.startswith("<svg ") and "<?xml" not in html and "<!DOCTYPE" not in html
    assert "currentColor" in svg and INK not in svg  # its ink follows light and dark themes
    assert not re.search(r"fill:\s*#ffffff", svg, re.I)  # a transparent background
    assert "<script" not in svg and "<foreignObject" not in svg
    figure = summary.figure()
    titles = [axes.get_title() for axes in figure.axes]
    assert "f: on - off on each measurement" in titles
    assert "Agreement with the ratings" in titles  # 6 rated videos: enough


def test_plot_ids_do_not_collide_and_hostile_labels_stay_text() -> None:
    pytest.importorskip("matplotlib")
    hostile = '<img src=x onerror="alert(1)">'
    one = _summary(_records(3)).svg
    other = _summary(_records(3, seed=5, label=hostile), label=hostile).svg
    assert one is not None and other is not None
    ids_one = set(re.findall(r'\bid="([^"]+)"', one))
    ids_other = set(re.findall(r'\bid="([^"]+)"', other))
    assert ids_one and not ids_one & ids_other
    assert hostile not in other and "&lt;img" in other
    assert "onerror" not in re.sub(r"&lt;.*?&gt;", "", other)


def test_without_matplotlib_the_summary_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from luma_nb.errors import ConfigError
    from luma_nb.experiment import _plot

    def missing() -> Any:
        raise ConfigError('experiment.plot() needs matplotlib: pip install "luma_nb[research]"')

    monkeypatch.setattr(_plot, "_pyplot", missing)
    summary = _summary(_records(2))
    assert summary.svg is None
    assert 'pip install "luma_nb[research]"' in _visible(summary._repr_html_())
