"""Simulator clips keep blind studies blind: the caption is the sent prompt, and the words the
enhancement adds act on the picture in ways simple metrics measure.

Motion is measured on the composed frames (before encoding, so no codec noise) with numpy:
the best-fitting shift, zoom or turn between two frames of a caption-free clip. Colour is
measured on a clip's first frame against the same seed with no cue word.
"""

from __future__ import annotations

import functools
import io
from itertools import pairwise
from typing import Any

import pytest

np = pytest.importorskip("numpy")
av = pytest.importorskip("av")
pytest.importorskip("PIL.Image")
from _simtools import DONE, make_sim, submit_async  # noqa: E402
from PIL import Image  # noqa: E402

from luma_nb.simulator import Simulator, _media, enhance_prompt  # noqa: E402
from luma_nb.simulator._cues import CAMERAS, read_cues  # noqa: E402
from luma_nb.simulator._media import ClipSpec, clip_size, render_clip  # noqa: E402

PROMPT = "A red fox trots through a snowy birch forest"


def frames_of(cues: str, *, seed: int = 3, text: str = "", **fields: Any) -> list[Image.Image]:
    """The composed frames of one segment (no keyframes unless given as images)."""
    start, end = fields.pop("start", None), fields.pop("end", None)
    spec = ClipSpec(text, seed=seed, cues=cues, **fields)
    size = clip_size(spec.aspect_ratio)
    return list(_media._clip_frames([spec], [(start, end)], size))


