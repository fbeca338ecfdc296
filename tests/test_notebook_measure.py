"""Metrics on request from the helpers (``measure=True``), and the session as cards."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Iterator
from pathlib import Path

import pytest
from _simtools import virtual_client

import luma_nb
from luma_nb.simulator import Simulator, VirtualClock

pytest.importorskip("numpy")
pytest.importorskip("av")
pytest.importorskip("PIL.Image")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=7)
    yield simulator
    simulator.close()


@pytest.fixture
def kernel(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[luma_nb.SessionLog]:
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "default-cache"))
    log = luma_nb.SessionLog(tmp_path / "session.jsonl")
    luma_nb.use(virtual_client(sim, tmp_path), log)
    yield log
    luma_nb.notebook.reset()


def test_measure_logs_the_metrics_and_shows_the_key_ones(
    kernel: luma_nb.SessionLog, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    looped = luma_nb.generate("a paper boat on a pond", loop=True, measure=True)
    plain = luma_nb.generate("a paper boat on a pond", loop=False, measure=True)
    first, second = kernel.to_records()
    for row, video in ((first, looped), (second, plain)):
        assert row["metric_motion"] is not None and row["metric_sharpness"] > 0
        assert row["frames"] > 1 and row["duration"] == pytest.approx(5.0, abs=0.2)
        assert (row["width"], row["height"]) == video.size  # measured from the file
    # The validation of docs/metrics.md, through the helper: a loop closes its seam.
    assert first["metric_loop_seam"] < 1.5 < 3 < second["metric_loop_seam"]
    out = capsys.readouterr().out
    assert out.count("measured  5.0 s") == 2 and "loop seam" in out
    # The strip was made in the same pass, in the client's cache, where the cards find it.
    assert list((tmp_path / "cache" / "filmstrips").glob("*-6x120.jpg"))
    html = luma_nb.display.video_html(looped, metrics=first)
    assert "luma-nb-strip" in html and "motion " in html and "loop seam " in html


def test_measure_compares_the_keyframes_sent(kernel: luma_nb.SessionLog) -> None:
    source = luma_nb.generate("a lighthouse at dawn")
    assert source.thumbnail_url
    luma_nb.generate("the lighthouse at night", start_image_url=source.thumbnail_url, measure=True)
    rows = kernel.to_records()
    assert rows[0]["metric_start_match"] is None  # not measured at all
    assert rows[1]["metric_start_match"] is not None and rows[1]["metric_start_match"] > 0.5
    assert rows[1]["metric_end_match"] is None  # no end image was sent


def test_bad_measure_or_a_missing_extra_refuses_before_anything_is_sent(
    kernel: luma_nb.SessionLog, sim: Simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(luma_nb.ValidationError, match="measure must be True or False"):
        luma_nb.generate("x", measure="yes")  # type: ignore[arg-type]
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "av" else real(name, *a)
    )
    with pytest.raises(luma_nb.ConfigError, match=r"luma_nb\[research\]"):
        luma_nb.generate("x", measure=True)
    with pytest.raises(luma_nb.ValidationError, match="submit does not wait"):
        luma_nb.submit("x", measure=True)  # type: ignore[call-arg]
    assert sim.stats.tasks_created == 0 and kernel.to_records() == []
    monkeypatch.undo()
    luma_nb.generate("x", measure=False)  # the default, spelled out
    assert sim.stats.tasks_created == 1


def test_a_video_that_cannot_be_measured_is_still_returned(
    kernel: luma_nb.SessionLog, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import luma_nb.video_metrics as metrics

    def broken(*args: object, **kwargs: object) -> None:
        raise metrics.VideoDecodeError("clip.mp4 is cut short: it holds 9 of its 24 frames")

    monkeypatch.setattr(metrics, "measure_video", broken)
    video = luma_nb.extend(luma_nb.generate("a kite"), prompt="it climbs", measure=True)
    assert isinstance(video, luma_nb.Video)
    rows = kernel.to_records()
    assert rows[1]["state"] == "completed" and rows[1]["metric_motion"] is None
    assert "could not be measured: clip.mp4 is cut short" in capsys.readouterr().err


def test_the_signature_shows_measure_off_by_default() -> None:
    for helper in (luma_nb.generate, luma_nb.extend):
        parameter = inspect.signature(helper).parameters["measure"]
        assert parameter.default is False and parameter.kind is parameter.KEYWORD_ONLY
    assert "measure" not in inspect.signature(luma_nb.submit).parameters


def test_history_as_cards_or_a_frame(kernel: luma_nb.SessionLog) -> None:
    for n in range(3):
        luma_nb.generate(f"a boat number {n}", measure=n == 2)
    view = luma_nb.history(cards=True, last=2)
    assert isinstance(view, luma_nb.display.SessionView)
    html = view.html()
    assert html.count('class="luma-nb-card"') == 2 and html.count("luma-nb-strip") == 2
    assert html.index("a boat number 2") < html.index("a boat number 1")
    assert "a boat number 0" not in html and "The last 2 of 3 iterations" in html
    assert "Measured" in html.split("a boat number 1")[0]  # the measured one shows its numbers
    assert len(luma_nb.history(cards=True).rows) == 3
    pytest.importorskip("pandas")
    assert list(luma_nb.history(last=1)["prompt"]) == ["a boat number 2"]
    assert len(luma_nb.history()) == 3
    with pytest.raises(luma_nb.ValidationError):
        luma_nb.history(last=0)
