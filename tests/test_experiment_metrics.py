"""Metrics in study runs: every downloaded video is measured into the log, never failing a study.

On the simulator (real rendered clips, the ``render`` and ``research`` extras): the numbers
reach the log and the tidy frame, filmstrips land in the client's cache, keyframes are
fetched through the client's own download path (or not at all), a video that cannot be
measured leaves its row without metrics and a warning, and ``run()`` later measures what was
downloaded but not measured, without submitting or downloading anything again.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from _experimenttools import make_client

import luma_nb
from luma_nb.errors import ConfigError
from luma_nb.experiment import ExperimentWarning, resume_experiment
from luma_nb.experiment import _measuring as measuring
from luma_nb.simulator import Simulator, VirtualClock
from luma_nb.video_metrics import VideoDecodeError

pytest.importorskip("av")
np = pytest.importorskip("numpy")
Image = pytest.importorskip("PIL.Image")

PROMPTS = ["a paper boat on a rainy street", "a fox in the snow at dawn"]
IMAGE = "https://images.example/cat.png"
PRIVATE_IMAGE = "http://10.1.2.3/cat.png"


def _textured_png() -> bytes:
    # Texture, so that SSIM tells this picture from any other (a flat image would not).
    noise = np.random.default_rng(0).integers(0, 255, (90, 160, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(noise).resize((640, 360)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _textured_png()


class ImageAndSimulator(httpx.BaseTransport):
    """The simulator, plus an image host at images.example; records every request."""

    def __init__(self, sim: Simulator, image_status: int = 200) -> None:
        self.inner = sim.transport()
        self.image_status = image_status
        self.seen: list[tuple[str, str]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, str(request.url)))
        if request.url.host == "images.example":
            body = PNG if self.image_status == 200 else b"gone"
            return httpx.Response(self.image_status, content=body)
        return self.inner.handle_request(request)

    def gets(self, needle: str) -> int:
        return sum(method == "GET" and needle in url for method, url in self.seen)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    simulator = Simulator(clock=VirtualClock(), seed=7)
    yield simulator
    simulator.close()


@pytest.fixture
def keyframe_sim() -> Iterator[Simulator]:
    # The simulator fetches keyframes on its own (here: from this function, any host).
    simulator = Simulator(
        clock=VirtualClock(), seed=7, allow_remote_fetch=True, image_fetcher=lambda url: PNG
    )
    yield simulator
    simulator.close()


def _client(sim: Simulator, tmp_path: Path, transport: httpx.BaseTransport) -> luma_nb.Client:
    clock = sim.clock
    assert isinstance(clock, VirtualClock)
    return luma_nb.Client(
        "test-token",
        base_url=sim.base_url,
        transport=transport,
        backend="simulator",
        sleep=clock.advance,
        clock=clock.now,
        cache_dir=tmp_path / "cache",
        preflight=False,  # images.example does not resolve: the preflight would refuse it
    )


def _rows(study: luma_nb.experiment.Experiment) -> list[dict[str, Any]]:
    return [row for row in study.log.to_records() if row["experiment"] == study.id]


def _measuring_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    return [
        str(w.message)
        for w in caught
        if issubclass(w.category, ExperimentWarning)
        and ("measur" in str(w.message) or "keyframe" in str(w.message))
    ]


# ----------------------------------------------------------------------------- the happy path


def test_a_study_measures_every_video_it_downloads(sim: Simulator, tmp_path: Path) -> None:
    client = make_client(sim, tmp_path)
    study = luma_nb.study(
        PROMPTS,
        factors={"loop": [True, False]},
        seed=3,
        client=client,
        session=tmp_path / "s.jsonl",
    )
    rows = _rows(study)
    assert len(rows) == 4 and all(row["state"] == "completed" for row in rows)
    for row in rows:
        assert row["frames"] and row["frames"] > 0 and row["fps"]
        assert row["metric_motion"] is not None and row["metric_loop_seam"] is not None
        assert row["metric_start_match"] is None  # no keyframe was sent
    events = study.log.events()
    assert sum(event["event"] == "metrics" for event in events) == 4
    assert study.last_run is not None and len(study.last_run.measured) == 4
    # The filmstrips were made in the same pass, in the client's media cache.
    assert len(list((client.cache.root / "filmstrips").glob("*.jpg"))) == 4
    # What the metrics are for: loop=True clips end where they began, in every block.
    records = study.records()
    for pair in study.pairs:
        seam = {r["level_loop"]: r["metric_loop_seam"] for r in records if r["pair"] == pair}
        assert seam["on"] < 1.5 < 3 < seam["off"]
    effect = study.summary().metrics["metric_loop_seam"]["loop"]
    assert effect.mean_difference is not None and effect.mean_difference < 0
    assert effect.first_better == 0 and effect.second_better == 2


def test_keyframes_are_fetched_through_the_client_once_and_matched(
    keyframe_sim: Simulator, tmp_path: Path
) -> None:
    transport = ImageAndSimulator(keyframe_sim)
    study = luma_nb.study(
        PROMPTS,
        factors={"start_image_url": {"none": None, "cat": IMAGE}},
        seed=1,
        client=_client(keyframe_sim, tmp_path, transport),
        session=tmp_path / "k.jsonl",
    )
    records = study.records()
    with_image = [r for r in records if r["level_start_image_url"] == "cat"]
    without = [r for r in records if r["level_start_image_url"] == "none"]
    assert all(r["metric_start_match"] >= 0.8 for r in with_image)
    assert all(r["metric_start_match"] is None for r in without)  # nothing to compare with
    assert all(r["metric_end_match"] is None for r in records)
    # One GET through the client (its media cache), however many videos were sent with it.
    assert transport.gets("images.example") == 1
    match = study.summary().metrics["metric_start_match"]
    assert match["start_image_url"].units == 0  # measured in one arm only: nothing to pair


def test_a_keyframe_that_cannot_be_fetched_costs_only_its_match(
    keyframe_sim: Simulator, tmp_path: Path
) -> None:
    transport = ImageAndSimulator(keyframe_sim, image_status=404)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = luma_nb.study(
            PROMPTS[:1],
            factors={"loop": [True, False]},
            seed=1,
            client=_client(keyframe_sim, tmp_path, transport),
            session=tmp_path / "k.jsonl",
            start_image_url=IMAGE,
        )
    rows = _rows(study)
    assert all(r["state"] == "completed" and r["metric_motion"] is not None for r in rows)
    assert all(r["metric_start_match"] is None for r in rows)
    [message] = _measuring_warnings(caught)
    assert IMAGE in message and "start/end-image match" in message
    assert transport.gets("images.example") == 1  # not once per video


def test_a_private_keyframe_is_never_fetched_for_measuring(
    keyframe_sim: Simulator, tmp_path: Path
) -> None:
    transport = ImageAndSimulator(keyframe_sim)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = luma_nb.study(
            PROMPTS[:1],
            factors={"loop": [True, False]},
            client=_client(keyframe_sim, tmp_path, transport),
            session=tmp_path / "p.jsonl",
            start_image_url=PRIVATE_IMAGE,
        )
    assert all(r["metric_motion"] is not None for r in _rows(study))
    assert transport.gets("10.1.2.3") == 0
    [message] = _measuring_warnings(caught)
    assert "did not fetch it" in message and "10.1.2.3" in message


# ----------------------------------------------------------------------------- failures


def test_a_video_that_cannot_be_measured_does_not_fail_the_study(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = measuring.measure_video
    calls: list[Path] = []

    def broken_once(path: Path, **options: Any) -> Any:
        calls.append(path)
        if len(calls) == 1:
            raise VideoDecodeError("clip.mp4 is cut short: it holds 9 of its 24 frames")
        return real(path, **options)

    monkeypatch.setattr(measuring, "measure_video", broken_once)
    transport = ImageAndSimulator(sim)
    client = _client(sim, tmp_path, transport)
    with pytest.warns(ExperimentWarning, match=r"1 video\(s\) could not be measured.*cut short"):
        study = luma_nb.study(
            PROMPTS, factors={"loop": [True, False]}, client=client, session=tmp_path / "s.jsonl"
        )
    rows = _rows(study)
    assert all(row["state"] == "completed" for row in rows)
    assert sum(row["metric_motion"] is None for row in rows) == 1
    assert study.last_run is not None and len(study.last_run.measure_errors) == 1
    # run() again: the unmeasured video is measured; nothing is submitted or downloaded.
    before = list(transport.seen)
    study.run()
    assert all(row["metric_motion"] is not None for row in _rows(study))
    assert [request for request in transport.seen[len(before) :] if request[0] == "POST"] == []
    assert not any(url.endswith(".mp4") for _, url in transport.seen[len(before) :])


def test_without_the_research_extra_a_study_runs_and_says_so_once(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def missing(path: Path, **options: Any) -> Any:
        calls.append(path)
        raise ConfigError('video metrics need PyAV: pip install "luma_nb[research]"')

    monkeypatch.setattr(measuring, "measure_video", missing)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        study = luma_nb.study(
            PROMPTS,
            factors={"loop": [True, False]},
            client=make_client(sim, tmp_path),
            session=tmp_path / "s.jsonl",
        )
    assert len(calls) == 1  # the first video says it; the others are not tried
    [message] = _measuring_warnings(caught)
    assert "not measured" in message and "luma_nb[research]" in message
    rows = _rows(study)
    assert all(r["state"] == "completed" and r["media_path"] for r in rows)
    assert all(r["metric_motion"] is None for r in rows)


def test_resume_measures_downloaded_but_unmeasured_videos(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A kernel that died between the download and the measurement (here: a first run
    without the research extra) leaves videos downloaded but unmeasured: resuming measures
    them, and submits and downloads nothing."""
    monkeypatch.setattr(
        measuring, "measure_video", lambda path, **options: (_ for _ in ()).throw(ConfigError("x"))
    )
    transport = ImageAndSimulator(sim)
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    with pytest.warns(ExperimentWarning):
        study = luma_nb.study(
            PROMPTS,
            factors={"enhancement": [True, False], "loop": [True, False]},
            client=_client(sim, tmp_path, transport),
            session=log,
        )
    assert all(row["metric_motion"] is None for row in _rows(study))
    monkeypatch.undo()
    seen = len(transport.seen)
    again = resume_experiment(
        study.id, client=_client(sim, tmp_path, transport), session=tmp_path / "s.jsonl"
    )
    assert all(row["metric_motion"] is not None for row in _rows(again))
    assert again.last_run is not None and len(again.last_run.measured) == 8
    assert transport.seen[seen:] == []  # no submit, no poll, no download
    assert sim.stats.tasks_created == 8


