"""Render the simulator's clips: tiny, real, playable H.264 MP4 files that show the prompt.

Pillow draws the frames and PyAV (its wheel bundles libx264) encodes them. Both belong to the
optional ``render`` extra, so they are imported inside functions only: without them
:func:`render_clip` serves the bundled clip of :func:`fallback_clip`.

A clip is a chain of *segments*: the root, then one segment per ``extend``. Every segment runs
a time ``t`` from 0 to 1, and each of its frames is composed of

- the *base*: an animated gradient cross-faded with the segment's keyframes (the start and end
  images; for an extend, the parent's last frame; for a looping extend, the clip's first frame);
- the *overlay*: a glowing orb in motion and the wrapped prompt on a translucent panel, faded
  out wherever a keyframe must show unaltered;
- a tiny "simulated" watermark, stamped on every frame as it is encoded.

Frames are deterministic: the same :class:`ClipSpec` always gives the same frames.
"""

from __future__ import annotations

import colorsys
import functools
import io
import math
import os
import random
import tempfile
import threading
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    import PIL.Image
    import PIL.ImageFont

    _Font: TypeAlias = "PIL.ImageFont.FreeTypeFont | PIL.ImageFont.ImageFont"
    _RGB: TypeAlias = tuple[int, int, int]

__all__ = [
    "ASPECT_RATIOS",
    "FPS",
    "ClipSpec",
    "RenderedClip",
    "can_render",
    "clip_size",
    "fallback_clip",
    "render_clip",
]

FPS = 12
"""Frame rate of every clip: low, since the frames are cheap slides and small files matter."""

ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
"""The ratios the official tools offer; :func:`clip_size` accepts any ``W:H`` within 4:1."""

# Every ratio gets about the pixel area of 384x216, so sizes and render times stay alike.
_AREA = 384 * 216
_MAX_RATIO = 4.0
_MAX_SEGMENT_SECONDS = 60.0

# x264 "veryfast" at CRF 28: ~28 KB and ~0.2 s for 5 s here, where "ultrafast" gives ~80 KB
# and "faster" is slower yet no smaller. (The encoder also runs on one thread, see _write_mp4.)
_X264_OPTIONS = {"preset": "veryfast", "crf": "28"}
_JPEG_QUALITY = 82

# Share of a segment over which a keyframe dissolves into the animation, and over which the
# overlay fades in or out next to a keyframe.
_DISSOLVE = 0.6
_FADE = 0.25

_WATERMARK = "simulated"
# Text goes through one shared FreeType face per size, which is not safe to use from two
# threads at once; the simulator may render in several.
_FONT_LOCK = threading.RLock()
_ASSETS_PACKAGE = "luma_nb.simulator"

