"""The one builder of media markup (``<video>``, ``<img>``), the shared stylesheet, RichView.

Every player and picture luma_nb writes comes from :func:`player` and :func:`picture`, given
a :class:`~luma_nb.render.media.Media` (or a ``src``) that :func:`~luma_nb.render.media.place`
chose: sources are already safe URLs, and are escaped again here anyway. Inline styles keep
the element inside its box where a sanitiser strips the ``<style>`` block (an untrusted
notebook). The markup has no script and no event handlers.
"""

from __future__ import annotations

from typing import Any

from luma_nb._html import esc
from luma_nb.render.media import Media

__all__ = ["CSS", "RichView", "note", "picture", "player", "style"]

# One stylesheet for every card. Selectors all start with ".luma-nb-" so nothing leaks into
# the page; colours are JupyterLab theme variables with neutral fallbacks (or mid-tone accents
# on translucent backgrounds) so the card reads well on light and dark themes alike. The
# ".luma-nb-sep" separators are for readers without this sheet (a sanitised notebook, a
# screen reader in text mode): with it, the badges' own boxes separate them.
# JupyterLab's (and Voila's) output area makes every <dl> a block and floats its <dt>s at 20%
# width, which beat the facts' grid (labels spilled over their values in a narrow card): the
# doubled class outranks those rules. The label column takes up to 40% and never less than
# its longest word.
CSS = """
.luma-nb-card{box-sizing:border-box;max-width:640px;margin:4px 0;padding:10px 12px;
border:1px solid var(--jp-border-color2,rgba(128,128,128,.35));border-radius:8px;
background:var(--jp-layout-color1,transparent);color:var(--jp-ui-font-color1,inherit);
font-family:var(--jp-ui-font-family,system-ui,-apple-system,"Segoe UI",sans-serif);
font-size:13px;line-height:1.45}
.luma-nb-head{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-bottom:8px}
.luma-nb-sep{display:none}
.luma-nb-title{font-weight:600;margin-right:auto;overflow-wrap:anywhere}
.luma-nb-badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:11px;
font-weight:600;line-height:18px;white-space:nowrap;color:#8b949e;
background:rgba(139,148,158,.15)}
.luma-nb-ok{color:#2da44e;background:rgba(45,164,78,.14)}
.luma-nb-run{color:#3b82f6;background:rgba(59,130,246,.14)}
.luma-nb-fail{color:#e5534b;background:rgba(229,83,75,.14)}
.luma-nb-sim{color:#c69026;background:rgba(198,144,38,.16)}
.luma-nb-player{display:block;width:100%;max-height:480px;background:#000;border-radius:6px}
.luma-nb-meta.luma-nb-meta{display:grid;grid-template-columns:fit-content(40%) minmax(0,1fr);
gap:2px 12px;margin:8px 0 0}
.luma-nb-meta.luma-nb-meta>dt{opacity:.7;overflow-wrap:normal;float:none;width:auto;margin:0;
padding:0}
.luma-nb-meta.luma-nb-meta>dd{margin:0;overflow-wrap:anywhere}
.luma-nb-mono{font-family:var(--jp-code-font-family,ui-monospace,Menlo,Consolas,monospace);
font-size:12px}
.luma-nb-prompt{white-space:pre-wrap;max-height:9em;overflow:auto}
.luma-nb-muted{opacity:.7}
.luma-nb-added{text-decoration:none;color:inherit;background:rgba(45,164,78,.24);border-radius:3px}
.luma-nb-removed{opacity:.6}
.luma-nb-status{margin:2px 0 0}
.luma-nb-note,.luma-nb-error{margin-top:8px;padding:6px 8px;border-radius:4px;
overflow-wrap:anywhere}
.luma-nb-note{border-left:3px solid #c69026;background:rgba(198,144,38,.10)}
.luma-nb-error{border-left:3px solid #e5534b;background:rgba(229,83,75,.10)}
.luma-nb-note a,.luma-nb-card a{color:var(--jp-content-link-color,#3b82f6)}
.luma-nb-card h3{font-size:12px;font-weight:600;margin:10px 0 2px;opacity:.8}
.luma-nb-details{margin-top:8px}
.luma-nb-details>summary{cursor:pointer;opacity:.8}
.luma-nb-grid{display:grid;gap:12px;align-items:start}
.luma-nb-grid .luma-nb-card{max-width:none;margin:0}
""".replace("\n", "")


def style(extra: str = "") -> str:
    """The ``<style>`` element of the shared sheet (plus a view's own rules)."""
    return f"<style>{CSS}{extra}</style>"


def _pixels(value: object) -> int | None:
    return value if type(value) is int and 0 < value <= 100_000 else None


def player(media: Media, *, loop: bool = False, size: tuple[object, object] | None = None) -> str:
    """A ``<video controls>`` element for ``media``, or ``""`` when it has no source.

    ``size`` is the video's ``(width, height)`` in pixels, when known: the player is then at
    most that wide (never upscaled into black bars) and reserves its box before loading.
    """
    if media.src is None:
        return ""
    attrs = [f'src="{esc(media.src)}"']
    if media.poster is not None:
        attrs.append(f'poster="{esc(media.poster)}"')
    if loop:
        attrs.append("loop")
    width, height = (_pixels(size[0]), _pixels(size[1])) if size is not None else (None, None)
    # Inline styles: the player keeps inside its box where a sanitiser strips the sheet.
    box = "max-width:100%"
    if width and height:
        attrs.append(f'width="{width:d}" height="{height:d}"')
        box = f"width:100%;max-width:{width:d}px;height:auto"
    return (
        '<video class="luma-nb-player" controls preload="metadata" playsinline '
        + " ".join(attrs)
        + f' style="{box}">Your browser cannot play this video.</video>'
    )


def picture(src: str | None, *, width: int = 96, alt: str = "") -> str:
    """A small 16:9 ``<img>`` (a thumbnail), or an empty placeholder of the same size."""
    height = width * 9 // 16
    box = f"width:{width:d}px;height:{height:d}px;border-radius:4px;"
    if src is None:
        return f'<div class="luma-nb-thumb" style="{box}background:rgba(128,128,128,.2)"></div>'
    return (
        f'<img class="luma-nb-thumb" src="{esc(src)}" style="{box}object-fit:cover" '
        f'alt="{esc(alt)}">'
    )


def note(media: Media) -> str:
    """The sentence under a player saying why it is linked or missing, or ``""``."""
    if media.note is None:
        return ""
    anchor = ""
    if media.link is not None:
        anchor = (
            f' <a href="{esc(media.link)}" target="_blank" rel="noopener noreferrer">'
            "open the video</a>"
        )
    return f'<div class="luma-nb-note">{esc(media.note)}{anchor}</div>'


class RichView:
    """Something that shows itself: HTML in a notebook, text in a terminal or ``repr``.

    Subclasses define :meth:`html` and :meth:`text`; IPython's display hooks come from here.
    """

    def html(self) -> str:
        """The HTML view."""
        raise NotImplementedError

    def text(self) -> str:
        """The plain-text view."""
        raise NotImplementedError

    def _repr_html_(self) -> str:
        return self.html()

    def _repr_mimebundle_(self, include: object = None, exclude: object = None) -> dict[str, str]:
        return {"text/html": self.html(), "text/plain": self.text()}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(self.text())

    def __repr__(self) -> str:
        return self.text()
