"""A deterministic, plausible stand-in for the service's prompt ``enhancement``.

What the real option changes is not documented (docs/api.md, open question 8). The simulator
makes its effect visible: the echoed ``prompt`` gains a camera move, a light and a style, chosen
by a hash of the prompt, so the same prompt is always enhanced the same way. The clip is
captioned with the prompt as sent whatever the option, and the added words act on the picture
instead (:mod:`._cues`): every phrase below names a camera move, a light or a style that the
renderer shows.
"""

from __future__ import annotations

import hashlib

__all__ = ["enhance_prompt"]

_CAMERA = (
    "slow dolly-in",
    "sweeping aerial shot",
    "handheld tracking shot",
    "smooth orbit around the subject",
    "low-angle crane shot",
    "static wide shot",
    "gentle push-in close-up",
    "steady side-scrolling pan",
)
_LIGHT = (
    "golden hour light",
    "soft volumetric light",
    "moody neon glow",
    "overcast diffuse light",
    "dramatic rim lighting",
    "warm candlelight",
    "crisp morning sun",
    "blue hour twilight",
)
_STYLE = (
    "cinematic, 35mm film grain",
    "photorealistic, shallow depth of field",
    "rich color grading, high detail",
    "dreamy, soft focus",
    "documentary realism",
    "vivid, high contrast",
    "muted pastel palette",
    "anamorphic lens flare, widescreen",
)


def enhance_prompt(prompt: str) -> str:
    """Rewrite ``prompt`` the way the simulator's ``enhancement`` does.

    An empty or blank prompt is returned unchanged.
    """
    text = prompt.strip()
    if not text:
        return prompt
    digest = hashlib.sha256(text.encode()).digest()
    camera = _CAMERA[digest[0] % len(_CAMERA)]
    light = _LIGHT[digest[1] % len(_LIGHT)]
    style = _STYLE[digest[2] % len(_STYLE)]
    return f"{text.rstrip(' .,;')}, {camera}, {light}, {style}"
