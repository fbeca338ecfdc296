"""Video metrics: each formula against hand computation, then the pass on real clips.

The validations the metrics owe (docs/metrics.md): on the simulator's real clips, a looping
clip's seam is far lower than a non-looping one's and a clip made from a start image matches
it far better than one made without; on synthetic clips, a still clip has no motion, a hard
cut is one cut, constant brightness has no flicker.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

np = pytest.importorskip("numpy")
av = pytest.importorskip("av")
pytest.importorskip("PIL.Image")

from _cliptools import (  # noqa: E402
    grey,
    simulator_clip,
    stripes,
    texture_png,
    video_without_frames,
    write_clip,
    write_silence,
)

from luma_nb.errors import ConfigError, LumaError, ValidationError  # noqa: E402
from luma_nb.simulator._media import ClipSpec  # noqa: E402
from luma_nb.video_metrics import (  # noqa: E402
    COLUMNS,
    VideoDecodeError,
    VideoMetrics,
    measure_video,
)
from luma_nb.video_metrics import _formulas as formulas  # noqa: E402

STUDY_COLUMNS = [
    "metric_motion",
    "metric_flicker",
    "metric_sharpness",
    "metric_brightness",
    "metric_contrast",
    "metric_colorfulness",
    "metric_loop_seam",
    "metric_start_match",
    "metric_end_match",
    "metric_cuts",
    "duration",
    "fps",
    "frames",
    "width",
    "height",
    "bitrate",
]


# ----------------------------------------------------------------------------- formulas


def test_luma_is_the_bt709_weighted_sum() -> None:
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    expected = [0.2126 * 255, 0.7152 * 255, 0.0722 * 255, 0.2126 * 10 + 0.7152 * 20 + 0.0722 * 30]
    assert formulas.luma(rgb)[0].tolist() == pytest.approx(expected, rel=1e-6)


def test_colorfulness_by_hand() -> None:
    assert formulas.colorfulness(np.full((4, 4, 3), 77, dtype=np.uint8)) == 0.0
    # Two pixels, pure red and pure blue: rg = [255, 0], yb = [127.5, -255].
    rgb = np.array([[[255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    var_rg = 127.5**2  # population variance of [255, 0]
    mean_yb = (127.5 - 255) / 2
    var_yb = ((127.5 - mean_yb) ** 2 + (-255 - mean_yb) ** 2) / 2
    expected = math.sqrt(var_rg + var_yb) + 0.3 * math.sqrt(127.5**2 + mean_yb**2)
    assert formulas.colorfulness(rgb) == pytest.approx(expected)
    assert expected == pytest.approx(272.62, abs=0.01)


def test_laplacian_variance_by_hand() -> None:
    plane = np.zeros((4, 4), dtype=np.uint8)
    plane[1, 1] = 8
    # The four interior pixels' Laplacians: -32 (the dot), 8, 8 (its neighbours), 0.
    values = [-32, 8, 8, 0]
    mean = sum(values) / 4
    expected = sum((v - mean) ** 2 for v in values) / 4
    assert expected == 272
    assert formulas.laplacian_variance(plane) == pytest.approx(272)
    assert formulas.laplacian_variance(plane, 2.0) == pytest.approx(272 * 4)
    assert formulas.laplacian_variance(np.full((5, 5), 200, dtype=np.uint8)) == 0.0
    assert formulas.laplacian_variance(np.zeros((2, 9), dtype=np.uint8)) is None
    # The extreme plane (a checkerboard of 0 and 255) stays exact: no int16 overflow.
    board = (np.indices((6, 6)).sum(axis=0) % 2 * 255).astype(np.uint8)
    assert formulas.laplacian_variance(board) == pytest.approx(1020.0**2)


def test_flicker_by_hand() -> None:
    assert formulas.flicker([100.0] * 6) == 0.0
    assert formulas.flicker([10.0 * t for t in range(8)]) == pytest.approx(0.0)  # a steady fade
    # Means 0,10,0,10,0,10: changes d = 10,-10,10,-10,10; the trends (centred means of up to 5)
    # are 10/3, 0, 2, 0, 10/3, so the residuals are 20/3, 10, 8, 10, 20/3.
    expected = (20 / 3 + 10 + 8 + 10 + 20 / 3) / 5
    assert formulas.flicker([0.0, 10.0, 0.0, 10.0, 0.0, 10.0]) == pytest.approx(expected)
    assert formulas.flicker([1.0, 2.0]) is None
    assert formulas.flicker([]) is None


def test_loop_seam_by_hand() -> None:
    first = np.zeros((2, 2), dtype=np.float32)
    last = np.full((2, 2), 6.0, dtype=np.float32)
    assert formulas.loop_seam(first, last, [2.0, 3.0, 40.0]) == pytest.approx(6.0 / 3.0)
    # Steps under a grey level (a still clip's noise) are floored at one level.
    assert formulas.loop_seam(first, last, [0.1, 0.2]) == pytest.approx(6.0)
    assert formulas.loop_seam(first, first, [4.0, 4.0]) == 0.0
    assert formulas.loop_seam(first, last, [1.0]) is None


def test_cut_frames_by_hand() -> None:
    assert formulas.cut_frames([1.0, 1.0, 40.0, 1.0, 1.0]) == (3,)
    assert formulas.cut_frames([1.0, 29.0, 1.0]) == ()  # under the 30-level bar
    assert formulas.cut_frames([40.0, 45.0, 50.0, 42.0]) == ()  # busy, not cut: < 3x median
    assert formulas.cut_frames([0.0, 0.0, 90.0, 0.0, 95.0, 0.0]) == (3, 5)
    assert formulas.cut_frames([]) == ()


def test_ssim_by_hand() -> None:
    rng = np.random.default_rng(1)
    image = (rng.random((12, 16)) * 255).astype(np.float32)
    assert formulas.ssim(image, image) == pytest.approx(1.0)
    # Two flat images: only the luminance term is left, (2xy + C1) / (x^2 + y^2 + C1).
    c1 = (0.01 * 255) ** 2
    flat_a, flat_b = np.full((8, 8), 100.0, np.float32), np.full((8, 8), 150.0, np.float32)
    expected = (2 * 100 * 150 + c1) / (100**2 + 150**2 + c1)
    assert formulas.ssim(flat_a, flat_b) == pytest.approx(expected)
    assert formulas.ssim(image, 255 - image) < 0  # inverted structure
    tiny = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert formulas.ssim(tiny, tiny) == pytest.approx(1.0)  # the window shrinks to fit
    with pytest.raises(ValueError, match="one size"):
        formulas.ssim(image, image[:-1])


def test_spread_by_hand() -> None:
    assert formulas.spread(10, 6) == (0, 2, 4, 5, 7, 9)
    assert formulas.spread(60, 6) == (0, 12, 24, 35, 47, 59)
    assert formulas.spread(3, 6) == (0, 1, 2)
    assert formulas.spread(10, 1) == (4,)
    assert formulas.spread(0, 6) == ()


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 500), st.integers(0, 40))
def test_spread_is_sorted_distinct_and_keeps_the_ends(count: int, wanted: int) -> None:
    picked = formulas.spread(count, wanted)
    assert len(picked) == min(count, wanted)
    assert list(picked) == sorted(set(picked))
    assert all(0 <= index < count for index in picked)
    if count and wanted > 1:
        assert picked[0] == 0 and picked[-1] == count - 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(0, 255), max_size=40))
def test_flicker_is_bounded_and_blind_to_offsets(means: list[float]) -> None:
    value = formulas.flicker(means)
    if len(means) < 3:
        assert value is None
        return
    assert value is not None and 0 <= value <= 2 * 255
    shifted = formulas.flicker([m + 17.0 for m in means])  # a brighter copy flickers the same
    assert shifted == pytest.approx(value, abs=1e-6)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.integers(1, 12))
def test_ssim_is_symmetric_and_at_most_one(seed: int, height: int, width: int) -> None:
    rng = np.random.default_rng(seed)
    a = (rng.random((height, width)) * 255).astype(np.float32)
    b = (rng.random((height, width)) * 255).astype(np.float32)
    assert formulas.ssim(a, b) == pytest.approx(formulas.ssim(b, a))
    assert -1 - 1e-9 <= formulas.ssim(a, b) <= 1 + 1e-9
    assert formulas.ssim(a, a) == pytest.approx(1.0)


# ----------------------------------------------------------------------------- synthetic clips


def test_a_still_clip_has_no_motion_flicker_or_cut(tmp_path: Path) -> None:
    frame = stripes(0, (96, 64))
    metrics = measure_video(write_clip(tmp_path / "still.mp4", [frame] * 24))
    assert metrics.frames == 24
    assert metrics.motion == pytest.approx(0.0, abs=0.05)
    assert metrics.flicker == pytest.approx(0.0, abs=0.05)
    assert metrics.cuts == 0
    assert metrics.cut_frames == ()
    assert metrics.loop_seam == pytest.approx(0.0, abs=0.05)


def test_a_hard_cut_is_one_cut_at_its_frame(tmp_path: Path) -> None:
    frames = [stripes(t, (96, 64)) for t in range(12)] + [grey(235, (96, 64))] * 12
    metrics = measure_video(write_clip(tmp_path / "cut.mp4", frames))
    assert metrics.cuts == 1
    assert metrics.cut_frames == (12,)


def test_constant_brightness_has_no_flicker_even_in_motion(tmp_path: Path) -> None:
    moving = [stripes(2 * t, (96, 64)) for t in range(24)]  # scrolls; its mean never changes
    metrics = measure_video(write_clip(tmp_path / "scroll.mp4", moving))
    assert metrics.motion is not None and metrics.motion > 20
    assert metrics.flicker == pytest.approx(0.0, abs=0.1)
    fade = [grey(40 + 6 * t) for t in range(24)]  # brighter at a steady pace: a trend
    # (Not exactly 0: 8-bit Y' codes make the steps 5 or 6 levels, then rescaled to 0..255.)
    assert measure_video(write_clip(tmp_path / "fade.mp4", fade)).flicker == pytest.approx(
        0.0, abs=0.5
    )
    blinking = [grey(100 if t % 2 else 130) for t in range(24)]
    flicker = measure_video(write_clip(tmp_path / "blink.mp4", blinking)).flicker
    assert flicker is not None and flicker > 20


def test_brightness_contrast_and_grey_levels_are_full_range(tmp_path: Path) -> None:
    half = np.zeros((48, 64, 3), dtype=np.uint8)
    half[:, 32:] = 255
    metrics = measure_video(write_clip(tmp_path / "half.mp4", [half] * 6))
    assert metrics.brightness == pytest.approx(127.5, abs=2)
    assert metrics.contrast == pytest.approx(127.5, abs=2)
    assert metrics.colorfulness == pytest.approx(0.0, abs=1.5)
    black = measure_video(write_clip(tmp_path / "black.mp4", [grey(0)] * 4))
    assert black.brightness == pytest.approx(0.0, abs=1)
    assert black.contrast == pytest.approx(0.0, abs=0.5)
    assert black.sharpness == pytest.approx(0.0, abs=0.5)


def test_colour_and_sharpness_tell_apart_what_they_should(tmp_path: Path) -> None:
    red = np.zeros((48, 64, 3), dtype=np.uint8)
    red[..., 0] = 200
    colourful = measure_video(write_clip(tmp_path / "red.mp4", [red] * 4))
    assert colourful.colorfulness is not None and colourful.colorfulness > 50
    sharp = measure_video(write_clip(tmp_path / "sharp.mp4", [stripes(0, period=4)] * 4))
    soft = measure_video(write_clip(tmp_path / "soft.mp4", [stripes(0, period=32)] * 4))
    assert sharp.sharpness is not None and soft.sharpness is not None
    assert sharp.sharpness > 10 * soft.sharpness


def test_technical_facts_and_columns(tmp_path: Path) -> None:
    path = write_clip(tmp_path / "facts.mp4", [stripes(t) for t in range(36)], fps=12)
    metrics = measure_video(path)
    assert (metrics.frames, metrics.width, metrics.height) == (36, 64, 48)
    assert metrics.fps == pytest.approx(12.0)
    assert metrics.duration == pytest.approx(3.0, abs=0.01)
    assert metrics.bitrate is not None and metrics.bitrate > 0
    columns = metrics.as_columns()
    assert list(columns) == STUDY_COLUMNS == list(COLUMNS)
    assert columns["metric_motion"] == metrics.motion
    assert columns["frames"] == 36
    assert columns["metric_start_match"] is None  # no start image given
    for column in ("frames", "width", "height", "bitrate", "metric_cuts"):
        assert type(columns[column]) is int
    with pytest.raises(AttributeError):
        metrics.motion = 1.0  # type: ignore[misc]  # frozen


def test_one_and_two_frame_clips_leave_undefined_measures_none(tmp_path: Path) -> None:
    one = measure_video(write_clip(tmp_path / "one.mp4", [stripes(0)]))
    assert one.frames == 1
    assert one.brightness is not None and one.sharpness is not None
    assert (one.motion, one.flicker, one.loop_seam, one.cuts) == (None, None, None, None)
    two = measure_video(write_clip(tmp_path / "two.mp4", [stripes(0), stripes(4)]))
    assert two.frames == 2
    assert two.motion is not None and two.cuts == 0
    assert (two.flicker, two.loop_seam) == (None, None)
    # The first and last frames exist from one frame on: the keyframe match is defined.
    image = texture_png(1, (64, 48))
    assert measure_video(tmp_path / "one.mp4", start_image=image).start_match is not None


def test_a_clip_without_frames_gives_only_facts(tmp_path: Path) -> None:
    empty = video_without_frames(tmp_path / "empty.mkv")
    metrics = measure_video(empty, filmstrip=True, cache_dir=tmp_path / "cache")
    assert metrics.frames == 0
    assert (metrics.width, metrics.height) == (64, 48)
    measures = {key: value for key, value in metrics.as_columns().items() if "metric_" in key}
    assert measures == dict.fromkeys(measures)  # every measure undefined
    assert metrics.filmstrip is None
    # In MP4 a track without frames is dropped: the file has no video stream at all.
    mp4 = tmp_path / "empty.mp4"
    with av.open(str(mp4), mode="w", format="mp4") as out:
        out.add_stream("libx264", rate=12)
        write_silence(out)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        measure_video(mp4)


# ----------------------------------------------------------------------------- the simulator


def test_simulator_loops_have_a_far_lower_seam(tmp_path: Path) -> None:
    loops, straight = [], []
    for seed, prompt in [(0, "a paper boat on a rainy street"), (1, "a lighthouse at dawn")]:
        for loop, into in ((True, loops), (False, straight)):
            spec = ClipSpec(prompt, seed=seed, loop=loop)
            metrics = measure_video(simulator_clip(tmp_path / f"{seed}-{loop}.mp4", spec))
            assert metrics.loop_seam is not None
            into.append(metrics.loop_seam)
    assert max(loops) <= 1.5, loops  # seamless: no bigger than a typical step
    assert min(straight) >= 3.0, straight
    assert min(straight) >= 4 * max(loops), (loops, straight)


def test_simulator_start_and_end_images_are_matched(tmp_path: Path) -> None:
    image = texture_png(7)
    made_with = simulator_clip(tmp_path / "with.mp4", ClipSpec("a fox", seed=3, start_image=image))
    made_without = simulator_clip(tmp_path / "without.mp4", ClipSpec("a fox", seed=3))
    with_start = measure_video(made_with, start_image=image).start_match
    without = measure_video(made_without, start_image=image).start_match
    assert with_start is not None and without is not None
    assert with_start >= 0.8, with_start
    assert with_start - without >= 0.3, (with_start, without)
    ending = simulator_clip(tmp_path / "end.mp4", ClipSpec("a fox", seed=3, end_image=image))
    image_path = tmp_path / "end.png"
    image_path.write_bytes(image)  # a path works as well as bytes
    end_match = measure_video(ending, end_image=image_path).end_match
    assert end_match is not None and end_match >= 0.8
    assert measure_video(made_without, end_image=image_path).end_match < end_match - 0.3  # type: ignore[operator]


def test_simulator_clip_facts(tmp_path: Path) -> None:
    metrics = measure_video(simulator_clip(tmp_path / "sim.mp4", ClipSpec("a paper boat")))
    assert (metrics.width, metrics.height, metrics.frames) == (384, 216, 60)
    assert metrics.fps == pytest.approx(12.0)
    assert metrics.duration == pytest.approx(5.0)
    assert metrics.motion is not None and metrics.motion > 0.5  # it moves
    assert metrics.cuts == 0


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("name", "data", "words"),
    [
        ("garbage.mp4", b"this is not a video at all\n" * 40, "not a video"),
        ("empty.mp4", b"", "not a video"),
        ("fake.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "not a video"),
    ],
)
def test_files_that_are_not_videos_raise_a_typed_error(
    tmp_path: Path, name: str, data: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(VideoDecodeError, match=words) as caught:
        measure_video(path)
    assert isinstance(caught.value, LumaError)
    assert caught.value.path == str(path)
    assert name in str(caught.value)


def test_a_truncated_clip_raises_a_typed_error(tmp_path: Path) -> None:
    whole = simulator_clip(tmp_path / "whole.mp4", ClipSpec("cut short", seconds=2.0)).read_bytes()
    for keep in (len(whole) // 2, len(whole) - 100, 200):
        path = tmp_path / f"cut-{keep}.mp4"
        path.write_bytes(whole[:keep])
        with pytest.raises(VideoDecodeError):
            measure_video(path)


def test_an_image_or_an_audio_file_is_not_a_video(tmp_path: Path) -> None:
    from PIL import Image

    png = tmp_path / "still.png"
    Image.new("RGB", (32, 32), (200, 10, 10)).save(png)
    with pytest.raises(VideoDecodeError, match="an image"):
        measure_video(png)
    audio = tmp_path / "sound.mp4"
    with av.open(str(audio), mode="w", format="mp4") as out:
        write_silence(out)
    with pytest.raises(VideoDecodeError, match="no video stream"):
        measure_video(audio)


def test_bad_paths_and_keyframes_are_validation_errors(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="no video file"):
        measure_video(tmp_path / "missing.mp4")
    with pytest.raises(ValidationError, match="no video file"):
        measure_video(tmp_path)  # a folder
    with pytest.raises(ValidationError, match="file path"):
        measure_video(42)  # type: ignore[arg-type]
    clip = write_clip(tmp_path / "ok.mp4", [stripes(0)] * 3)
    with pytest.raises(ValidationError) as caught:
        measure_video(clip, start_image=b"not an image")
    assert caught.value.field == "start_image"
    with pytest.raises(ValidationError) as caught:
        measure_video(clip, end_image=3.5)  # type: ignore[arg-type]
    assert caught.value.field == "end_image"
    with pytest.raises(ValidationError):
        measure_video(clip, end_image=tmp_path / "no-such.png")


def test_missing_extra_is_a_config_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clip = write_clip(tmp_path / "ok.mp4", [stripes(0)] * 3)
    monkeypatch.setitem(sys.modules, "av", None)  # "import av" now raises ImportError
    with pytest.raises(ConfigError, match=r"luma_nb\[research\]"):
        measure_video(clip)


def test_metrics_are_typed_and_frozen() -> None:
    metrics = VideoMetrics(duration=None, fps=None, frames=0, width=None, height=None, bitrate=None)
    assert metrics.as_columns() == dict.fromkeys(COLUMNS, None) | {"frames": 0}