# Characters the bundled font lacks but that have a readable ASCII stand-in.
_STAND_INS = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": " - "}
_STAND_INS |= {"\u2212": "-", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe"}
_STAND_INS |= {"\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u00a0": " "}


@dataclass(frozen=True)
class ClipSpec:
    """What to render: one segment, plus its parent's spec for an extend.

    Raises ``ValueError`` on construction for a malformed ``aspect_ratio`` or a ``seconds``
    outside (0, 60].
    """

    text: str
    aspect_ratio: str = "16:9"
    seconds: float = 5.0
    seed: int = 0
    start_image: bytes | None = field(default=None, repr=False)
    end_image: bytes | None = field(default=None, repr=False)
    loop: bool = False
    parent: ClipSpec | None = None

    def __post_init__(self) -> None:
        clip_size(self.aspect_ratio)
        if not (math.isfinite(self.seconds) and 0 < self.seconds <= _MAX_SEGMENT_SECONDS):
            raise ValueError(
                f"seconds must be in (0, {_MAX_SEGMENT_SECONDS:g}], got {self.seconds!r}"
            )


@dataclass(frozen=True)
class RenderedClip:
    """An encoded clip: MP4 bytes, a JPEG thumbnail (its first frame) and their facts."""

    mp4: bytes = field(repr=False)
    jpeg: bytes = field(repr=False)
    width: int
    height: int
    frame_count: int
    duration: float
    rendered: bool


def clip_size(aspect_ratio: str) -> tuple[int, int]:
    """Return the pixel size of clips with this aspect ratio.

    Parameters
    ----------
    aspect_ratio
        ``"W:H"`` with positive integers, e.g. ``"16:9"``; at most 4:1 either way.

    Returns
    -------
    tuple of int
        ``(width, height)``, both even (as yuv420p needs), about 83 kilopixels in all:
        16:9 gives 384x216.

    Raises
    ------
    ValueError
        If the ratio is malformed or too extreme.
    """
    width_part, colon, height_part = aspect_ratio.partition(":")
    try:
        ratio = int(width_part) / int(height_part) if colon else 0.0
    except (ValueError, ZeroDivisionError):
        ratio = 0.0
    if not 1 / _MAX_RATIO <= ratio <= _MAX_RATIO:
        raise ValueError(f"aspect_ratio must look like '16:9' (within 4:1), got {aspect_ratio!r}")
    return _even(math.sqrt(_AREA * ratio)), _even(math.sqrt(_AREA / ratio))


def can_render() -> bool:
    """Tell whether real clips can be rendered, i.e. PyAV and Pillow import.

    Returns
    -------
    bool
        False when the ``render`` extra is missing (or broken): clips then come from
        :func:`fallback_clip`.
    """
    try:
        import av  # noqa: F401
        import PIL.Image  # noqa: F401
    except ImportError:
        return False
    return True


def render_clip(spec: ClipSpec) -> RenderedClip:
    """Render a clip, or return the bundled one when rendering is unavailable.

    The clip's size comes from the root spec's ``aspect_ratio`` (an extend keeps its parent's
    size); its length is the sum of ``seconds`` along the ``parent`` chain. An extend ignores
    its own ``start_image``: it starts from the parent's last frame. Blocks for ~0.2 s per
    5 s of clip; call it off the event loop.

    Parameters
    ----------
    spec
        What to draw; see :class:`ClipSpec`.

    Returns
    -------
    RenderedClip
        ``rendered`` is False when this is :func:`fallback_clip`, the same 5 s 16:9 clip
        whatever the spec asked for.

    Raises
    ------
    ValueError
        If ``start_image`` or ``end_image`` of any segment is not a decodable image.
    """
    chain = _chain(spec)
    if not can_render():
        for segment in chain:
            _sniff_image(segment.start_image, "start_image")
            _sniff_image(segment.end_image, "end_image")
        return fallback_clip()
    size = clip_size(chain[0].aspect_ratio)
    # Decode every keyframe before encoding anything, so bad bytes fail fast.
    keyframes = [_segment_keyframes(segment, size) for segment in chain]
    mp4, jpeg, count = _encode(_clip_frames(chain, keyframes, size), size)
    return RenderedClip(
        mp4=mp4,
        jpeg=jpeg,
        width=size[0],
        height=size[1],
        frame_count=count,
        duration=count / FPS,
        rendered=True,
    )


@functools.lru_cache(maxsize=1)
def fallback_clip() -> RenderedClip:
    """Return the bundled pre-rendered clip (a 5 s 16:9 clip asking to install the extra).

    Returns
    -------
    RenderedClip
        The packaged ``assets/fallback.mp4`` and ``assets/fallback.jpg``, ``rendered=False``.
    """
    assets = resources.files(_ASSETS_PACKAGE) / "assets"
    return RenderedClip(
        mp4=(assets / "fallback.mp4").read_bytes(),
        jpeg=(assets / "fallback.jpg").read_bytes(),
        width=_FALLBACK_SIZE[0],
        height=_FALLBACK_SIZE[1],
        frame_count=_FALLBACK_FRAMES,
        duration=_FALLBACK_FRAMES / FPS,
        rendered=False,
    )


# --- the timeline ---------------------------------------------------------------------------


@dataclass
class _Plan:
    """Everything one segment's frames are made of, prepared once per segment."""

    size: tuple[int, int]
    backdrop: PIL.Image.Image
    start: PIL.Image.Image | None
    end: PIL.Image.Image | None
    mirrored: bool
    cycles: float
    phase: float
    orb: tuple[PIL.Image.Image, PIL.Image.Image]
    text: tuple[PIL.Image.Image, PIL.Image.Image] | None


def _chain(spec: ClipSpec) -> list[ClipSpec]:
    """Return the extend chain, root first."""
    chain: list[ClipSpec] = []
    node: ClipSpec | None = spec
    while node is not None:
        chain.append(node)
        node = node.parent
    chain.reverse()
    return chain


def _frame_count(seconds: float) -> int:
    return max(2, round(seconds * FPS))


def _clip_frames(
    chain: list[ClipSpec],
    keyframes: list[tuple[PIL.Image.Image | None, PIL.Image.Image | None]],
    size: tuple[int, int],
) -> Iterator[PIL.Image.Image]:
    """Yield every frame of the chain; streamed, so a long chain never sits in memory."""
    first: PIL.Image.Image | None = None
    last: PIL.Image.Image | None = None
    for spec, (start, end) in zip(chain, keyframes, strict=True):
        if last is not None:
            # An extend continues from where its parent stopped, whatever start image it has.
            start = last
            if spec.loop:
                end = first
        plan = _plan(spec, size, start, end, mirrored=spec.loop and last is None)
        count = _frame_count(spec.seconds)
        # An extend's t starts one step in, so the parent's last frame is not shown twice.
        offset = 0 if last is None else 1
        for index in range(count):
            frame = _compose(plan, (index + offset) / (count - 1 + offset))
            if first is None:
                first = frame
            last = frame
            yield frame


def _plan(
    spec: ClipSpec,
    size: tuple[int, int],
    start: PIL.Image.Image | None,
    end: PIL.Image.Image | None,
    *,
    mirrored: bool,
) -> _Plan:
    rng = random.Random(spec.seed)
    hue = rng.random()
    return _Plan(
        size=size,
        backdrop=_backdrop(size, hue, rng),
        start=start,
        end=end,
        mirrored=mirrored,
        # A loop with no end keyframe must come back to its first frame: whole cycles only.
        cycles=1.0 if mirrored else 0.7,
        phase=rng.uniform(0, 2 * math.pi),
        orb=_orb(max(4, round(min(size) * 0.065)), _hsv(hue + 0.5, 0.2, 1.0)),
        text=_text_layer(spec.text, size),
    )


def _compose(plan: _Plan, t: float) -> PIL.Image.Image:
    """Draw the frame at time ``t`` in [0, 1] of a segment."""
    from PIL import Image

    # A mirrored (looping) segment visits its keyframes forth and back: 0 -> 1 -> 0.
    u = 1 - abs(2 * t - 1) if plan.mirrored else t
    theta = 2 * math.pi * plan.cycles * t + plan.phase
    base = _keyframe_mix(plan, _backdrop_view(plan, theta), u)
    strength = _overlay_strength(plan, u)
    if strength <= 0:
        return base
    frame = base.copy()
    width, height = plan.size
    orb_rgb, orb_mask = plan.orb
    # An orbit near the edges, around the text panel; periodic in theta, so loops close.
    x = width / 2 + 0.43 * width * math.cos(theta) - orb_rgb.width / 2
    y = height / 2 + 0.4 * height * math.sin(theta) - orb_rgb.height / 2
    frame.paste(orb_rgb, (round(x), round(y)), orb_mask)
    if plan.text is not None:
        frame.paste(plan.text[0], (0, 0), plan.text[1])
    return frame if strength >= 1 else Image.blend(base, frame, strength)


def _keyframe_mix(plan: _Plan, moving: PIL.Image.Image, u: float) -> PIL.Image.Image:
    start, end = plan.start, plan.end
    if start is not None and end is not None:
        return _mix(start, end, _smooth(u))
    if start is not None:
        return _mix(start, moving, _smooth(u / _DISSOLVE))
    if end is not None:
        return _mix(moving, end, _smooth((u - (1 - _DISSOLVE)) / _DISSOLVE))
    return moving


def _overlay_strength(plan: _Plan, u: float) -> float:
    strength = 1.0
    if plan.start is not None:
        strength = min(strength, u / _FADE)
    if plan.end is not None:
        strength = min(strength, (1 - u) / _FADE)
    return max(0.0, strength)


def _mix(a: PIL.Image.Image, b: PIL.Image.Image, weight: float) -> PIL.Image.Image:
    from PIL import Image

    if weight <= 0:
        return a
    if weight >= 1:
        return b
    return Image.blend(a, b, weight)


def _smooth(x: float) -> float:
    """Smoothstep of x clamped to [0, 1]: fades that ease in and out."""
    x = min(1.0, max(0.0, x))
    return x * x * (3 - 2 * x)


# --- drawing ----------------------------------------------------------------------------------


def _backdrop(size: tuple[int, int], hue: float, rng: random.Random) -> PIL.Image.Image:
    """Paint a soft gradient twice the clip's size; the frames pan across it.

    It is computed on a coarse grid and upscaled bicubically: smooth colour for ~1 ms.
    """
    from PIL import Image

    width, height = size
    grid_w, grid_h = max(4, width // 12), max(4, height // 12)
    low, high = _hsv(hue, 0.7, 0.32), _hsv(hue + 0.12, 0.6, 0.62)
    blobs = [
        (rng.random(), rng.random(), rng.uniform(0.15, 0.35), _hsv(hue + shift, 0.55, 0.85))
        for shift in (0.45, 0.55, -0.1, 0.2)
    ]
    pixels: list[_RGB] = []
    for gy in range(grid_h):
        for gx in range(grid_w):
            x, y = gx / (grid_w - 1), gy / (grid_h - 1)
            colour = _lerp(low, high, (x + y) / 2)
            for bx, by, radius, tint in blobs:
                weight = math.exp(-((x - bx) ** 2 + (y - by) ** 2) / radius**2)
                colour = _lerp(colour, tint, 0.8 * weight)
            pixels.append(colour)
    coarse = Image.new("RGB", (grid_w, grid_h))
    coarse.putdata(pixels)
    return coarse.resize((2 * width, 2 * height), Image.Resampling.BICUBIC)


def _backdrop_view(plan: _Plan, theta: float) -> PIL.Image.Image:
    """Crop the backdrop along a circle: a camera drift that is periodic in theta."""
    width, height = plan.size
    left = round(width / 2 * (1 + math.cos(theta)))
    top = round(height / 2 * (1 + math.sin(theta)))
    return plan.backdrop.crop((left, top, left + width, top + height))


@functools.lru_cache(maxsize=8)
def _orb(radius: int, colour: _RGB) -> tuple[PIL.Image.Image, PIL.Image.Image]:
    """A glowing dot: the colour and a mask of a blurred disc with a crisp core."""
    from PIL import Image, ImageDraw, ImageFilter

    side = 4 * radius
    centre = side / 2
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse(
        (centre - radius, centre - radius, centre + radius, centre + radius), fill=170
    )
    mask = mask.filter(ImageFilter.GaussianBlur(radius / 2))
    core = 0.55 * radius
    ImageDraw.Draw(mask).ellipse((centre - core, centre - core, centre + core, centre + core), 255)
    return Image.new("RGB", (side, side), colour), mask


def _text_layer(text: str, size: tuple[int, int]) -> tuple[PIL.Image.Image, PIL.Image.Image] | None:
    """Lay the text out, as large as fits, centred on a translucent panel.

    Returns the colour and mask to paste, or None for blank text.
    """
    with _FONT_LOCK:
        text = _printable(text)
        if not text:
            return None
        return _draw_text(text, size)


def _draw_text(text: str, size: tuple[int, int]) -> tuple[PIL.Image.Image, PIL.Image.Image]:
    from PIL import Image, ImageDraw

    width, height = size
    pad = max(6, round(min(size) * 0.04))
    font, lines, line_height = _fit_text(text, round(width * 0.84) - 2 * pad, round(height * 0.62))
    block_w = max(font.getlength(line) for line in lines)
    block_h = line_height * len(lines)
    left, top = (width - block_w) / 2, (height - block_h) / 2
    layer = Image.new("RGBA", size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    draw.rounded_rectangle(
        (left - pad, top - pad, left + block_w + pad, top + block_h + pad),
        radius=pad,
        fill=(10, 10, 18, 125),
    )
    for row, line in enumerate(lines):
        centre = (width / 2, top + (row + 0.5) * line_height)
        draw.text(centre, line, font=font, fill=(255, 255, 255, 255), anchor="mm")
    return layer.convert("RGB"), layer.getchannel("A")


def _fit_text(text: str, box_w: int, box_h: int) -> tuple[_Font, list[str], int]:
    """Pick the largest font size whose wrapped lines fit the box; else cut with an ellipsis."""
    largest = max(12, round(min(box_w, box_h * 1.6) * 0.12))
    smallest = 11  # below this the bundled font stops being legible
    for size in range(largest, smallest - 1, -1):
        font = _font(size)
        line_height = round(size * 1.25)
        lines = _wrap(text, font, box_w)
        if len(lines) * line_height <= box_h:
            return font, lines, line_height
    keep = max(1, box_h // line_height)
    if len(lines) > keep:
        lines = lines[:keep]
        last = lines[-1]
        while last and font.getlength(last + "\u2026") > box_w:
            last = last[:-1]
        lines[-1] = last.rstrip() + "\u2026"
    return font, lines, line_height


def _wrap(text: str, font: _Font, max_width: int) -> list[str]:
    """Greedy word wrap; a word wider than the box is broken where it overflows."""
    lines: list[str] = []
    line = ""
    for word in text.split(" "):
        for piece in _split_word(word, font, max_width):
            candidate = f"{line} {piece}" if line else piece
            if line and font.getlength(candidate) > max_width:
                lines.append(line)
                line = piece
            else:
                line = candidate
    if line:
        lines.append(line)
    return lines


def _split_word(word: str, font: _Font, max_width: int) -> Iterator[str]:
    piece = ""
    for char in word:
        if piece and font.getlength(piece + char) > max_width:
            yield piece
            piece = ""
        piece += char
    if piece:
        yield piece


def _printable(text: str) -> str:
    """Collapse whitespace, drop control characters, and spell what the font lacks in ASCII.

    Characters with no stand-in (CJK, emoji...) keep the font's box glyph: visibly "text here".
    """
    chars: list[str] = []
    for char in " ".join(text.split()):
        if unicodedata.category(char).startswith("C"):
            continue
        chars.append(char if _has_glyph(char) else _stand_in(char))
    return " ".join("".join(chars).split())


def _stand_in(char: str) -> str:
    if char in _STAND_INS:
        return _STAND_INS[char]
    # Accented letters: the base letter, without its combining marks.
    bare = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    return bare if bare and all(_has_glyph(c) for c in bare) else char


@functools.lru_cache(maxsize=4096)
def _has_glyph(char: str) -> bool:
    return char.isspace() or _glyph_print(char) != _glyph_print("\ue000")


@functools.lru_cache(maxsize=4096)
def _glyph_print(char: str) -> bytes:
    """The pixels of one glyph, to tell real glyphs from the font's "missing" box."""
    from PIL import Image, ImageDraw

    canvas = Image.new("L", (32, 32), 0)
    ImageDraw.Draw(canvas).text((4, 4), char, font=_font(16), fill=255)
    return canvas.tobytes()


@functools.lru_cache(maxsize=64)
def _font(size: int) -> _Font:
    from PIL import ImageFont

    # Pillow's bundled font (Aileron): no font files needed, identical on every machine.
    return ImageFont.load_default(size=size)


@functools.lru_cache(maxsize=8)
def _watermark(size: tuple[int, int]) -> tuple[PIL.Image.Image, tuple[int, int]]:
    """The tiny "simulated" mark (RGBA) and where it goes: the bottom-right corner."""
    from PIL import Image, ImageDraw

    font = _font(max(9, round(min(size) * 0.05)))
    with _FONT_LOCK:
        left, top, right, bottom = font.getbbox(_WATERMARK)
        mark = Image.new("RGBA", (math.ceil(right - left) + 2, math.ceil(bottom - top) + 2))
        draw = ImageDraw.Draw(mark)
        draw.text((1 - left, 1 - top), _WATERMARK, font=font, fill=(0, 0, 0, 140))
        draw.text((-left, -top), _WATERMARK, font=font, fill=(255, 255, 255, 190))
    margin = max(3, round(min(size) * 0.025))
    return mark, (size[0] - mark.width - margin, size[1] - mark.height - margin)


def _stamp(frame: PIL.Image.Image) -> PIL.Image.Image:
    """Return a copy of the frame with the watermark (frames themselves stay clean keyframes)."""
    mark, position = _watermark(frame.size)
    stamped = frame.copy()
    stamped.paste(mark, position, mark)
    return stamped


def _hsv(hue: float, saturation: float, value: float) -> _RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _lerp(a: _RGB, b: _RGB, weight: float) -> _RGB:
    return (
        round(a[0] + (b[0] - a[0]) * weight),
        round(a[1] + (b[1] - a[1]) * weight),
        round(a[2] + (b[2] - a[2]) * weight),
    )


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


# --- keyframe images --------------------------------------------------------------------------


def _segment_keyframes(
    spec: ClipSpec, size: tuple[int, int]
) -> tuple[PIL.Image.Image | None, PIL.Image.Image | None]:
    return (
        _load_image(spec.start_image, size, "start_image"),
        _load_image(spec.end_image, size, "end_image"),
    )


def _load_image(data: bytes | None, size: tuple[int, int], name: str) -> PIL.Image.Image | None:
    """Decode an image and cover-fit it to the clip's size (centre crop, like a video would)."""
    from PIL import Image, ImageOps

    if data is None:
        return None
    try:
        with Image.open(io.BytesIO(data)) as image:
            # JPEG only: decode at a reduced scale that still covers the frame; much faster.
            image.draft("RGB", (max(size), max(size)))
            upright = ImageOps.exif_transpose(image)
            flat = _flatten(upright)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"{name}: not a decodable image ({len(data)} bytes): {exc}") from exc
    return ImageOps.fit(flat, size, Image.Resampling.BICUBIC)


def _flatten(image: PIL.Image.Image) -> PIL.Image.Image:
    """RGB, with any transparency composed over black (as a player shows it)."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", image.size, (0, 0, 0))
        flat.paste(rgba, (0, 0), rgba)
        return flat
    return image.convert("RGB")


def _sniff_image(data: bytes | None, name: str) -> None:
    """Without Pillow, reject at least bytes that no common image format starts with."""
    if data is None:
        return
    signatures = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a", b"BM")
    is_webp = data[:4] == b"RIFF" and data[8:12] == b"WEBP"
    if not (data.startswith(signatures) or is_webp):
        raise ValueError(f"{name}: not a JPEG, PNG, GIF, WebP or BMP image ({len(data)} bytes)")


# --- encoding ---------------------------------------------------------------------------------


def _encode(frames: Iterable[PIL.Image.Image], size: tuple[int, int]) -> tuple[bytes, bytes, int]:
    """Encode the frames; return the MP4 bytes, the first frame as JPEG, and the frame count."""
    # The muxer's faststart pass rewrites the file to move the index (moov) to the front, so
    # browsers can play before the end has arrived; that needs a real, seekable file.
    handle, name = tempfile.mkstemp(prefix="luma_nb-", suffix=".mp4")
    os.close(handle)
    path = Path(name)
    try:
        thumbnail, count = _write_mp4(path, frames, size)
        return path.read_bytes(), thumbnail, count
    finally:
        path.unlink(missing_ok=True)


def _write_mp4(
    path: Path, frames: Iterable[PIL.Image.Image], size: tuple[int, int]
) -> tuple[bytes, int]:
    import av
    from av.video.reformatter import (
        ColorPrimaries,
        ColorRange,
        Colorspace,
        ColorTrc,
        VideoReformatter,
    )

    thumbnail = b""
    count = 0
    with av.open(str(path), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        stream = out.add_stream("libx264", rate=FPS, options=dict(_X264_OPTIONS))
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        # One thread: byte-identical output for a spec, and the other core stays free.
        stream.thread_count = 1
        # Tag BT.709 explicitly: untagged video leaves players guessing, and they differ.
        context = stream.codec_context
        context.colorspace = 1  # AVCOL_SPC_BT709
        context.color_primaries = ColorPrimaries.BT709
        context.color_trc = ColorTrc.BT709
        context.color_range = ColorRange.MPEG
        reformatter = VideoReformatter()  # reused: it caches the conversion context
        for image in frames:
            stamped = _stamp(image)
            if count == 0:
                thumbnail = _jpeg(stamped)
            # from_image has no annotation in PyAV's stubs; from_bytes takes no rgb24.
            rgb = av.VideoFrame.from_image(stamped)  # type: ignore[no-untyped-call]
            frame = reformatter.reformat(
                rgb,
                format="yuv420p",
                dst_colorspace=Colorspace.ITU709,
                dst_color_range=ColorRange.MPEG,
            )
            frame.pts = count
            out.mux(stream.encode(frame))
            count += 1
        out.mux(stream.encode(None))
    return thumbnail, count


def _jpeg(image: PIL.Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=_JPEG_QUALITY, optimize=True)
    return buffer.getvalue()


# --- the bundled clip (its spec needs the helpers above) --------------------------------------

FALLBACK_SPEC = ClipSpec(
    text="luma_nb simulator \u2014 install luma_nb[render] for clips that show your prompt",
    seed=7,
)
"""The spec that ``python -m luma_nb.simulator._make_fallback`` renders into the assets."""

# Facts of the bundled assets, known without PyAV (which is absent whenever they are served).
_FALLBACK_SIZE = (384, 216)
_FALLBACK_FRAMES = 60
