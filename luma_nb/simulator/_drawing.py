"""Drawing the simulator's frames: the backdrop, the orb, the prompt text and the watermark.

Split from :mod:`._media` (which composes and encodes the frames). Pillow is imported inside the
functions only, as the ``render`` extra is optional.
"""

from __future__ import annotations

import colorsys
import functools
import math
import random
import threading
import unicodedata
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from typing import TypeAlias

    import PIL.Image
    import PIL.ImageFont

    _Font: TypeAlias = "PIL.ImageFont.FreeTypeFont | PIL.ImageFont.ImageFont"
    _RGB: TypeAlias = tuple[int, int, int]

__all__ = ["backdrop", "hsv", "orb", "printable", "stamp", "text_layer"]

_WATERMARK = "simulated"
# Out-of-focus lights strewn over each backdrop (see _scatter_lights).
_LIGHTS = 24
# Text goes through one shared FreeType face per size, which is not safe to use from two
# threads at once; the simulator may render in several.
_FONT_LOCK = threading.RLock()

# Characters the bundled font lacks but that have a readable ASCII stand-in.
_STAND_INS = {"\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": " - "}
_STAND_INS |= {"\u2212": "-", "\u00df": "ss", "\u00e6": "ae", "\u00c6": "AE", "\u0153": "oe"}
_STAND_INS |= {"\u00f8": "o", "\u00d8": "O", "\u0142": "l", "\u0141": "L", "\u00a0": " "}


def backdrop(
    size: tuple[int, int],
    hue: float,
    rng: random.Random,
    grade: Callable[[_RGB], _RGB] | None = None,
) -> PIL.Image.Image:
    """Paint a soft gradient twice the clip's size; the frames pan across it.

    It is computed on a coarse grid and upscaled bicubically: smooth colour for ~1 ms. ``grade``
    (a light or style cue's colour grade) maps each of the grid's colours.
    """
    from PIL import Image

    width, height = size
    grid_w, grid_h = max(4, width // 12), max(4, height // 12)
    low, high = hsv(hue, 0.7, 0.32), hsv(hue + 0.12, 0.6, 0.62)
    blobs = [
        (rng.random(), rng.random(), rng.uniform(0.15, 0.35), hsv(hue + shift, 0.55, 0.85))
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
    if grade is not None:
        pixels = [grade(colour) for colour in pixels]
    coarse = Image.new("RGB", (grid_w, grid_h))
    coarse.putdata(pixels)
    painted = coarse.resize((2 * width, 2 * height), Image.Resampling.BICUBIC)
    return _scatter_lights(painted, hue, rng, grade)


def _scatter_lights(
    image: PIL.Image.Image, hue: float, rng: random.Random, grade: Callable[[_RGB], _RGB] | None
) -> PIL.Image.Image:
    """Strew translucent discs with soft edges (out-of-focus lights) over the gradient.

    A smooth gradient alone hardly changes when the camera zooms or turns; these give the
    scene detail at every scale, so each camera move shows (and measures) as motion.
    """
    from PIL import Image, ImageDraw, ImageFilter

    width, height = image.size
    short = min(width, height)
    discs = image.copy()
    draw = ImageDraw.Draw(discs)
    for index in range(_LIGHTS):
        radius = short * rng.uniform(0.015, 0.07)
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        bright = index % 3 != 0
        colour = hsv(hue + rng.uniform(-0.15, 0.15), 0.35, 0.97) if bright else hsv(hue, 0.6, 0.15)
        draw.ellipse(
            (x - radius, y - radius, x + radius, y + radius),
            fill=grade(colour) if grade else colour,
        )
    return Image.blend(image, discs, 0.5).filter(ImageFilter.GaussianBlur(short * 0.012))


@functools.lru_cache(maxsize=8)
def orb(radius: int, colour: _RGB, soft: bool = False) -> tuple[PIL.Image.Image, PIL.Image.Image]:
    """A glowing dot: the colour and a mask of a blurred disc with a crisp core.

    ``soft`` (a soft-focus style) blurs it all, core included.
    """
    from PIL import Image, ImageDraw, ImageFilter

    side = 4 * radius
    centre = side / 2
    mask = Image.new("L", (side, side), 0)
    ImageDraw.Draw(mask).ellipse(
        (centre - radius, centre - radius, centre + radius, centre + radius), fill=170
    )
    mask = mask.filter(ImageFilter.GaussianBlur(radius if soft else radius / 2))
    if soft:
        return Image.new("RGB", (side, side), colour), mask
    core = 0.55 * radius
    ImageDraw.Draw(mask).ellipse((centre - core, centre - core, centre + core, centre + core), 255)
    return Image.new("RGB", (side, side), colour), mask


def text_layer(text: str, size: tuple[int, int]) -> tuple[PIL.Image.Image, PIL.Image.Image] | None:
    """Lay the text out, as large as fits, centred on a translucent panel.

    Returns the colour and mask to paste, or None for blank text.
    """
    with _FONT_LOCK:
        text = printable(text)
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


def printable(text: str) -> str:
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


def stamp(frame: PIL.Image.Image) -> PIL.Image.Image:
    """Return a copy of the frame with the watermark (frames themselves stay clean keyframes)."""
    mark, position = _watermark(frame.size)
    stamped = frame.copy()
    stamped.paste(mark, position, mark)
    return stamped


def hsv(hue: float, saturation: float, value: float) -> _RGB:
    red, green, blue = colorsys.hsv_to_rgb(hue % 1.0, saturation, value)
    return round(red * 255), round(green * 255), round(blue * 255)


def _lerp(a: _RGB, b: _RGB, weight: float) -> _RGB:
    return (
        round(a[0] + (b[0] - a[0]) * weight),
        round(a[1] + (b[1] - a[1]) * weight),
        round(a[2] + (b[2] - a[2]) * weight),
    )
