"""Regenerate the bundled fallback clip: ``python -m luma_nb.simulator._make_fallback``.

The simulator serves ``assets/fallback.mp4`` and ``assets/fallback.jpg`` when PyAV or Pillow
is missing. They are rendered by the real renderer from ``FALLBACK_SPEC``; rerun this after
changing the renderer's look, and commit both files.
"""

from __future__ import annotations

from pathlib import Path

from luma_nb.simulator import _media

ASSETS = Path(__file__).resolve().parent / "assets"


def main() -> None:
    """Render the fallback clip and write it beside the package's other assets."""
    if not _media.can_render():
        raise SystemExit("rendering needs PyAV and Pillow: pip install 'luma_nb[render]'")
    clip = _media.render_clip(_media.FALLBACK_SPEC)
    # fallback_clip() reports these without decoding, so they must match the constants.
    expected = (*_media._FALLBACK_SIZE, _media._FALLBACK_FRAMES)
    if (clip.width, clip.height, clip.frame_count) != expected:
        raise SystemExit(f"rendered {clip!r}, but _media expects {expected}; update it")
    ASSETS.mkdir(exist_ok=True)
    (ASSETS / "fallback.mp4").write_bytes(clip.mp4)
    (ASSETS / "fallback.jpg").write_bytes(clip.jpeg)
    print(f"wrote {ASSETS}: fallback.mp4 {len(clip.mp4)} B, fallback.jpg {len(clip.jpeg)} B")


if __name__ == "__main__":
    main()
