"""Which prompt words direct a simulator clip, and the camera paths and colour grades they pick.

Pure functions, no Pillow: the rendered effects are checked in test_simulator_look.py.
"""

from __future__ import annotations

import colorsys
import math
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from luma_nb.simulator import enhance_prompt
from luma_nb.simulator._camera import View, camera_path
from luma_nb.simulator._cues import CAMERAS, LIGHTS, STYLES, Cues, read_cues
from luma_nb.simulator._grade import GRADES, Grade, grader
from luma_nb.simulator._media import ASPECT_RATIOS, clip_size

# --- reading the words ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "camera"),
    [
        ("a red fox, slow dolly-in", "push_in"),
        ("gentle push-in close-up", "push_in"),
        ("Zoom in on the clock", "push_in"),
        ("the camera zooms out over the bay", "pull_out"),
        ("a slow pull back from the door", "pull_out"),
        ("a slow pan over a city", "pan"),
        ("steady side-scrolling pan", "pan"),
        ("tracking shot of a runner", "pan"),
        ("sweeping aerial shot", "rise"),
        ("low-angle crane shot", "rise"),
        ("smooth orbit around the subject", "orbit"),
        ("static wide shot", "static"),
        ("locked-off tripod frame", "static"),
        ("handheld tracking shot", "handheld"),
        ("a lighthouse in a storm", "drift"),
    ],
)
def test_camera_words(text: str, camera: str) -> None:
    assert read_cues(text).camera == camera


@pytest.mark.parametrize(
    ("text", "light", "style"),
    [
        ("golden hour light, cinematic, 35mm film grain", "golden", "letterbox"),
        ("warm candlelight, dreamy, soft focus", "candle", "soft"),
        ("moody neon glow, vivid, high contrast", "neon", "vivid"),
        ("overcast diffuse light, muted pastel palette", "overcast", "muted"),
        ("dramatic rim lighting, rich color grading, high detail", "rim", "rich"),
        ("soft volumetric light, photorealistic, shallow depth of field", "volumetric", "soft"),
        ("crisp morning sun, documentary realism", "morning", "natural"),
        ("blue hour twilight, anamorphic lens flare, widescreen", "blue_hour", "letterbox"),
        ("a city at night in black and white", "blue_hour", "mono"),
        ("a plain prompt", None, None),
    ],
)
def test_light_and_style_words(text: str, light: str | None, style: str | None) -> None:
    cues = read_cues(text)
    assert (cues.light, cues.style) == (light, style)


def test_the_first_word_of_each_kind_wins() -> None:
    assert read_cues("a pan across the bay, then a slow push-in").camera == "pan"
    assert read_cues("a slow push-in, then a pan across the bay").camera == "push_in"
    assert read_cues("neon signs at golden hour").light == "neon"
    assert read_cues("golden hour over neon signs").light == "golden"
    # An enhanced prompt ends with the added words: the user's own word wins over them.
    assert read_cues("a static shot of a harbour, slow dolly-in").camera == "static"


def test_words_are_whole_words_in_any_case() -> None:
    assert read_cues("A JAPAN PANORAMA WITH PANCAKES").camera == "drift"
    assert read_cues("a knight in a panelled hall").light is None
    assert read_cues("a knight in a panelled hall").camera == "drift"
    assert read_cues("SLOW DOLLY-IN, NEON").camera == "push_in"
    assert read_cues("SLOW DOLLY-IN, NEON").light == "neon"


def test_unknown_words_and_empty_text_give_the_defaults() -> None:
    assert read_cues("") == Cues()
    assert read_cues("a quiet lake with reeds") == Cues(camera="drift", light=None, style=None)


def test_other_scripts_are_read_only_for_latin_cue_words() -> None:
    assert read_cues("東京の夜景、ゆっくりパン") == Cues()
    assert read_cues("Москва ночью, медленная панорама") == Cues()
    # A cue word between other scripts still counts when it stands as a word.
    assert read_cues("東京の夜景 neon 雨").light == "neon"
    assert read_cues("東京neon").light is None  # glued to CJK letters: not a word of its own