def gray(image: Image.Image, scale: int = 2) -> Any:
    small = image.convert("L").resize(
        (image.width // scale, image.height // scale), Image.Resampling.BOX
    )
    return np.asarray(small, dtype=np.float32)


def best_shift(a: Image.Image, b: Image.Image, reach: int = 14) -> tuple[int, int, float, float]:
    """(dx, dy) in half-size pixels that the content moved from a to b, its error, and the
    error of assuming no move."""
    ga, gb = gray(a), gray(b)
    height, width = gb.shape
    core = gb[reach : height - reach, reach : width - reach]
    errors = {
        (dx, dy): float(
            np.abs(
                ga[reach - dy : height - reach - dy, reach - dx : width - reach - dx] - core
            ).mean()
        )
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
    }
    (dx, dy), error = min(errors.items(), key=lambda item: item[1])
    return dx, dy, error, errors[0, 0]


def _zoomed(image: Image.Image, factor: float) -> Image.Image:
    width, height = image.size
    half_w, half_h = width / (2 * factor), height / (2 * factor)
    box = (width / 2 - half_w, height / 2 - half_h, width / 2 + half_w, height / 2 + half_h)
    return image.resize(image.size, Image.Resampling.BILINEAR, box=box)


def best_scale(a: Image.Image, b: Image.Image) -> float:
    """The zoom about the centre from a to b (> 1: the view closed in)."""
    candidates = []
    for step in range(31):
        factor = 1 + 0.02 * step
        candidates.append((float(np.abs(gray(_zoomed(a, factor)) - gray(b)).mean()), factor))
        candidates.append((float(np.abs(gray(_zoomed(b, factor)) - gray(a)).mean()), 1 / factor))
    return min(candidates)[1]


def best_turn(a: Image.Image, b: Image.Image) -> int:
    """The whole degrees by which the content turned about the centre from a to b."""
    height, width = a.height // 2, a.width // 2
    rows, cols = np.mgrid[0:height, 0:width]
    disc = (rows - height / 2) ** 2 + (cols - width / 2) ** 2 < (0.4 * height) ** 2
    target = gray(b)
    candidates = []
    for degrees in range(-20, 21):
        turned = gray(a.rotate(degrees, resample=Image.Resampling.BILINEAR))
        candidates.append((float(np.abs(turned - target)[disc].mean()), degrees))
    return min(candidates)[1]


def motion(frames: list[Image.Image]) -> float:
    """Mean absolute luminance change between consecutive frames (a dynamic-degree proxy)."""
    lumas = [np.asarray(f.convert("L"), dtype=np.float32) for f in frames]
    return float(np.mean([np.abs(a - b).mean() for a, b in pairwise(lumas)]))


def decoded(mp4: bytes) -> list[Image.Image]:
    with av.open(io.BytesIO(mp4)) as container:
        return [frame.to_image() for frame in container.decode(video=0)]


# --- the caption is the prompt as sent ---------------------------------------------------------


@pytest.fixture
def specs(monkeypatch: pytest.MonkeyPatch) -> list[ClipSpec]:
    """Every ClipSpec the simulator renders, in order."""
    seen: list[ClipSpec] = []
    real = _media.render_clip

    def spy(spec: ClipSpec) -> Any:
        seen.append(spec)
        return real(spec)

    monkeypatch.setattr(_media, "render_clip", spy)
    return seen


def _finish(sim: Simulator, clock: Any, **body: Any) -> str:
    task_id = submit_async(sim, **body)
    clock.advance(DONE)
    sim.clip(task_id)
    return task_id


def test_both_arms_are_captioned_with_the_sent_prompt(specs: list[ClipSpec]) -> None:
    sim, clock = make_sim()
    prompt = "a lighthouse in a storm"
    on = _finish(sim, clock, prompt=prompt, enhancement=True)
    off = _finish(sim, clock, prompt=prompt, enhancement=False)
    spec_on, spec_off = specs
    echoed = sim.record(on)["response"]["prompt"]
    assert echoed == enhance_prompt(prompt) != prompt
    assert spec_on.text == spec_off.text == prompt
    assert spec_on.cues == echoed
    assert spec_off.cues == prompt
    assert sim.record(off)["response"]["prompt"] == prompt
    # What is drawn as text is the same layer for both arms, and not the echoed prompt's.
    size = clip_size("16:9")
    layer_on = _media._plan(spec_on, size, None, None, mirrored=False).text
    layer_off = _media._plan(spec_off, size, None, None, mirrored=False).text
    echoed_layer = _media._plan(ClipSpec(echoed), size, None, None, mirrored=False).text
    assert layer_on is not None and layer_off is not None and echoed_layer is not None
    assert layer_on[1].tobytes() == layer_off[1].tobytes()
    assert layer_on[1].tobytes() != echoed_layer[1].tobytes()
    # ...while the picture follows the enhancement's words.
    assert read_cues(spec_on.cues or "") != read_cues(spec_off.cues or "")


def test_an_extend_is_captioned_with_its_own_sent_prompt(specs: list[ClipSpec]) -> None:
    sim, clock = make_sim()
    first = _finish(sim, clock, prompt="a kite over a beach", enhancement=True)
    video_id = sim.record(first)["response"]["video_id"]
    _finish(sim, clock, action="extend", video_id=video_id, prompt="it climbs", enhancement=True)
    _finish(sim, clock, action="extend", video_id=video_id)  # no prompt: the parent's
    _, second, third = specs
    assert second.text == "it climbs" and second.cues == enhance_prompt("it climbs")
    assert second.parent is not None and second.parent.text == "a kite over a beach"
    assert third.text == "a kite over a beach"
    assert third.cues == enhance_prompt("a kite over a beach")


def test_a_users_own_camera_word_acts_with_enhancement_off(specs: list[ClipSpec]) -> None:
    sim, clock = make_sim()
    _finish(sim, clock, prompt="a slow pan over a city", enhancement=False)
    assert read_cues(specs[0].cues or "").camera == "pan"
    assert read_cues(ClipSpec("a slow pan over a city").text).camera == "pan"


def test_cues_default_to_the_caption() -> None:
    size = clip_size("16:9")
    plain = _media._plan(ClipSpec("a slow pan over a city"), size, None, None, mirrored=False)
    assert plain.camera.camera == "pan"
    told = ClipSpec("a slow pan over a city", cues="static wide shot")
    assert _media._plan(told, size, None, None, mirrored=False).camera.camera == "static"


# --- camera words move the camera ---------------------------------------------------------


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_pan_slides_the_picture_sideways(seed: int) -> None:
    frames = frames_of("steady side-scrolling pan", seed=seed)
    dx, dy, error, still = best_shift(frames[10], frames[14])
    assert 8 <= abs(dx) <= 12  # 0.8 widths over 59 frames: ~10 half-size pixels in 4 frames
    assert abs(dy) <= 1
    assert error < still / 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_aerial_and_crane_move_the_picture_vertically(seed: int) -> None:
    for words in ("sweeping aerial shot", "low-angle crane shot"):
        frames = frames_of(words, seed=seed)
        dx, dy, error, still = best_shift(frames[10], frames[14])
        assert 5 <= dy <= 9  # the view rises one height in 59 frames: the scene moves down
        assert abs(dx) <= 1
        assert error < still / 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_push_in_zooms_in_and_pull_out_zooms_out(seed: int) -> None:
    push = frames_of("slow dolly-in", seed=seed)
    pull = frames_of("the camera zooms out", seed=seed)
    expected = 2 ** (20 / 59)  # x2 over the segment, exponential
    assert best_scale(push[10], push[30]) == pytest.approx(expected, abs=0.05)
    assert best_scale(pull[10], pull[30]) == pytest.approx(1 / expected, abs=0.05)
    dx, dy, *_ = best_shift(push[10], push[14])
    assert abs(dx) <= 1 and abs(dy) <= 1  # about a fixed point: no slide


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_orbit_turns_the_picture(seed: int) -> None:
    frames = frames_of("smooth orbit around the subject", seed=seed)
    assert abs(best_turn(frames[10], frames[30])) in {9, 10, 11}  # 30 degrees over 59 frames
    assert best_scale(frames[10], frames[30]) == pytest.approx(1.0, abs=0.05)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_static_holds_still_and_handheld_shakes_a_little(seed: int) -> None:
    static = frames_of("static wide shot", seed=seed)
    shakes = frames_of("handheld", seed=seed)
    assert {best_shift(a, b, 4)[:2] for a, b in pairwise(static[:8])} == {(0, 0)}
    steps = [best_shift(a, b, 6)[:2] for a, b in pairwise(shakes[:13])]
    assert sum(step != (0, 0) for step in steps) >= 6
    assert all(abs(dx) <= 5 and abs(dy) <= 5 for dx, dy in steps)
    dx, dy, *_ = best_shift(shakes[0], shakes[-1], 8)
    assert abs(dx) <= 5 and abs(dy) <= 5  # shakes about a point, goes nowhere


def test_a_static_clip_changes_less_than_a_push_in_of_the_same_prompt() -> None:
    # Measured as a study would: on the decoded MP4 files, caption included.
    static = render_clip(ClipSpec(PROMPT, seed=4, cues=f"{PROMPT}, static wide shot"))
    push = render_clip(ClipSpec(PROMPT, seed=4, cues=f"{PROMPT}, slow dolly-in"))
    drift = render_clip(ClipSpec(PROMPT, seed=4))
    still, moving = motion(decoded(static.mp4)), motion(decoded(push.mp4))
    assert moving > 1.5 * still
    assert motion(decoded(drift.mp4)) > 1.5 * still


@pytest.mark.parametrize("camera_words", ["slow dolly-in", "pan", "orbit", "handheld", "aerial"])
def test_a_loop_with_any_camera_returns_to_its_first_frame(camera_words: str) -> None:
    frames = frames_of(camera_words, text=PROMPT, loop=True, seconds=2.0)
    assert frames[0].tobytes() == frames[-1].tobytes()
    assert frames[0].tobytes() != frames[len(frames) // 2].tobytes()


def test_keyframes_still_show_unaltered_whatever_the_camera() -> None:
    size = clip_size("16:9")
    red, blue = Image.new("RGB", size, (220, 40, 40)), Image.new("RGB", size, (40, 60, 220))
    push = frames_of("slow dolly-in, neon, cinematic", text=PROMPT, start=red)
    assert push[0].tobytes() == red.tobytes()
    pan = frames_of("pan, golden hour, cinematic", text=PROMPT, end=blue)
    assert pan[-1].tobytes() == blue.tobytes()


# --- light and style words change the colours ------------------------------------------------


@functools.lru_cache(maxsize=64)
def _look(cues: str, seed: int, text: str = "") -> dict[str, float]:
    frame = frames_of(cues, seed=seed, text=text, seconds=0.5)[0]
    rgb = np.asarray(frame, dtype=np.float32)
    luma = rgb @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    saturation = np.asarray(frame.convert("HSV"), dtype=np.float32)[..., 1] / 255
    gray_ = np.asarray(frame.convert("L"), dtype=np.float32)
    laplacian = (
        gray_[:-2, 1:-1] + gray_[2:, 1:-1] + gray_[1:-1, :-2] + gray_[1:-1, 2:]
    ) - 4 * gray_[1:-1, 1:-1]
    return {
        "brightness": float(luma.mean()),
        "contrast": float(luma.std()),
        "saturation": float(saturation.mean()),
        "red_minus_blue": float((rgb[..., 0] - rgb[..., 2]).mean()),
        "sharpness": float(laplacian.var()),
    }


SEEDS = range(1, 7)


@pytest.mark.parametrize(
    ("words", "measure", "direction", "margin"),
    [
        ("golden hour light", "brightness", +1, 5),
        ("golden hour light", "saturation", +1, 0.08),
        ("golden hour light", "red_minus_blue", +1, 40),
        ("warm candlelight", "brightness", -1, 25),
        ("warm candlelight", "red_minus_blue", +1, 15),
        ("moody neon glow", "saturation", +1, 0.3),
        ("overcast diffuse light", "saturation", -1, 0.15),
        ("overcast diffuse light", "contrast", -1, 2),
        ("dramatic rim lighting", "contrast", +1, 2),
        ("soft volumetric light", "brightness", +1, 20),
        ("soft volumetric light", "contrast", -1, 4),
        ("crisp morning sun", "brightness", +1, 20),
        ("blue hour twilight", "brightness", -1, 15),
        ("vivid, high contrast", "saturation", +1, 0.08),
        ("vivid, high contrast", "contrast", +1, 2),
        ("muted pastel palette", "saturation", -1, 0.15),
        ("muted pastel palette", "brightness", +1, 20),
        ("rich color grading", "saturation", +1, 0.1),
        ("documentary realism", "saturation", -1, 0.03),
        ("cinematic", "brightness", -1, 15),
        ("cinematic", "contrast", +1, 10),
        ("dreamy, soft focus", "sharpness", -1, 1.5),
    ],
)
def test_light_and_style_words_move_the_measures(
    words: str, measure: str, direction: int, margin: float
) -> None:
    for seed in SEEDS:
        plain, graded = _look("", seed)[measure], _look(words, seed)[measure]
        assert direction * (graded - plain) > margin, (seed, plain, graded)


def test_neon_is_magenta_and_cyan_mono_has_no_colour_and_blue_hour_is_blue() -> None:
    for seed in SEEDS:
        frame = np.asarray(frames_of("neon", seed=seed, seconds=0.5)[0].convert("HSV"))
        hues = frame[..., 0].astype(np.float32) / 255
        vivid = frame[..., 1] > 128
        near = (np.abs(hues - 0.85) < 0.07) | (np.abs(hues - 0.5) < 0.07)
        assert near[vivid].mean() > 0.9
        assert _look("black and white", seed)["saturation"] < 0.01
        assert _look("blue hour", seed)["red_minus_blue"] < -5
        assert _look("golden hour", seed)["red_minus_blue"] > 20


def test_cinematic_letterboxes_the_frame_but_not_the_keyframes() -> None:
    frame = np.asarray(frames_of("cinematic", text=PROMPT, seconds=0.5)[0])
    bar = round(0.11 * 216)
    assert frame[:bar].max() == 0 and frame[-bar:].max() == 0
    assert frame[bar + 1 : -bar - 1].mean() > 30


def test_an_enhanced_arm_differs_measurably_from_its_plain_arm() -> None:
    """The point of it all: on decoded clips, the arms of one prompt differ in the metrics."""
    prompt = "a lighthouse in a storm"
    plain = decoded(render_clip(ClipSpec(prompt, seed=9)).mp4)
    enhanced_spec = ClipSpec(prompt, seed=9, cues=enhance_prompt(prompt))
    enhanced = decoded(render_clip(enhanced_spec).mp4)
    # enhance_prompt adds a push-in, crisp morning sun and rich colour grading here.
    cues = read_cues(enhance_prompt(prompt))
    assert (cues.camera, cues.light, cues.style) == ("push_in", "morning", "rich")
    assert motion(plain) > 1.3 * motion(enhanced)  # the default drift moves more than a push-in
    brightness = [float(np.asarray(f.convert("L")).mean()) for f in (plain[0], enhanced[0])]
    assert brightness[1] > brightness[0] + 10


# --- determinism and edges --------------------------------------------------------------------


@pytest.mark.parametrize("camera_words", ["", *[c.replace("_", "-") for c in CAMERAS]])
def test_same_spec_same_bytes_for_every_camera(camera_words: str) -> None:
    spec = ClipSpec(PROMPT, seconds=1.0, seed=5, cues=f"{PROMPT}, {camera_words}, neon, cinematic")
    assert render_clip(spec).mp4 == render_clip(spec).mp4


def test_same_requests_to_two_simulators_give_the_same_clip_bytes() -> None:
    clips = []
    for _ in range(2):
        sim, clock = make_sim(seed=21)
        task_id = submit_async(sim, prompt="a paper boat on a rainy street")
        clock.advance(DONE)
        clips.append(sim.clip(task_id).mp4)
    assert clips[0] == clips[1]


@pytest.mark.parametrize(
    "text",
    [
        "東京の夜景 " * 40,
        "Ночной город, медленный пролёт камеры",
        "pan " * 300 + "orbit static handheld push-in",
        "\x00\u202e\U0001f3ac neon zoom in \u200b",
    ],
)
def test_unusual_cue_text_renders(text: str) -> None:
    clip = render_clip(ClipSpec(text, aspect_ratio="9:21", seconds=1.0, cues=text))
    assert len(decoded(clip.mp4)) == clip.frame_count


def test_several_camera_words_the_first_one_moves_the_camera() -> None:
    pan_first = frames_of("a pan then a static shot then a push-in")
    dx, dy, *_ = best_shift(pan_first[10], pan_first[14])
    assert abs(dx) >= 8 and abs(dy) <= 1
    static_first = frames_of("a static shot then a pan then a push-in")
    assert best_shift(static_first[10], static_first[14], 4)[:2] == (0, 0)
