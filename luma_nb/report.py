"""Shareable reports: a session (or an experiment's rows) as one standalone HTML file.

``export_html(log, "report.html")`` writes a page that opens in any browser with no kernel
and, when the media is embedded, no network: a header (session, counts, backend, toolkit
version, when it was made, and the one clock its dates are on), an optional summary block, an
overview table, then one card per iteration (:func:`luma_nb.render.row_card.iteration_card`):
the video at its native size with its filmstrip, the prompt as sent with what the service
added highlighted, the settings, the state or the error (code, message, trace id), the
rating, note and tags, the key measured values, the generation time and the date. The rest —
every request field that was sent, under a human label, every metric, the ids — is folded
under "Details". A field that was not sent has no row.

The parts are public so that other reports (a study's) compose the same page:
:func:`report_parts` gives the header, the banner and the cards; :func:`iteration_cards`
only the cards; :mod:`luma_nb.render.page` holds the page shell and the file writer.

Where the videos come from
--------------------------
A report is meant to travel, so by default (``embed=None``) every video that has a local copy
— the row's ``media_path`` (the notebook helpers save one), else the media cache — is embedded
as a base64 ``data:`` URL when it is no larger than :func:`luma_nb.display.embed_limit`. A
video the browser could not load anyway (the simulator's ``.invalid`` URLs, loopback) is
fetched through the registered fetcher first, as the notebook cards do. A public ``http(s)``
video with no local copy is referenced, not downloaded: exporting never starts a download
from a CDN unless ``embed=True`` asks for it. Over the cap, the card links the remote video
(when it has a usable URL) and says why. ``embed=False`` embeds nothing (no filmstrip
either). Filmstrips are made from the local copies only (never downloaded for them), once.

Safety
------
Every string from a row is HTML-escaped; only ``http(s)`` URLs and base64 ``data:`` URLs of
image/video types become a ``src``, ``poster`` or ``href``, and a link only where a browser
could follow it. The page has no script, loads no external CSS, script or font, and carries a
Content-Security-Policy that forbids scripts, so even a mistake in escaping could not run
code. Local file paths (``media_path``) are not written into the report, and a file is read
into it only when it is media inside luma_nb's media cache (:mod:`luma_nb._media_policy`), so
a log naming ``~/.ssh/id_rsa`` embeds nothing. ``summary_html`` is trusted markup, inserted
as is.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from luma_nb._html import esc, human_bytes
from luma_nb._media_policy import report_file_name
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.render.adapt import media_of_row, records_of, text_or_none
from luma_nb.render.card import Fact, facts, mono
from luma_nb.render.filmstrip import filmstrips_available, row_strip
from luma_nb.render.media import Media, embed_limit
from luma_nb.render.page import clock_note, date_text, page, section, write_page
from luma_nb.render.row_card import iteration_card, overview_table

__all__ = [
    "ReportParts",
    "export_html",
    "iteration_cards",
    "report_html",
    "report_parts",
    "summary_markup",
]


def _distinct(rows: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    seen: list[str] = []
    for row in rows:
        value = text_or_none(row.get(key))
        if value and value not in seen:
            seen.append(value)
    return seen


def _check_embed(embed: object) -> None:
    if embed not in (None, True, False):
        raise ValidationError(f"embed must be None, True or False, not {embed!r}", field="embed")


def summary_markup(summary_html: object) -> str:
    """A summary block's markup: HTML text as is, or an object's ``_repr_html_()``.

    Raises
    ------
    ValidationError
        For anything else.
    """
    if summary_html is None:
        return ""
    if isinstance(summary_html, str):
        return summary_html
    render = getattr(summary_html, "_repr_html_", None)
    if callable(render):
        markup = render()
        if isinstance(markup, str):
            return markup
    raise ValidationError(
        "summary_html must be HTML text (or an object with _repr_html_), "
        f"not {type(summary_html).__name__}",
        field="summary_html",
    )


def iteration_cards(
    rows: Sequence[Mapping[str, Any]],
    *,
    embed: bool | None = None,
    titles: Sequence[str | None] | None = None,
) -> tuple[list[str], list[Media]]:
    """The report's card of each row, and where each one's video comes from.

    Parameters
    ----------
    rows : sequence of mapping
        Session-log rows with plain values (:func:`luma_nb.render.adapt.records_of`).
    embed : bool or None
        As for :func:`export_html`.
    titles : sequence of str or None, optional
        A title per card instead of ``#<n> · <action>`` (``None`` keeps the default).

    Returns
    -------
    (list of str, list of Media)
        Each card's markup (anchored ``step-<n>``; an extend links to its parent's card when
        it is among ``rows``), and each one's :class:`~luma_nb.render.media.Media`.
    """
    _check_embed(embed)
    anchors: dict[str, int] = {}
    for index, row in enumerate(rows):
        iteration = text_or_none(row.get("iteration"))
        if iteration is not None:
            anchors.setdefault(iteration, index)
    cards, media = [], []
    for index, row in enumerate(rows):
        placed = media_of_row(row, embed=embed, standalone=True)
        strip = row_strip(row) if embed is not False else None
        title = titles[index] if titles is not None and index < len(titles) else None
        cards.append(
            iteration_card(
                row, index=index, media=placed, strip=strip, anchors=anchors, title=title
            )
        )
        media.append(placed)
    return cards, media


@dataclass(frozen=True)
class ReportParts:
    """The pieces of a report page, for :func:`report_html` and for other reports to compose.

    Attributes
    ----------
    title : str
        The page's title (plain text).
    header : str
        The facts under the title (session, iterations, backend, videos, toolkit, when it was
        made, the dates' clock), as markup.
    banner : str
        The note saying what a simulated result is, or ``""``.
    overview : str
        The overview table (``""`` when there are no rows).
    cards : list of str
        One card per row.
    """

    title: str
    header: str
    banner: str
    overview: str
    cards: list[str]


def _videos_fact(rows: Sequence[Mapping[str, Any]], media: Sequence[Media]) -> str:
    embedded = sum(m.embedded for m in media)
    linked = sum(1 for m in media if m.src is not None and not m.embedded)
    missing = sum(1 for row in rows if text_or_none(row.get("video_url"))) - embedded - linked
    limit = embed_limit()
    text = f"{embedded} embedded, {linked} linked" + (
        f", {missing} not available" if missing else ""
    )
    text += f" (embed cap {human_bytes(limit) if limit else 'off'})"
    if not filmstrips_available():
        text += "; no filmstrips: they need the research extra (PyAV, numpy, Pillow)"
    return text


def report_parts(
    rows_or_log: object,
    *,
    title: str | None = None,
    embed: bool | None = None,
    now: float | None = None,
) -> ReportParts:
    """The header, banner, overview and cards of a report of ``rows_or_log``.

    Parameters are those of :func:`export_html`; ``now`` is when the report is made
    (default: the current time). Raises as :func:`report_html` does.
    """
    _check_embed(embed)
    if title is not None and not isinstance(title, str):
        raise ValidationError(f"title must be text, not {type(title).__name__}", field="title")
    rows, session = records_of(rows_or_log)
    sessions = _distinct(rows, "session") or ([session] if session else [])
    if title is None:
        title = f"luma_nb session {sessions[0]}" if len(sessions) == 1 else "luma_nb report"
    cards, media = iteration_cards(rows, embed=embed)

    states = Counter(text_or_none(row.get("state")) or "unknown" for row in rows)
    counts = ", ".join(f"{count} {state}" for state, count in states.most_common())
    backends = _distinct(rows, "backend")
    words = {"simulator": "luma_nb's simulator (simulated results)", "api": "the Luma API"}
    versions = _distinct(rows, "toolkit_version")
    toolkit = f"luma_nb {__version__}" + (
        f" (logged with {', '.join(versions)})" if versions and versions != [__version__] else ""
    )
    made = time.time() if now is None else now
    header: list[Fact] = [
        ("Sessions" if len(sessions) > 1 else "Session", mono(", ".join(sessions) or "—")),
        ("Iterations", esc(f"{len(rows)}" + (f" ({counts})" if counts else ""))),
        ("Backend", esc(", ".join(words.get(b, b) for b in backends) or "unknown")),
        ("Videos", esc(_videos_fact(rows, media))),
        ("Toolkit", esc(toolkit)),
        ("Made", esc(f"{date_text(made) or '?'} · {clock_note(made)}")),
    ]
    experiments = _distinct(rows, "experiment")
    if experiments:
        header.insert(2, ("Experiments", esc(", ".join(experiments))))
    banner = ""
    if "simulator" in backends:
        banner = (
            '<div class="luma-nb-note"><b>Simulated backend.</b> Videos marked '
            "&ldquo;simulated&rdquo; were made by luma_nb&rsquo;s built-in simulator, not by "
            "Luma: they stand in for real results, and their media has no public address "
            "(it is embedded here, or missing). Their generation times are on the "
            "simulator&rsquo;s sped-up clock, marked &ldquo;(simulated)&rdquo;; every date "
            "is this computer&rsquo;s.</div>"
        )
    return ReportParts(title, facts(header), banner, overview_table(rows) if rows else "", cards)


def report_html(
    rows_or_log: object,
    *,
    title: str | None = None,
    embed: bool | None = None,
    summary_html: object = None,
) -> str:
    """The standalone HTML page that :func:`export_html` writes, as a string.

    Parameters are those of :func:`export_html` (without ``path``).
    """
    parts = report_parts(rows_or_log, title=title, embed=embed)
    summary = summary_markup(summary_html)
    body = [parts.header, parts.banner]
    if summary:
        body.append(section("Summary", f'<div class="luma-nb-summary">{summary}</div>'))
    if parts.cards:
        body.append(section("Overview", parts.overview))
        body.append(section("Iterations", "".join(parts.cards)))
    else:
        body.append(section("Iterations", '<div class="luma-nb-note">No iterations.</div>'))
    return page(parts.title, "".join(body))


def export_html(
    rows_or_log: object,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    embed: bool | None = None,
    summary_html: object = None,
) -> Path:
    """Write a session, or an experiment's rows, as one standalone HTML file.

    Parameters
    ----------
    rows_or_log : SessionLog, DataFrame or sequence of dict
        What to report: a :class:`~luma_nb.SessionLog` (or anything with ``to_records()``),
        a DataFrame of session-log rows (``load_sessions``, an experiment's frame), or a list
        of row dicts. Rows use :data:`luma_nb.session_log.COLUMNS`; missing or extra keys are
        fine.
    path : str or PathLike
        The file to write (its folder is created). An existing folder gets a file named after
        the session (a slug of its id, see :func:`luma_nb._media_policy.report_file_name`;
        ``luma_nb-report.html`` for several) inside it. An existing file is
        replaced atomically.
    title : str, optional
        The page title; default ``"luma_nb session <id>"`` for one session, else
        ``"luma_nb report"``.
    embed : bool or None
        ``None``: embed every local copy under the cap, and what a browser could not load
        remotely; reference public videos that have no local copy. ``True``: embed all it
        can, downloading through the registered fetcher if needed. ``False``: embed nothing.
    summary_html : str or object with ``_repr_html_``, optional
        A summary block placed above the iterations (an experiment's summary). Trusted
        markup, inserted as is: escape any user text in it. Scripts in it do not run (the
        page's Content-Security-Policy forbids them).

    Returns
    -------
    Path
        The absolute path of the written file.

    Raises
    ------
    ValidationError
        For a source that is not rows, or a bad option.
    OSError
        When the file cannot be written.
    """
    markup = report_html(rows_or_log, title=title, embed=embed, summary_html=summary_html)
    target = Path(path).expanduser()
    if target.is_dir():
        # The name comes from the log, which anyone may have edited: a slug, never a path.
        rows, session = records_of(rows_or_log)
        sessions = _distinct(rows, "session") or ([session] if session else [])
        target = target / report_file_name(sessions[0] if len(sessions) == 1 else None)
    return write_page(markup, target)
