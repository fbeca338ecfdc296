"""Render the simulator's clips: tiny, real, playable H.264 MP4 files that show the prompt.

Pillow draws the frames and PyAV (its wheel bundles libx264) encodes them. Both belong to the
optional ``render`` extra, so they are imported inside functions only: without them
:func:`render_clip` serves the bundled clip of :func:`fallback_clip`.

A clip is a chain of *segments*: the root, then one segment per ``extend``. Every segment runs
a time ``t`` from 0 to 1, and each of its frames is composed of

- the *base*: a gradient strewn with soft lights, seen through a moving camera, cross-faded
  with the segment's keyframes (the start and end images; for an extend, the parent's last
  frame; for a looping extend, the clip's first frame);
- the *overlay*: a glowing orb in motion, letterbox bars for a widescreen style, and the caption
  (the wrapped ``text``) on a translucent panel, faded out wherever a keyframe must show
  unaltered;
- a tiny "simulated" watermark, stamped on every frame as it is encoded.

The caption is ``text``, the prompt as *sent*; the camera, light and style words of ``cues``
(the echoed prompt, rewritten by ``enhancement``) direct the picture instead (:mod:`._cues`,
:mod:`._camera`, :mod:`._grade`), so that two clips of one prompt with enhancement on and off
differ in motion and colour but not in their text.

Frames are deterministic: the same :class:`ClipSpec` always gives the same frames. The drawing
helpers live in :mod:`._drawing`, the encoder in :mod:`._encode`, keyframe decoding in
:mod:`._keyframe_pixels`.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import TYPE_CHECKING

from ._camera import CameraPath, View, camera_path
from ._cues import read_cues
from ._drawing import backdrop, hsv, orb, text_layer
from ._encode import FPS, encode
from ._grade import grader
from ._keyframe_pixels import load_image, sniff_image

if TYPE_CHECKING:
    from typing import TypeAlias

    import PIL.Image

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


ASPECT_RATIOS = ("16:9", "9:16", "1:1", "4:3", "3:4", "21:9", "9:21")
"""The ratios the official tools offer; :func:`clip_size` accepts any ``W:H`` within 4:1."""

# Every ratio gets about the pixel area of 384x216, so sizes and render times stay alike.
_AREA = 384 * 216
_MAX_RATIO = 4.0
_MAX_SEGMENT_SECONDS = 60.0
_MIN_SIDE, _MAX_SIDE = 16, 4096


# Share of a segment over which a keyframe dissolves into the animation, and over which the
# overlay fades in or out next to a keyframe.
_DISSOLVE = 0.6
_FADE = 0.25
# Letterbox bars (a widescreen style): each this share of the height.
_BARS = 0.11
# The soft-focus style blurs the backdrop by this share of the short side.
_SOFT = 0.05

_ASSETS_PACKAGE = "luma_nb.simulator"


@dataclass(frozen=True)
class ClipSpec:
    """What to render: one segment, plus its parent's spec for an extend.

    ``text`` is the caption drawn on the frames (the prompt as sent). ``cues`` is the text whose
    camera, light and style words direct the picture (:func:`._cues.read_cues`: the echoed
    prompt); ``None`` reads them from ``text``.

    ``size`` (``(width, height)``, even sides within 16..4096) forces the pixel size of the
    clip rendered from this spec (as the root of an extend chain's specs, it is ignored);
    ``None`` derives it from the root's ``aspect_ratio`` (:func:`clip_size`).

    Raises ``ValueError`` on construction for a malformed ``aspect_ratio`` or ``size``, or a
    ``seconds`` outside (0, 60].
    """

    text: str
    aspect_ratio: str = "16:9"
    seconds: float = 5.0
    seed: int = 0
    start_image: bytes | None = field(default=None, repr=False)
    end_image: bytes | None = field(default=None, repr=False)
    loop: bool = False
    parent: ClipSpec | None = None
    size: tuple[int, int] | None = None
    cues: str | None = None

    def __post_init__(self) -> None:
        clip_size(self.aspect_ratio)
        if self.size is not None:
            width, height = self.size
            if any(side % 2 or not _MIN_SIDE <= side <= _MAX_SIDE for side in (width, height)):
                raise ValueError(
                    f"size sides must be even and within {_MIN_SIDE}..{_MAX_SIDE}, "
                    f"got {self.size!r}"
                )
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

    The clip's size is ``spec.size`` when set, else it comes from the root spec's
    ``aspect_ratio`` (an extend keeps its parent's size); its length is the sum of ``seconds``
    along the ``parent`` chain. An extend ignores its own ``start_image``: it starts from the
    parent's last frame. Blocks for ~0.2 s per 5 s of a compact clip (~1 s at the service's
    1360x752); call it off the event loop.

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
            sniff_image(segment.start_image, "start_image")
            sniff_image(segment.end_image, "end_image")
        return fallback_clip()
    size = spec.size or clip_size(chain[0].aspect_ratio)
    # Decode every keyframe before encoding anything, so bad bytes fail fast.
    keyframes = [
        (
            load_image(segment.start_image, size, "start_image"),
            load_image(segment.end_image, size, "end_image"),
        )
        for segment in chain
    ]
    mp4, jpeg, count = encode(_clip_frames(chain, keyframes, size), size)
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
    camera: CameraPath
    bars: int


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
    from PIL import ImageFilter

    cues = read_cues(spec.text if spec.cues is None else spec.cues)
    grade = grader(cues.light, cues.style)
    rng = random.Random(spec.seed)
    hue = rng.random()
    scenery = backdrop(size, hue, rng, grade)
    if cues.style == "soft":
        scenery = scenery.filter(ImageFilter.GaussianBlur(_SOFT * min(size)))
    orb_colour = hsv(hue + 0.5, 0.2, 1.0)
    return _Plan(
        size=size,
        backdrop=scenery,
        start=start,
        end=end,
        mirrored=mirrored,
        # A loop with no end keyframe must come back to its first frame: whole cycles only.
        cycles=1.0 if mirrored else 0.7,
        phase=rng.uniform(0, 2 * math.pi),
        orb=orb(
            max(4, round(min(size) * 0.065)),
            grade(orb_colour) if grade else orb_colour,
            soft=cues.style == "soft",
        ),
        text=text_layer(spec.text, size),
        # Its own generator: the camera's draws leave the backdrop's and the drift's alone.
        camera=camera_path(cues.camera, size, random.Random(f"{spec.seed}:camera")),
        bars=round(_BARS * size[1]) if cues.style == "letterbox" else 0,
    )


def _compose(plan: _Plan, t: float) -> PIL.Image.Image:
    """Draw the frame at time ``t`` in [0, 1] of a segment."""
    from PIL import Image

    # A mirrored (looping) segment visits its keyframes forth and back: 0 -> 1 -> 0.
    u = 1 - abs(2 * t - 1) if plan.mirrored else t
    theta = 2 * math.pi * plan.cycles * t + plan.phase
    base = _keyframe_mix(plan, _backdrop_view(plan, plan.camera.view(u, theta)), u)
    strength = _overlay_strength(plan, u)
    if strength <= 0:
        return base
    frame = base.copy()
    width, height = plan.size
    if plan.bars:
        frame.paste((0, 0, 0), (0, 0, width, plan.bars))
        frame.paste((0, 0, 0), (0, height - plan.bars, width, height))
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


# --- small helpers ------------------------------------------------------------------------


def _backdrop_view(plan: _Plan, view: View) -> PIL.Image.Image:
    """The camera's window on the backdrop: a crop, or a zoomed or turned resample of it."""
    from PIL import Image

    width, height = plan.size
    if view.zoom == 1 and view.degrees == 0:
        left, top = round(view.x - width / 2), round(view.y - height / 2)
        return plan.backdrop.crop((left, top, left + width, top + height))
    # Output pixel (x, y) samples the backdrop at centre + R(turn) @ (x - w/2, y - h/2) / zoom.
    # Nearest neighbour: the backdrop is a smooth gradient at twice the clip's resolution,
    # where bilinear would cost ~15x as much for no visible gain.
    turn = math.radians(view.degrees)
    cos, sin = math.cos(turn) / view.zoom, math.sin(turn) / view.zoom
    matrix = (
        cos,
        -sin,
        view.x - cos * width / 2 + sin * height / 2,
        sin,
        cos,
        view.y - sin * width / 2 - cos * height / 2,
    )
    return plan.backdrop.transform(
        plan.size, Image.Transform.AFFINE, matrix, resample=Image.Resampling.NEAREST
    )


def _even(value: float) -> int:
    return max(2, 2 * round(value / 2))


# --- the bundled clip (its spec needs the helpers above) --------------------------------------

FALLBACK_SPEC = ClipSpec(
    text="luma_nb simulator \u2014 install luma_nb[render] for clips that show your prompt",
    seed=7,
)
"""The spec that ``python -m luma_nb.simulator._make_fallback`` renders into the assets."""

# Facts of the bundled assets, known without PyAV (which is absent whenever they are served).
_FALLBACK_SIZE = (384, 216)
_FALLBACK_FRAMES = 60
