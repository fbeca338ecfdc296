"""Filmstrips: sizes, which frames, the cache, broken files, and the card part (escaped, inert)."""

from __future__ import annotations

import base64
import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest

np = pytest.importorskip("numpy")
pytest.importorskip("av")
pytest.importorskip("PIL.Image")
from _cliptools import grey, simulator_clip, write_clip  # noqa: E402
from PIL import Image  # noqa: E402

from luma_nb.errors import ValidationError  # noqa: E402
from luma_nb.render.filmstrip import filmstrip_alt, filmstrip_part  # noqa: E402
from luma_nb.simulator._media import ClipSpec  # noqa: E402
from luma_nb.video_metrics import (  # noqa: E402
    Filmstrip,
    VideoDecodeError,
    _measure,
    make_filmstrip,
    measure_video,
)

SIZE = (96, 54)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    """24 frames at 12 fps; frame i is a uniform grey of level 8 * i + 20."""
    return write_clip(tmp_path / "numbered.mp4", [grey(8 * i + 20, SIZE) for i in range(24)])


def slots(strip: Filmstrip) -> list[float]:
    """The mean grey level of each frame of the strip, read back from its JPEG."""
    with Image.open(strip.path) as image:
        assert image.format == "JPEG"
        assert image.size == (strip.width, strip.height)
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    step = strip.frame_width + strip.gap
    levels = []
    for slot in range(len(strip.indices)):
        left = slot * step
        # The middle of each frame: away from JPEG ringing at the black gaps.
        levels.append(float(pixels[10:-10, left + 10 : left + strip.frame_width - 10].mean()))
    return levels


def test_six_evenly_spaced_frames_in_order(numbered: Path, cache: Path) -> None:
    strip = make_filmstrip(numbered, cache_dir=cache)
    assert strip is not None
    assert strip.indices == (0, 5, 9, 14, 18, 23)  # first and last included
    assert strip.times == pytest.approx([index / 12 for index in strip.indices], abs=0.002)
    for level, index in zip(slots(strip), strip.indices, strict=True):
        assert level == pytest.approx(8 * index + 20, abs=3), (index, level)


def test_sizes(numbered: Path, cache: Path) -> None:
    strip = make_filmstrip(numbered, cache_dir=cache)
    assert strip is not None
    assert (strip.frame_height, strip.height) == (120, 120)
    assert strip.frame_width == round(96 * 120 / 54) == 213
    assert strip.width == 6 * 213 + 5 * strip.gap
    small = make_filmstrip(numbered, frames=3, height=48, cache_dir=cache)
    assert small is not None
    assert small.indices == (0, 12, 23)
    assert (small.frame_width, small.height) == (round(96 * 48 / 54), 48)
    assert small.width == 3 * small.frame_width + 2 * small.gap
    with Image.open(small.path) as image:
        assert image.size == (small.width, 48)
    assert small.path != strip.path  # one file per size


def test_a_short_clip_gives_every_frame(tmp_path: Path, cache: Path) -> None:
    short = write_clip(tmp_path / "short.mp4", [grey(40 * i + 30, SIZE) for i in range(4)])
    strip = make_filmstrip(short, cache_dir=cache)
    assert strip is not None and strip.indices == (0, 1, 2, 3)
    one = make_filmstrip(short, frames=1, cache_dir=cache)
    assert one is not None and one.indices == (1,)  # the middle frame
    assert one.width == one.frame_width


def test_made_once_then_reused(
    numbered: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = make_filmstrip(numbered, cache_dir=cache)
    assert first is not None
    assert first.path.parent == cache / "filmstrips"
    written = first.path.read_bytes()

    def no_decoding(*args: object, **kwargs: object) -> object:
        raise AssertionError("the cached strip should have been used")

    monkeypatch.setattr("luma_nb.video_metrics.decode_pass", no_decoding)
    assert make_filmstrip(numbered, cache_dir=cache) == first
    copy = tmp_path / "renamed copy.mp4"
    copy.write_bytes(numbered.read_bytes())
    assert make_filmstrip(copy, cache_dir=cache) == first  # keyed by content, not name
    assert first.path.read_bytes() == written


def test_measure_video_makes_the_same_strip_in_its_pass(numbered: Path, cache: Path) -> None:
    metrics = measure_video(numbered, filmstrip=True, cache_dir=cache)
    assert metrics.filmstrip is not None
    assert metrics.frames == 24
    assert make_filmstrip(numbered, cache_dir=cache) == metrics.filmstrip
    again = measure_video(numbered, filmstrip=True, cache_dir=cache)
    assert again.filmstrip == metrics.filmstrip
    assert replace(again, filmstrip=None) == replace(metrics, filmstrip=None)
    assert measure_video(numbered).filmstrip is None


def test_damaged_cache_entries_are_remade(numbered: Path, cache: Path) -> None:
    strip = make_filmstrip(numbered, cache_dir=cache)
    assert strip is not None
    sidecar = strip.path.with_suffix(".json")
    for damage in ("{not json", json.dumps({"v": 1, "width": "wide"}), "[]", ""):
        sidecar.write_text(damage, encoding="utf-8")
        assert make_filmstrip(numbered, cache_dir=cache) == strip
    strip.path.write_bytes(b"<svg onload=alert(1)>")  # not a JPEG any more
    assert make_filmstrip(numbered, cache_dir=cache) == strip
    assert strip.path.read_bytes()[:3] == b"\xff\xd8\xff"
    strip.path.unlink()
    assert make_filmstrip(numbered, cache_dir=cache) == strip


def test_the_default_cache_is_the_media_cache(
    numbered: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "default"))
    strip = make_filmstrip(numbered)
    assert strip is not None
    assert strip.path.parent == tmp_path / "default" / "filmstrips"


