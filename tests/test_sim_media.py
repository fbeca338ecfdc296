"""The simulator's clip renderer, checked by decoding what it produces with PyAV."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

av = pytest.importorskip("av")
pytest.importorskip("PIL.Image")
from PIL import Image, ImageChops, ImageStat  # noqa: E402

from luma_nb.simulator import _drawing, _media  # noqa: E402
from luma_nb.simulator._media import (  # noqa: E402
    ASPECT_RATIOS,
    FPS,
    ClipSpec,
    RenderedClip,
    can_render,
    clip_size,
    fallback_clip,
    render_clip,
)

ROOT = Path(__file__).resolve().parents[1]
PROMPT = "A red fox trots through a snowy birch forest at dawn"
RED = (220, 40, 40)
BLUE = (40, 60, 220)
# Mean absolute differences (0..255): encoding alone makes equal frames differ by up to ~2.5
# (an I-frame against the last frame of its GOP); frames that really differ are 10+ apart.
SAME = 4.0
APART = 10.0


@dataclass
class Decoded:
    codec: str
    pix_fmt: str
    width: int
    height: int
    duration: float
    frames: list[Image.Image]


def decode(mp4: bytes) -> Decoded:
    with av.open(io.BytesIO(mp4)) as container:
        stream = container.streams.video[0]
        frames = [frame.to_image() for frame in container.decode(stream)]
        return Decoded(
            codec=stream.codec_context.name,
            pix_fmt=stream.codec_context.pix_fmt,
            width=stream.width,
            height=stream.height,
            duration=float(stream.duration * stream.time_base),
            frames=frames,
        )


def top_level_boxes(mp4: bytes) -> list[str]:
    boxes = []
    offset = 0
    while offset + 8 <= len(mp4):
        size, kind = struct.unpack(">I4s", mp4[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", mp4[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(mp4) - offset
        boxes.append(kind.decode("latin-1"))
        offset += size
    return boxes


def diff(a: Image.Image, b: Image.Image) -> float:
    """Mean absolute difference per channel, 0..255."""
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


def mean_colour(image: Image.Image) -> list[float]:
    return ImageStat.Stat(image.convert("RGB")).mean


def near(colour: list[float], expected: tuple[int, int, int], tolerance: float = 12) -> bool:
    return all(abs(c - e) <= tolerance for c, e in zip(colour, expected, strict=True))


def image_bytes(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def default_clip() -> RenderedClip:
    return render_clip(ClipSpec(PROMPT))


# --- import hygiene and sizes ----------------------------------------------------------------


def test_import_does_not_import_av_or_pillow() -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    code = (
        "import sys, luma_nb.simulator._media; "
        "assert 'av' not in sys.modules and 'PIL' not in sys.modules, sorted(sys.modules)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, env=env)


def test_can_render_with_the_extra_installed() -> None:
    assert can_render()


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_clip_size_is_even_and_keeps_the_ratio(ratio: str) -> None:
    width, height = clip_size(ratio)
    ratio_w, ratio_h = (int(part) for part in ratio.split(":"))
    assert width % 2 == 0
    assert height % 2 == 0
    assert width / height == pytest.approx(ratio_w / ratio_h, rel=0.02)
    assert 280 <= max(width, height) <= 460


def test_clip_size_of_16_9() -> None:
    assert clip_size("16:9") == (384, 216)


@pytest.mark.parametrize("ratio", ["", "16x9", "16:", ":9", "0:9", "16:0", "-16:9", "a:b", "9:40"])
def test_clip_size_rejects_malformed_ratios(ratio: str) -> None:
    with pytest.raises(ValueError, match="aspect_ratio"):
        clip_size(ratio)


@pytest.mark.parametrize("seconds", [0, -1, float("nan"), float("inf"), 61])
def test_spec_rejects_bad_seconds(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        ClipSpec("x", seconds=seconds)


def test_spec_rejects_bad_aspect_ratio() -> None:
    with pytest.raises(ValueError, match="aspect_ratio"):
        ClipSpec("x", aspect_ratio="wide")


# --- the default clip ------------------------------------------------------------------------


def test_default_clip_is_small_h264_with_faststart(default_clip: RenderedClip) -> None:
    decoded = decode(default_clip.mp4)
    assert default_clip.rendered
    assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
    assert (decoded.width, decoded.height) == (default_clip.width, default_clip.height)
    assert (default_clip.width, default_clip.height) == clip_size("16:9")
    assert default_clip.frame_count == len(decoded.frames) == round(5 * FPS)
    assert default_clip.duration == pytest.approx(5.0)
    assert decoded.duration == pytest.approx(default_clip.duration, abs=1 / FPS)
    boxes = top_level_boxes(default_clip.mp4)
    assert boxes.index("moov") < boxes.index("mdat")
    assert len(default_clip.mp4) < 150_000


def test_thumbnail_is_a_jpeg_of_the_first_frame(default_clip: RenderedClip) -> None:
    thumbnail = Image.open(io.BytesIO(default_clip.jpeg))
    assert thumbnail.format == "JPEG"
    assert thumbnail.size == (default_clip.width, default_clip.height)
    assert diff(thumbnail.convert("RGB"), decode(default_clip.mp4).frames[0]) < 4


def test_the_clip_moves(default_clip: RenderedClip) -> None:
    frames = decode(default_clip.mp4).frames
    assert diff(frames[0], frames[len(frames) // 2]) > APART
    assert diff(frames[0], frames[-1]) > APART


def test_render_is_fast(default_clip: RenderedClip) -> None:
    # The fixture has warmed PyAV and the font up; this times a render as the simulator sees it.
    began = time.perf_counter()
    render_clip(ClipSpec("timing", seed=11))
    # Typically ~0.2 s; generous so a busy CI machine does not flake.
    assert time.perf_counter() - began < 2.5


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_every_aspect_ratio_renders_at_its_size(ratio: str) -> None:
    clip = render_clip(ClipSpec(PROMPT, aspect_ratio=ratio, seconds=1.0))
    decoded = decode(clip.mp4)
    assert (decoded.width, decoded.height) == (clip.width, clip.height) == clip_size(ratio)
    assert len(decoded.frames) == clip.frame_count == FPS
    assert Image.open(io.BytesIO(clip.jpeg)).size == clip_size(ratio)


def test_same_spec_gives_the_same_frames() -> None:
    spec = ClipSpec(PROMPT, seconds=1.0, seed=3)
    first, second = decode(render_clip(spec).mp4), decode(render_clip(spec).mp4)
    assert [f.tobytes() for f in first.frames] == [f.tobytes() for f in second.frames]


def test_different_text_gives_different_frames() -> None:
    a = decode(render_clip(ClipSpec("A cat on a skateboard", seconds=1.0)).mp4).frames
    b = decode(render_clip(ClipSpec("Rain over a neon city", seconds=1.0)).mp4).frames
    assert diff(a[0], b[0]) > 2  # the text covers only part of the frame


def test_different_seed_gives_different_frames() -> None:
    a = decode(render_clip(ClipSpec(PROMPT, seconds=1.0, seed=1)).mp4).frames
    b = decode(render_clip(ClipSpec(PROMPT, seconds=1.0, seed=2)).mp4).frames
    assert diff(a[0], b[0]) > APART


def test_long_and_unusual_text_renders() -> None:
    text = "Caf\u00e9 cr\u00e8me \u2014 \u4e2d\u6587 \U0001f3ac\x00 " + "very long words " * 200
    clip = render_clip(ClipSpec(text, aspect_ratio="9:21", seconds=1.0))
    assert len(decode(clip.mp4).frames) == clip.frame_count


def test_blank_text_renders() -> None:
    clip = render_clip(ClipSpec("   ", seconds=1.0))
    assert len(decode(clip.mp4).frames) == clip.frame_count


def test_printable_spells_missing_glyphs_in_ascii() -> None:
    assert (
        _drawing.printable("Caf\u00e9\n\t na\u00efve \u2014 stra\u00dfe") == "Cafe naive - strasse"
    )


# --- loop ------------------------------------------------------------------------------------


def test_loop_ends_on_its_first_frame(default_clip: RenderedClip) -> None:
    frames = decode(render_clip(ClipSpec(PROMPT, loop=True)).mp4).frames
    assert diff(frames[0], frames[-1]) < SAME
    assert diff(frames[0], frames[len(frames) // 2]) > APART
    plain = decode(default_clip.mp4).frames
    assert diff(plain[0], plain[-1]) > APART


def test_loop_frames_match_exactly_before_encoding() -> None:
    chain = [ClipSpec(PROMPT, loop=True, seed=5)]
    size = clip_size("16:9")
    frames = list(_media._clip_frames(chain, [(None, None)], size))
    assert frames[0].tobytes() == frames[-1].tobytes()
    assert frames[0].tobytes() != frames[1].tobytes()


def test_loop_with_start_image_returns_to_it() -> None:
    frames = decode(render_clip(ClipSpec(PROMPT, start_image=image_bytes(RED), loop=True)).mp4)
    assert near(mean_colour(frames.frames[0]), RED)
    assert near(mean_colour(frames.frames[-1]), RED)
    assert diff(frames.frames[0], frames.frames[-1]) < SAME


# --- keyframes -------------------------------------------------------------------------------


def test_start_and_end_images_are_the_first_and_last_frames() -> None:
    spec = ClipSpec(PROMPT, start_image=image_bytes(RED), end_image=image_bytes(BLUE))
    frames = decode(render_clip(spec).mp4).frames
    assert near(mean_colour(frames[0]), RED)
    assert near(mean_colour(frames[-1]), BLUE)
    middle = mean_colour(frames[len(frames) // 2])
    assert not near(middle, RED)
    assert not near(middle, BLUE)


def test_start_image_only_dissolves_into_the_animation() -> None:
    frames = decode(render_clip(ClipSpec(PROMPT, start_image=image_bytes(RED))).mp4).frames
    assert near(mean_colour(frames[0]), RED)
    assert not near(mean_colour(frames[-1]), RED)


def test_end_image_only_is_reached_at_the_end() -> None:
    frames = decode(render_clip(ClipSpec(PROMPT, end_image=image_bytes(BLUE))).mp4).frames
    assert not near(mean_colour(frames[0]), BLUE)
    assert near(mean_colour(frames[-1]), BLUE)


def test_keyframe_is_cover_fitted_and_transparency_flattened() -> None:
    # A tall RGBA image, opaque red in its middle band and transparent above and below:
    # cover-fitting to 16:9 keeps the middle, so the frame is red.
    image = Image.new("RGBA", (300, 900), (0, 0, 0, 0))
    image.paste((*RED, 255), (0, 300, 300, 600))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    frames = decode(render_clip(ClipSpec(PROMPT, start_image=buffer.getvalue())).mp4).frames
    assert near(mean_colour(frames[0]), RED, tolerance=20)


@pytest.mark.parametrize("field", ["start_image", "end_image"])
@pytest.mark.parametrize("data", [b"", b"not an image", image_bytes(RED)[:60]])
def test_undecodable_image_raises_value_error(field: str, data: bytes) -> None:
    with pytest.raises(ValueError, match=field):
        render_clip(ClipSpec(PROMPT, **{field: data}))  # type: ignore[arg-type]


# --- extend ----------------------------------------------------------------------------------


def test_extend_appends_to_its_parent() -> None:
    parent = ClipSpec(PROMPT, seed=1)
    child = ClipSpec("The fox stops and looks at the camera", seed=2, parent=parent)
    parent_clip, child_clip = render_clip(parent), render_clip(child)
    assert child_clip.frame_count == parent_clip.frame_count + round(5 * FPS)
    assert child_clip.duration == pytest.approx(parent_clip.duration + 5.0)
    parent_frames = decode(parent_clip.mp4).frames
    decoded = decode(child_clip.mp4)
    assert len(decoded.frames) == child_clip.frame_count
    assert decoded.duration == pytest.approx(child_clip.duration, abs=1 / FPS)
    for index in (0, 1, 10, 30):
        assert diff(decoded.frames[index], parent_frames[index]) < 1.5
    # The new segment continues from the parent's last frame, and then moves on.
    seam = parent_clip.frame_count
    assert diff(decoded.frames[seam], parent_frames[-1]) < SAME
    assert diff(decoded.frames[-1], parent_frames[-1]) > APART
    assert len(child_clip.mp4) < 300_000


def test_extend_keeps_the_parents_size() -> None:
    parent = ClipSpec(PROMPT, aspect_ratio="9:16", seconds=1.0)
    clip = render_clip(ClipSpec("more", aspect_ratio="16:9", seconds=1.0, parent=parent))
    assert (clip.width, clip.height) == clip_size("9:16")
    assert (decode(clip.mp4).width, decode(clip.mp4).height) == clip_size("9:16")


def test_extend_of_an_extend() -> None:
    root = ClipSpec(PROMPT, seconds=1.0)
    middle = ClipSpec("second", seconds=1.0, parent=root)
    clip = render_clip(ClipSpec("third", seconds=2.0, parent=middle))
    assert clip.frame_count == len(decode(clip.mp4).frames) == 4 * FPS
    assert clip.duration == pytest.approx(4.0)


def test_looping_extend_ends_on_the_clips_first_frame() -> None:
    parent = ClipSpec(PROMPT, seconds=2.0, seed=1)
    frames = decode(render_clip(ClipSpec("on", seconds=2.0, parent=parent, loop=True)).mp4).frames
    assert diff(frames[0], frames[-1]) < SAME


def test_extend_end_image_is_its_last_frame() -> None:
    parent = ClipSpec(PROMPT, seconds=1.0)
    clip = render_clip(ClipSpec("on", seconds=1.0, parent=parent, end_image=image_bytes(BLUE)))
    assert near(mean_colour(decode(clip.mp4).frames[-1]), BLUE)


def test_bad_image_in_an_ancestor_raises() -> None:
    parent = ClipSpec(PROMPT, start_image=b"junk")
    with pytest.raises(ValueError, match="start_image"):
        render_clip(ClipSpec("on", parent=parent))


# --- fallback --------------------------------------------------------------------------------


def test_fallback_assets_decode_as_reported() -> None:
    clip = fallback_clip()
    decoded = decode(clip.mp4)
    assert not clip.rendered
    assert (decoded.codec, decoded.pix_fmt) == ("h264", "yuv420p")
    assert (decoded.width, decoded.height) == (clip.width, clip.height) == clip_size("16:9")
    assert len(decoded.frames) == clip.frame_count
    assert decoded.duration == pytest.approx(clip.duration, abs=1 / FPS)
    boxes = top_level_boxes(clip.mp4)
    assert boxes.index("moov") < boxes.index("mdat")
    assert Image.open(io.BytesIO(clip.jpeg)).size == (clip.width, clip.height)
    assert len(clip.mp4) + len(clip.jpeg) < 100_000


def test_render_falls_back_without_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_media, "can_render", lambda: False)
    clip = render_clip(ClipSpec(PROMPT, aspect_ratio="9:16", start_image=image_bytes(RED)))
    assert clip == fallback_clip()
    assert not clip.rendered


def test_fallback_still_rejects_non_images(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_media, "can_render", lambda: False)
    with pytest.raises(ValueError, match="end_image"):
        render_clip(ClipSpec(PROMPT, end_image=b"<html>not found</html>"))