def test_a_hand_edited_media_path_is_never_decoded(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        measuring, "measure_video", lambda path, **options: (_ for _ in ()).throw(ConfigError("x"))
    )
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")
    with pytest.warns(ExperimentWarning):
        study = luma_nb.study(
            PROMPTS[:1],
            factors={"loop": [True, False]},
            client=make_client(sim, tmp_path),
            session=log,
        )
    monkeypatch.undo()
    outside = tmp_path / "not-in-the-cache.mp4"
    outside.write_bytes(Path(_rows(study)[0]["media_path"]).read_bytes())
    log.media(_rows(study)[0]["iteration"], outside)  # as a hand edit would
    with pytest.warns(ExperimentWarning, match="not in luma_nb's media cache"):
        study.run(client=make_client(sim, tmp_path))
    by_path = {row["media_path"]: row for row in _rows(study)}
    assert by_path[str(outside)]["metric_motion"] is None
    assert sum(row["metric_motion"] is not None for row in by_path.values()) == 1


def test_a_full_disk_while_logging_metrics_does_not_stop_the_study(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = luma_nb.SessionLog(tmp_path / "s.jsonl")

    def full(iteration: str, measured: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(log, "metrics", full)
    with pytest.warns(ExperimentWarning, match=r"2 video\(s\) could not be measured.*No space"):
        study = luma_nb.study(
            PROMPTS[:1],
            factors={"loop": [True, False]},
            client=make_client(sim, tmp_path),
            session=log,
        )
    assert study.is_complete and all(r["media_path"] for r in _rows(study))
    monkeypatch.undo()
    study.run()  # the disk has room again: the measurements are taken and kept
    assert all(r["metric_motion"] is not None for r in _rows(study))