def test_the_strip_ends_on_the_last_frame_when_the_header_miscounts(
    numbered: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for announced in (40, 10):  # more, then fewer frames than the 24 the file holds
        monkeypatch.setattr(_measure, "_expected_frames", lambda *_, n=announced: n)
        strip = make_filmstrip(numbered, cache_dir=cache / str(announced))
        assert strip is not None
        assert strip.indices[0] == 0 and strip.indices[-1] == 23
        assert list(strip.indices) == sorted(set(strip.indices))
        assert slots(strip)[-1] == pytest.approx(8 * 23 + 20, abs=3)


def test_a_container_without_a_frame_count_is_planned_by_its_duration(
    tmp_path: Path, cache: Path
) -> None:
    import av

    path = tmp_path / "clip.webm"  # WebM's index has no frame count
    with av.open(str(path), mode="w", format="webm") as out:
        stream = out.add_stream("libvpx-vp9", rate=12)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for index in range(24):
            frame = av.VideoFrame.from_ndarray(grey(8 * index + 20, (64, 48)), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    with av.open(str(path)) as container:
        assert container.streams.video[0].frames == 0
    strip = make_filmstrip(path, cache_dir=cache)
    assert strip is not None
    assert strip.indices == (0, 5, 9, 14, 18, 23)
    assert measure_video(path).frames == 24


def test_a_broken_file_makes_no_strip(tmp_path: Path, cache: Path) -> None:
    whole = simulator_clip(tmp_path / "ok.mp4", ClipSpec("broken", seconds=2.0)).read_bytes()
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(VideoDecodeError):
        make_filmstrip(broken, cache_dir=cache)
    with pytest.raises(VideoDecodeError):
        measure_video(broken, filmstrip=True, cache_dir=cache)
    leftovers = list((cache / "filmstrips").glob("*")) if (cache / "filmstrips").exists() else []
    assert leftovers == []  # nothing half-written


@pytest.mark.parametrize(
    ("frames", "height"), [(0, 120), (33, 120), (True, 120), ("6", 120), (6, 8), (6, 2000)]
)
def test_bad_sizes_are_refused(numbered: Path, cache: Path, frames: object, height: object) -> None:
    with pytest.raises(ValidationError):
        make_filmstrip(numbered, frames=frames, height=height, cache_dir=cache)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- the card part


def test_the_part_embeds_the_strip_inert_with_alt_text(numbered: Path, cache: Path) -> None:
    strip = make_filmstrip(numbered, cache_dir=cache)
    assert strip is not None
    html = filmstrip_part(strip, label='arm "B" <script>alert(1)</script>')
    match = re.search(r'src="data:image/jpeg;base64,([A-Za-z0-9+/=]+)"', html)
    assert match, html[:300]
    assert base64.b64decode(match.group(1)) == strip.path.read_bytes()
    assert f'width="{strip.width}" height="{strip.height}"' in html
    assert "<script" not in html
    assert "&lt;script&gt;" in html and "&quot;B&quot;" in html
    assert not re.search(r"\son\w+=", html)  # no event handlers
    assert html.startswith("<figure") and html.endswith("</figure>")
    assert 'alt="Filmstrip of arm' in html
    alt = filmstrip_alt(strip)
    assert alt == "Filmstrip of the video: 6 frames at 0.0, 0.4, 0.8, 1.2, 1.5, 1.9 s"


def test_the_part_is_empty_without_a_usable_strip(
    numbered: Path, cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert filmstrip_part(None) == ""
    strip = make_filmstrip(numbered, cache_dir=cache)
    assert strip is not None
    # A file outside the media cache (a hand-made strip naming any file) is never read.
    outside = tmp_path / "outside.jpg"
    outside.write_bytes(strip.path.read_bytes())
    assert filmstrip_part(replace(strip, path=outside)) == ""
    assert filmstrip_part(replace(strip, path=Path("/etc/passwd"))) == ""
    assert filmstrip_part(replace(strip, path=42)) == ""  # type: ignore[arg-type]
    assert filmstrip_part(replace(strip, path=cache / "filmstrips" / "gone.jpg")) == ""
    monkeypatch.setenv("LUMA_NB_EMBED_MAX_BYTES", "100")  # over the embed cap
    assert filmstrip_part(strip) == ""


def test_the_part_survives_odd_strip_values(numbered: Path, cache: Path) -> None:
    strip = make_filmstrip(numbered, cache_dir=cache)
    assert strip is not None
    odd = replace(strip, width=-5, height=10**9, times=("x", None), indices=None)  # type: ignore[arg-type]
    html = filmstrip_part(odd)
    assert "data:image/jpeg" in html
    assert ' width="' not in html and ' height="' not in html
    assert 'alt="Filmstrip of the video: 0 frames"' in html
    buffer = io.BytesIO(strip.path.read_bytes())
    with Image.open(buffer) as image:
        assert image.size == (strip.width, strip.height)


def test_a_real_simulator_strip_shows_motion(tmp_path: Path, cache: Path) -> None:
    clip = simulator_clip(tmp_path / "sim.mp4", ClipSpec("a paper boat", seed=2))
    metrics = measure_video(clip, filmstrip=True, cache_dir=cache)
    strip = metrics.filmstrip
    assert strip is not None
    assert strip.indices == (0, 12, 24, 35, 47, 59)
    assert (strip.frame_width, strip.frame_height) == (213, 120)
    with Image.open(strip.path) as image:
        pixels = np.asarray(image.convert("L"), dtype=np.float64)
    first, last = pixels[:, :213], pixels[:, -213:]
    assert np.abs(first - last).mean() > 5  # frames of a moving clip differ
    assert strip.path.stat().st_size < 60_000  # small enough for every card
