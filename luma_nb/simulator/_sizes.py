"""The pixel size of each clip: the ``video_size`` knob.

Whatever the mode, the ``video_width`` / ``video_height`` (and thumbnail sizes) a task reports
are the size of the files the simulator serves for it.

``"compact"`` (default)
    About 83 kilopixels at the requested aspect ratio (16:9 is 384x216): small files, fast
    renders (~0.2 s a clip).
``"service"``
    The sizes of the real service. Seen (docs/api.md, documented): **1360x752** for a text-only
    16:9 clip and **1552x656** for a 16:9 clip with a keyframe (``start_image_url`` /
    ``end_image_url``) or an ``extend``. The other ratios get Luma's sizes of about one
    megapixel (L, inferred): 9:16 752x1360, 1:1 1024x1024, 4:3 1168x864, 3:4 864x1168, 21:9
    1552x656, 9:21 656x1552. Renders take ~1 s a clip and files ~200 KB.
``(width, height)`` or ``"WxH"``
    Every clip at that size (even numbers, 16 to 4096), whatever its aspect ratio.

Without the ``render`` extra every clip is the bundled 384x216 one, and that is what is reported.
"""

from __future__ import annotations

import re

__all__ = ["KEYFRAME_SERVICE_SIZE", "SERVICE_SIZES", "VideoSize", "parse_video_size", "task_size"]

VideoSize = str | tuple[int, int]

SERVICE_SIZES: dict[str, tuple[int, int]] = {
    "16:9": (1360, 752),
    "9:16": (752, 1360),
    "1:1": (1024, 1024),
    "4:3": (1168, 864),
    "3:4": (864, 1168),
    "21:9": (1552, 656),
    "9:21": (656, 1552),
}
#: The service's size of a 16:9 clip made with a keyframe or by an extend.
KEYFRAME_SERVICE_SIZE = (1552, 656)

_MIN_SIDE = 16
_MAX_SIDE = 4096


def parse_video_size(value: object) -> VideoSize:
    """Validate the knob: ``"compact"``, ``"service"``, ``"WxH"`` or ``(width, height)``.

    Raises
    ------
    ValueError
        For anything else, or a side that is odd or outside 16..4096.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("compact", "service"):
            return text
        match = re.fullmatch(r"(\d{1,5})\s*[x\u00d7]\s*(\d{1,5})", text)
        if not match:
            raise ValueError(f"video size must be compact, service or WxH, got {value!r}")
        value = (int(match[1]), int(match[2]))
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"video size must be compact, service or (width, height), got {value!r}")
    width, height = value
    for side in (width, height):
        if side % 2 or not _MIN_SIDE <= side <= _MAX_SIDE:
            raise ValueError(
                f"video sides must be even and within {_MIN_SIDE}..{_MAX_SIDE}, got {value!r}"
            )
    return (width, height)


def task_size(mode: VideoSize, aspect_ratio: str, *, keyframed: bool) -> tuple[int, int]:
    """The size of a task's clip.

    Parameters
    ----------
    mode : VideoSize
        A value :func:`parse_video_size` accepted.
    aspect_ratio : str
        The clip's ratio (an extend's is its parent's).
    keyframed : bool
        Whether the task has a start or end image or is an extend.
    """
    if isinstance(mode, tuple):
        return mode
    if mode == "service":
        if keyframed and aspect_ratio == "16:9":
            return KEYFRAME_SERVICE_SIZE
        if aspect_ratio in SERVICE_SIZES:
            return SERVICE_SIZES[aspect_ratio]
    from ._media import clip_size  # pure arithmetic: no PIL or PyAV import

    return clip_size(aspect_ratio)