def test_a_very_long_prompt_is_read_to_its_end() -> None:
    text = "a very long prompt " * 50_000 + "with an orbit"
    assert read_cues(text).camera == "orbit"
    assert read_cues("static " + text).camera == "static"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_reads_to_known_cues(text: str) -> None:
    cues = read_cues(text)
    assert cues.camera in CAMERAS
    assert cues.light is None or cues.light in LIGHTS
    assert cues.style is None or cues.style in STYLES


def test_every_enhancement_adds_a_camera_a_light_and_a_style_that_act() -> None:
    seen: set[str] = set()
    for index in range(300):
        cues = read_cues(enhance_prompt(f"scene number {index}"))
        assert cues.camera != "drift"
        assert cues.light is not None
        assert cues.style is not None
        seen.add(cues.camera)
    # Every camera the enhancement can add, each a different move.
    assert seen == {"push_in", "rise", "handheld", "orbit", "static", "pan"}


def test_a_plain_prompt_is_read_as_the_enhancement_off_arm() -> None:
    # With enhancement off the echoed prompt is the sent one: its words act all the same.
    assert read_cues("a slow pan over a city").camera == "pan"
    assert read_cues(enhance_prompt("a slow pan over a city")).camera == "pan"


# --- camera paths ---------------------------------------------------------------------------


def _window_corners(view: View, size: tuple[int, int]) -> list[tuple[float, float]]:
    width, height = size
    turn = math.radians(view.degrees)
    corners = []
    for x, y in ((-1, -1), (1, -1), (-1, 1), (1, 1)):
        dx, dy = x * width / 2 / view.zoom, y * height / 2 / view.zoom
        corners.append(
            (
                view.x + dx * math.cos(turn) - dy * math.sin(turn),
                view.y + dx * math.sin(turn) + dy * math.cos(turn),
            )
        )
    return corners


@pytest.mark.parametrize("camera", CAMERAS)
@pytest.mark.parametrize("ratio", [*ASPECT_RATIOS, "4:1", "1:4"])
def test_every_window_lies_on_the_backdrop(camera: str, ratio: str) -> None:
    size = clip_size(ratio)
    for seed in range(8):
        path = camera_path(camera, size, random.Random(seed))
        for step in range(41):
            view = path.view(step / 40, 2 * math.pi * step / 40)
            for x, y in _window_corners(view, size):
                assert -0.5 <= x <= 2 * size[0] + 0.5, (camera, ratio, seed, step, view)
                assert -0.5 <= y <= 2 * size[1] + 0.5, (camera, ratio, seed, step, view)


def _path(camera: str, seed: int = 1) -> list[View]:
    path = camera_path(camera, (384, 216), random.Random(seed))
    return [path.view(step / 20, 0.0) for step in range(21)]


def test_push_in_and_pull_out_zoom_steadily_about_a_fixed_point() -> None:
    push, pull = _path("push_in"), _path("pull_out")
    assert [v.zoom for v in push] == sorted(v.zoom for v in push)
    assert push[0].zoom == pytest.approx(1.0) and push[-1].zoom == pytest.approx(2.0)
    assert [v.zoom for v in pull] == sorted((v.zoom for v in pull), reverse=True)
    assert {(v.x, v.y) for v in push} == {(push[0].x, push[0].y)}


def test_pan_moves_sideways_and_rise_moves_up() -> None:
    pan, rise = _path("pan"), _path("rise")
    assert abs(pan[-1].x - pan[0].x) == pytest.approx(0.8 * 384)
    assert {v.y for v in pan} == {pan[0].y}
    assert rise[0].y - rise[-1].y == pytest.approx(216)
    assert {v.x for v in rise} == {rise[0].x}
    directions = {math.copysign(1, _path("pan", seed)[-1].x - 384) for seed in range(20)}
    assert directions == {1.0, -1.0}  # the seed picks left or right


def test_orbit_turns_and_static_stays() -> None:
    orbit, static = _path("orbit"), _path("static")
    assert abs(orbit[-1].degrees) == pytest.approx(30.0)
    assert orbit[0].degrees == 0
    assert len(set(static)) == 1 and static[0].zoom == 1 and static[0].degrees == 0


