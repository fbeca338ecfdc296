"""Read a prompt's camera, light and style words into the *cues* that direct a clip.

The simulator captions every clip with the prompt that was *sent*, so the two arms of a blind
enhancement study look alike in text. What the enhancement adds must still show: its words
act on the picture instead. This module only decides which words count (it draws nothing):

- one **camera** move: push-in / dolly-in / zoom in, pull-back / zoom out, pan / tracking /
  side-scrolling, aerial / crane / drone / tilt (a vertical move), orbit (a rotation), static /
  locked-off / tripod (no camera motion), handheld / shaky (a small shake); a prompt with none
  keeps the default gentle circular drift;
- one **light**: golden hour, candlelight, neon, overcast, rim lighting, volumetric / haze /
  fog, morning / dawn, blue hour / twilight / night;
- one **style**: cinematic / widescreen / anamorphic (letterbox bars), shallow depth of field /
  soft focus / dreamy (a soft background), vivid / high contrast, muted / pastel, rich colour,
  black and white / monochrome / noir, documentary (natural, toned down).

The rule when a prompt holds several words of one kind: **the first one wins** (the leftmost in
the text). An enhanced prompt is the user's prompt followed by the added words, so the user's own
words win over the enhancement's, and both arms of a study then share that camera or light.
Matching is case-insensitive on whole words; other words, and other scripts, are ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["CAMERAS", "LIGHTS", "STYLES", "Cues", "read_cues"]

# Each kind: (cue, pattern) pairs. At one position, the first pattern listed that matches wins,
# so the specific ("zoom out") comes before the general ("zoom").
_CAMERA_WORDS = (
    (
        "pull_out",
        r"pull(?:s|ing|ed)?[- ]?(?:back|out)|dolly(?:ing)?[- ]?out|zoom(?:s|ing)?[- ]?out",
    ),
    ("push_in", r"push(?:es|ing)?[- ]?in|dolly(?:ing)?(?:[- ]?in)?|zoom(?:s|ing|ed)?(?:[- ]?in)?"),
    ("pan", r"pan(?:s|ning|ned)?|side[- ]?scroll(?:s|ing)?|tracking"),
    ("rise", r"aerial|crane|drone|tilt(?:s|ing|ed)?|bird'?s[- ]eye"),
    ("orbit", r"orbit(?:s|ing|al)?|circling|arc shot"),
    ("static", r"static|locked[- ]off|tripod"),
    ("handheld", r"hand[- ]?held|shaky"),
)
_LIGHT_WORDS = (
    ("golden", r"golden[- ]hour|golden light|sunset|sunrise"),
    ("candle", r"candle[- ]?(?:light|lit)|firelight"),
    ("neon", r"neon|cyberpunk"),
    ("overcast", r"overcast|cloudy|diffused?"),
    ("rim", r"rim[- ]?light(?:ing)?|back[- ]?lit|chiaroscuro"),
    ("volumetric", r"volumetric|god rays|haze|hazy|fog|foggy|mist|misty"),
    ("morning", r"morning|dawn"),
    ("blue_hour", r"blue hour|twilight|dusk|night|moonlight|moonlit"),
)
_STYLE_WORDS = (
    ("letterbox", r"cinematic|widescreen|anamorphic|letterbox(?:ed)?"),
    ("soft", r"shallow depth of field|soft[- ]focus|dreamy|bokeh"),
    ("vivid", r"vivid|high[- ]contrast"),
    ("muted", r"muted|pastel"),
    ("rich", r"rich colou?rs?|colou?r grad(?:e|ed|ing)|technicolou?r"),
    ("mono", r"black[- ]and[- ]white|monochrome|noir"),
    ("natural", r"documentary"),
)

CAMERAS = ("drift", *(name for name, _ in _CAMERA_WORDS))
"""Every camera cue; ``"drift"`` is the default of a prompt with no camera word."""
LIGHTS = tuple(name for name, _ in _LIGHT_WORDS)
"""Every light cue."""
STYLES = tuple(name for name, _ in _STYLE_WORDS)
"""Every style cue."""


def _compile(words: tuple[tuple[str, str], ...]) -> re.Pattern[str]:
    # One alternation of named groups: ``search`` finds the leftmost word of the kind in one
    # linear pass, and ``lastgroup`` names it. Words are whole words (no "pan" in "Japan").
    groups = "|".join(f"(?P<{name}>{pattern})" for name, pattern in words)
    return re.compile(rf"(?<!\w)(?:{groups})(?!\w)", re.IGNORECASE)


_CAMERA_RE = _compile(_CAMERA_WORDS)
_LIGHT_RE = _compile(_LIGHT_WORDS)
_STYLE_RE = _compile(_STYLE_WORDS)


@dataclass(frozen=True)
class Cues:
    """What a prompt asks of the picture: one camera move, and at most one light and style."""

    camera: str = "drift"
    light: str | None = None
    style: str | None = None


def read_cues(text: str) -> Cues:
    """Return the cues of ``text``: per kind, the first matching word wins.

    Parameters
    ----------
    text
        A prompt, typically the echoed one (the sent one when ``enhancement`` is off).

    Returns
    -------
    Cues
        ``camera`` is ``"drift"`` and ``light``/``style`` are None where no word matched.
    """
    return Cues(
        camera=_first(_CAMERA_RE, text) or "drift",
        light=_first(_LIGHT_RE, text),
        style=_first(_STYLE_RE, text),
    )


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.lastgroup if match else None
