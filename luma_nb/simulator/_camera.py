"""Camera moves over the simulator's backdrop: where the view is at each moment of a segment.

The backdrop is painted at twice the clip's size; a frame shows a window of it. A camera cue
(:mod:`._cues`) becomes a path of that window: its centre, zoom and rotation as functions of
the segment's progress. Pure arithmetic (no Pillow), so it is cheap and testable on its own.

=========== =================================================================================
cue         the window over the segment
=========== =================================================================================
drift       a small circle about the backdrop's centre (the default: periodic, so loops close)
push_in     zooms in 2x towards a fixed point
pull_out    zooms out from 2x
pan         slides 0.8 frame widths sideways (left or right, by the seed)
rise        slides one frame height upwards (as a crane or a drone rises)
orbit       turns by 30 degrees about its centre (either way, by the seed), zoomed 1.5x
static      stays put
handheld    shakes a little (about 1.5 % of the short side) around a fixed point
=========== =================================================================================

Moves that go somewhere follow the segment's *progress*, which for a looping segment runs
0 → 1 → 0, so a loop returns to its first frame.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["CameraPath", "View", "camera_path"]

_DRIFT = 0.2
_PAN = 0.8  # share of the frame's width travelled
_RISE = 1.0  # share of the frame's height travelled: all the room there is
_ZOOM = 2.0
# Turned by up to _ORBIT_DEGREES, a window zoomed this far still lies inside the backdrop for
# every ratio up to 4:1 (checked by the tests).
_ORBIT_ZOOM = 1.5
_ORBIT_DEGREES = 30.0
_SHAKE = 0.015
# Cycles per segment of the two shake components: incommensurate, so the shake never repeats.
_SHAKE_CYCLES = (7.3, 12.7)


@dataclass(frozen=True)
class View:
    """A window on the backdrop: centre (backdrop pixels), zoom (1 = clip size), degrees."""

    x: float
    y: float
    zoom: float = 1.0
    degrees: float = 0.0


@dataclass(frozen=True)
class CameraPath:
    """One segment's camera: :meth:`view` gives the window at each moment."""

    camera: str
    size: tuple[int, int]
    anchor: tuple[float, float]
    sign: float
    phases: tuple[float, float, float, float]

    def view(self, progress: float, theta: float) -> View:
        """The window at ``progress`` in [0, 1] (``theta``: the drift's angle, in radians)."""
        width, height = self.size
        ax, ay = self.anchor
        p = min(1.0, max(0.0, progress))
        if self.camera == "push_in":
            return self._inside(View(ax, ay, _ZOOM**p))
        if self.camera == "pull_out":
            return self._inside(View(ax, ay, _ZOOM ** (1 - p)))
        if self.camera == "pan":
            return View(width * (1 + self.sign * _PAN * (p - 0.5)), ay)
        if self.camera == "rise":
            return View(ax, height * (1 + _RISE * (0.5 - p)))
        if self.camera == "orbit":
            return self._inside(View(width, height, _ORBIT_ZOOM, self.sign * _ORBIT_DEGREES * p))
        if self.camera == "static":
            return View(ax, ay)
        if self.camera == "handheld":
            return self._inside(View(*self._shake(p)))
        # drift: a small circle about the backdrop's centre (periodic in theta).
        return View(width * (1 + _DRIFT * math.cos(theta)), height * (1 + _DRIFT * math.sin(theta)))

    def _shake(self, p: float) -> tuple[float, float]:
        amplitude = _SHAKE * min(self.size)
        (fast, faster), (a, b, c, d) = _SHAKE_CYCLES, self.phases
        dx = math.sin(2 * math.pi * fast * p + a) + 0.5 * math.sin(2 * math.pi * faster * p + b)
        dy = math.sin(2 * math.pi * fast * p + c) + 0.5 * math.sin(2 * math.pi * faster * p + d)
        return self.anchor[0] + amplitude * dx, self.anchor[1] + amplitude * dy

    def _inside(self, view: View) -> View:
        """Move the centre as little as needed for the whole window to lie on the backdrop."""
        width, height = self.size
        turn = math.radians(view.degrees)
        cos, sin = abs(math.cos(turn)), abs(math.sin(turn))
        half_w = (width * cos + height * sin) / (2 * view.zoom)
        half_h = (width * sin + height * cos) / (2 * view.zoom)
        x = min(2 * width - half_w, max(half_w, view.x))
        y = min(2 * height - half_h, max(half_h, view.y))
        return View(x, y, view.zoom, view.degrees)


def camera_path(camera: str, size: tuple[int, int], rng: random.Random) -> CameraPath:
    """Prepare the path of ``camera`` (a cue of :data:`._cues.CAMERAS`) for a clip of ``size``.

    ``rng`` picks the fixed point and the direction, so the seed varies them.
    """
    width, height = size
    anchor = (width * rng.uniform(0.75, 1.25), height * rng.uniform(0.75, 1.25))
    sign = 1.0 if rng.random() < 0.5 else -1.0
    phases = (
        rng.uniform(0, 2 * math.pi),
        rng.uniform(0, 2 * math.pi),
        rng.uniform(0, 2 * math.pi),
        rng.uniform(0, 2 * math.pi),
    )
    return CameraPath(camera, size, anchor, sign, phases)