def test_handheld_shakes_a_little_around_a_point() -> None:
    views = _path("handheld")
    xs, ys = [v.x for v in views], [v.y for v in views]
    assert len(set(xs)) > 10 and len(set(ys)) > 10
    assert max(xs) - min(xs) <= 0.05 * 216 * 2
    assert max(ys) - min(ys) <= 0.05 * 216 * 2


@pytest.mark.parametrize("camera", CAMERAS)
def test_a_path_is_deterministic(camera: str) -> None:
    assert _path(camera, 5) == _path(camera, 5)


# --- colour grades ---------------------------------------------------------------------------


def _hsv(colour: tuple[int, int, int]) -> tuple[float, float, float]:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in colour))
    return h, s, v


SAMPLES = [
    (200, 60, 60),
    (60, 200, 90),
    (70, 90, 210),
    (180, 180, 60),
    (90, 90, 90),
    (30, 40, 60),
    (230, 220, 210),
]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _luma(colour: tuple[int, int, int]) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


def _spread(colours: list[tuple[int, int, int]]) -> float:
    lumas = [_luma(c) for c in colours]
    return max(lumas) - min(lumas)


@pytest.mark.parametrize(
    ("cue", "brighter", "more_saturated", "more_contrast", "warmer"),
    [
        ("golden", True, True, None, True),
        ("candle", False, None, None, True),
        ("neon", None, True, None, None),
        ("overcast", None, False, False, None),
        ("rim", None, None, True, None),
        ("volumetric", True, False, False, None),
        ("morning", True, None, None, None),
        ("blue_hour", False, None, None, False),
        ("vivid", None, True, True, None),
        ("muted", True, False, None, None),
        ("rich", None, True, None, None),
        ("mono", None, False, None, None),
        ("natural", None, False, False, None),
    ],
)
def test_each_grade_moves_the_palette_its_way(
    cue: str,
    brighter: bool | None,
    more_saturated: bool | None,
    more_contrast: bool | None,
    warmer: bool | None,
) -> None:
    graded = [GRADES[cue](colour) for colour in SAMPLES]
    if brighter is not None:
        change = _mean([_luma(c) for c in graded]) - _mean([_luma(c) for c in SAMPLES])
        assert (change > 5) if brighter else (change < -5), change
    if more_saturated is not None:
        change = _mean([_hsv(c)[1] for c in graded]) - _mean([_hsv(c)[1] for c in SAMPLES])
        assert (change > 0.05) if more_saturated else (change < -0.05), change
    if more_contrast is not None:
        change = _spread(graded) - _spread(SAMPLES)
        assert (change > 5) if more_contrast else (change < -5), change
    if warmer is not None:
        change = _mean([c[0] - c[2] for c in graded]) - _mean([c[0] - c[2] for c in SAMPLES])
        assert (change > 10) if warmer else (change < -10), change


def test_neon_is_magenta_or_cyan_and_mono_is_grey() -> None:
    for colour in SAMPLES:
        hue, saturation, _ = _hsv(GRADES["neon"](colour))
        assert saturation > 0.9
        assert min(abs(hue - 0.85), abs(hue - 0.5)) < 0.06
        r, g, b = GRADES["mono"](colour)
        assert r == g == b


def test_grades_compose_in_order_and_none_grades_nothing() -> None:
    assert grader(None, None) is None
    assert grader(None, "soft") is None  # not a colour grade
    both = grader("golden", "mono")
    assert both is not None
    r, g, b = both((70, 90, 210))
    assert r == g == b  # the style's grade comes last


@settings(max_examples=200, deadline=None)
@given(
    st.tuples(*(st.integers(0, 255),) * 3),
    st.sampled_from(sorted(GRADES)),
)
def test_a_grade_keeps_colours_in_range(colour: tuple[int, int, int], cue: str) -> None:
    graded = GRADES[cue](colour)
    assert all(isinstance(c, int) and 0 <= c <= 255 for c in graded)


def test_the_identity_grade_changes_nothing() -> None:
    for colour in SAMPLES:
        assert Grade()(colour) == colour
