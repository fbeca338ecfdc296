"""Shareable reports: a session (or an experiment's rows) as one standalone HTML file.

``export_html(log, "report.html")`` writes a page that opens in any browser with no kernel
and, when the media is embedded, no network: a header (sessions, counts, backends, toolkit
version, when it was made), an optional summary block, an overview table, then one card per
iteration with its video, the prompt as sent and as echoed, every request parameter, the
state or the error (code, message, trace id), the rating, note, tags, experiment and arm.

Where the videos come from
--------------------------
A report is meant to travel, so by default (``embed=None``) every video that has a local copy
— the row's ``media_path`` (the notebook helpers save one), else the media cache — is embedded
as a base64 ``data:`` URL when it is no larger than :func:`luma_nb.display.embed_limit`. A
video the browser could not load anyway (the simulator's ``.invalid`` URLs, loopback) is
fetched through the registered fetcher first, as the notebook cards do. A public ``http(s)``
video with no local copy is referenced, not downloaded: exporting never starts a download
from a CDN unless ``embed=True`` asks for it. Over the cap, the card links the remote video
(when it has a usable URL) and says why. ``embed=False`` embeds nothing.

Safety
------
Every string from a row is HTML-escaped; only ``http(s)`` URLs and base64 ``data:`` URLs of
image/video types become a ``src``, ``poster`` or ``href``. The page has no script, loads no
external CSS, script or font, and carries a Content-Security-Policy that forbids scripts, so
even a mistake in escaping could not run code. Local file paths (``media_path``) are not
written into the report, and a file is read into it only when it is media inside luma_nb's
media cache (:mod:`luma_nb._media_policy`), so a log naming ``~/.ssh/id_rsa`` embeds nothing.
``summary_html`` is trusted markup, inserted as is.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from luma_nb._durations import generation_text, seconds_or_none
from luma_nb._html import esc, human_bytes, safe_url
from luma_nb._media_policy import report_file_name
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.render.adapt import media_of_row, records_of
from luma_nb.render.card import (
    Fact,
    backend_badge,
    badge,
    card,
    error_block,
    facts,
    generation_fact,
    label_badges,
    mono,
    prompt_facts,
    rating_fact,
    state_badge,
)
from luma_nb.render.markup import CSS
from luma_nb.render.media import Media, embed_limit, reachable_looking

__all__ = ["export_html", "report_html"]

#: The request columns, in the order a card lists them as "Parameters".
PARAMETER_COLUMNS: tuple[str, ...] = (
    "action",
    "aspect_ratio",
    "loop",
    "enhancement",
    "video_id_sent",
    "video_url_sent",
    "start_image_url",
    "end_image_url",
    "callback_url",
    "timeout",
)

# Defence in depth: even markup that slipped past escaping (or a careless summary_html) can
# neither run script nor pull anything but images and media; the page itself needs nothing
# else. Inline <style> is the only stylesheet.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; "
    "media-src data: http: https:; base-uri 'none'; form-action 'none'"
)

# Page-level styles for the standalone file; the cards reuse the notebook's stylesheet, whose
# JupyterLab variables fall back to neutral values outside Jupyter.
_PAGE_CSS = """
body{margin:0;background:#fff;color:#1f2328;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;line-height:1.5}
main{box-sizing:border-box;max-width:980px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;
border-bottom:1px solid rgba(128,128,128,.3)}
h3{font-size:13px;margin:10px 0 4px;opacity:.8}
.luma-nb-report .luma-nb-card{max-width:none;margin:0 0 14px}
.luma-nb-report .luma-nb-player{max-width:640px;max-height:400px}
.luma-nb-overview{border-collapse:collapse;width:100%;font-size:13px}
.luma-nb-overview th,.luma-nb-overview td{text-align:left;vertical-align:top;padding:4px 8px;
border-bottom:1px solid rgba(128,128,128,.25)}
.luma-nb-overview td.luma-nb-prompt-cell{max-width:420px;overflow-wrap:anywhere}
.luma-nb-summary{margin:8px 0 0;overflow-x:auto}
.luma-nb-stars{color:#c69026;letter-spacing:1px}
.luma-nb-tag{margin-right:4px}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}}
""".replace("\n", "")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


# --------------------------------------------------------------------------- rows in


# --------------------------------------------------------------------------- HTML out


def _when(epoch: object) -> str | None:
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not math.isfinite(epoch):
        return None
    try:
        return datetime.fromtimestamp(epoch).astimezone().isoformat(sep=" ", timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return None


def _value_html(value: object) -> str:
    if value is None:
        return '<span class="luma-nb-muted">(not sent)</span>'
    if isinstance(value, bool):
        return esc("true" if value else "false")
    return mono(value)


def _anchor(index: int) -> str:
    # Anchors come from the position, never from an id in the log: nothing to escape.
    return f"step-{index + 1:d}"


def _card(row: Mapping[str, Any], index: int, media: Media, anchors: dict[str, int]) -> str:
    action = _text(row.get("action")) or "iteration"
    iteration = _text(row.get("iteration"))
    title = f"#{index + 1} · {action}" + (f" · {iteration}" if iteration else "")
    badges = [state_badge(_text(row.get("state")) or "unknown")]
    backend = _text(row.get("backend"))
    if backend:
        badges.append(backend_badge(backend))
    if media.how is not None:
        badges.append(badge(media.how))
    experiment, arm = _text(row.get("experiment")), _text(row.get("arm"))
    if experiment or arm:
        badges.append(badge(" / ".join(x for x in (experiment, arm) if x)))

    prompt = row.get("prompt")
    echoed = row.get("echoed_prompt")
    about = prompt_facts(
        prompt if isinstance(prompt, str) else None,
        echoed if isinstance(echoed, str) else None,
        request_known=True,
    )
    about += rating_fact(row.get("rating"))
    if _text(row.get("note")):
        about.append(("Note", f'<div class="luma-nb-prompt">{esc(row["note"])}</div>'))
    raw_tags = row.get("tags") or ()
    tags = [raw_tags] if isinstance(raw_tags, str) else [t for t in raw_tags if isinstance(t, str)]
    if tags:
        about.append(("Tags", label_badges(tags)))
    if experiment:
        about.append(("Experiment", esc(experiment)))
    if arm:
        about.append(("Arm", esc(arm)))
    parent = _text(row.get("parent"))
    if parent:
        target = anchors.get(parent)
        shown = (
            f'<a href="#{_anchor(target)}">#{target + 1:d}</a> ' if target is not None else ""
        ) + mono(parent)
        about.append(("Extends", shown))

    parameters = [(name, _value_html(row.get(name))) for name in PARAMETER_COLUMNS]
    return card(
        title,
        badges,
        media=media,
        loop=row.get("loop") is True,
        error=error_block(
            _text(row.get("error_code")),
            _text(row.get("error_message")),
            kind=_text(row.get("error_type")),
            trace_id=_text(row.get("trace_id")),
            state=_text(row.get("state")),
        ),
        rows=about,
        sections=[("Parameters sent", parameters), ("Result", _result(row))],
        element="section",
        element_id=_anchor(index),
        with_style=False,
    )


def _result(row: Mapping[str, Any]) -> list[Fact]:
    result: list[Fact] = []
    state = _text(row.get("state"))
    raw = _text(row.get("raw_state"))
    shown_state = esc(state or "unknown") + (f" ({esc(raw)})" if raw and raw != state else "")
    result.append(("State", shown_state))
    result += generation_fact(row.get("elapsed"), row.get("backend"))
    submitted = _when(row.get("submitted_at"))
    if submitted:
        result.append(("Submitted", esc(submitted)))
    width, height = row.get("width"), row.get("height")
    if isinstance(width, int) and isinstance(height, int):
        result.append(("Size", esc(f"{width}\N{MULTIPLICATION SIGN}{height}")))
    for label, key in (
        ("Task id", "task_id"),
        ("Video id", "video_id"),
        ("Trace id", "trace_id"),
        ("Session", "session"),
    ):
        value = _text(row.get(key))
        if value:
            result.append((label, mono(value)))
    url = _text(row.get("video_url"))
    if url is not None and not url.startswith("data:"):
        # A link only where a browser could follow it; the simulator's URLs stay plain text.
        link = safe_url(url) if reachable_looking(url) else None
        shown = (
            f'<a href="{esc(link)}" target="_blank" rel="noopener noreferrer">{esc(link)}</a>'
            if link
            else mono(url)
        )
        result.append(("Video URL", shown))
    version = _text(row.get("toolkit_version"))
    if version:
        result.append(("Logged by", esc(f"luma_nb {version}")))
    return result


def _overview(rows: Sequence[Mapping[str, Any]]) -> str:
    head = "".join(
        f"<th>{esc(name)}</th>"
        for name in ("#", "action", "state", "prompt sent", "generation time", "rating", "arm")
    )
    body = []
    for index, row in enumerate(rows):
        prompt = _text(row.get("prompt")) or ""
        short = prompt if len(prompt) <= 90 else prompt[:87] + "..."
        elapsed = seconds_or_none(row.get("elapsed"))
        seconds = "" if elapsed is None else generation_text(elapsed, row.get("backend"))
        rating = row.get("rating")
        stars = str(rating) if isinstance(rating, int) and not isinstance(rating, bool) else ""
        cells = (
            f'<td><a href="#{_anchor(index)}">{index + 1:d}</a></td>',
            f"<td>{esc(_text(row.get('action')) or '')}</td>",
            f"<td>{esc(_text(row.get('state')) or '')}</td>",
            f'<td class="luma-nb-prompt-cell">{esc(short)}</td>',
            f"<td>{esc(seconds)}</td>",
            f"<td>{esc(stars)}</td>",
            f"<td>{esc(_text(row.get('arm')) or '')}</td>",
        )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'<table class="luma-nb-overview"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _distinct(rows: Sequence[Mapping[str, Any]], key: str) -> list[str]:
    seen: list[str] = []
    for row in rows:
        value = _text(row.get(key))
        if value and value not in seen:
            seen.append(value)
    return seen


def _summary_markup(summary_html: object) -> str:
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
    if embed not in (None, True, False):
        raise ValidationError(f"embed must be None, True or False, not {embed!r}", field="embed")
    if title is not None and not isinstance(title, str):
        raise ValidationError(f"title must be text, not {type(title).__name__}", field="title")
    rows, session = records_of(rows_or_log)
    summary = _summary_markup(summary_html)
    sessions = _distinct(rows, "session") or ([session] if session else [])
    if title is None:
        title = f"luma_nb session {sessions[0]}" if len(sessions) == 1 else "luma_nb report"

    anchors: dict[str, int] = {}
    for index, row in enumerate(rows):
        iteration = _text(row.get("iteration"))
        if iteration is not None:
            anchors.setdefault(iteration, index)
    media = [media_of_row(row, embed=embed, standalone=True) for row in rows]
    cards = [_card(row, i, m, anchors) for i, (row, m) in enumerate(zip(rows, media, strict=True))]

    states = Counter(_text(row.get("state")) or "unknown" for row in rows)
    counts = ", ".join(f"{count} {state}" for state, count in states.most_common())
    backends = _distinct(rows, "backend")
    embedded = sum(m.embedded for m in media)
    linked = sum(1 for m in media if m.src is not None and not m.embedded)
    with_url = sum(1 for row in rows if _text(row.get("video_url")))
    missing = with_url - embedded - linked
    media_text = f"{embedded} embedded, {linked} linked" + (
        f", {missing} not available" if missing else ""
    )
    limit = embed_limit()
    versions = _distinct(rows, "toolkit_version")
    toolkit = f"luma_nb {__version__}" + (
        f" (logged with {', '.join(versions)})" if versions and versions != [__version__] else ""
    )
    header: list[Fact] = [
        ("Sessions" if len(sessions) > 1 else "Session", mono(", ".join(sessions) or "—")),
        ("Iterations", esc(f"{len(rows)}" + (f" ({counts})" if counts else ""))),
        ("Backend", esc(", ".join(backends) or "unknown")),
        (
            "Videos",
            esc(f"{media_text} (embed cap {human_bytes(limit) if limit else 'off'})"),
        ),
        ("Toolkit", esc(toolkit)),
        ("Generated", esc(datetime.now().astimezone().isoformat(sep=" ", timespec="seconds"))),
    ]
    experiments = _distinct(rows, "experiment")
    if experiments:
        header.insert(2, ("Experiments", esc(", ".join(experiments))))

    banner = ""
    if "simulator" in backends:
        banner = (
            '<div class="luma-nb-note"><b>Simulated backend.</b> Videos marked '
            "&ldquo;simulated&rdquo; were made by luma_nb&rsquo;s built-in simulator, not by "
            "Luma: they stand in for real results. Their generation times are on the "
            "simulator&rsquo;s sped-up clock, marked &ldquo;(simulated)&rdquo;; every date "
            "is this machine&rsquo;s.</div>"
        )
    summary_block = (
        f'<h2>Summary</h2><div class="luma-nb-summary">{summary}</div>' if summary else ""
    )
    iterations = (
        "<h2>Overview</h2>" + _overview(rows) + "<h2>Iterations</h2>" + "".join(cards)
        if rows
        else '<h2>Iterations</h2><div class="luma-nb-note">No iterations.</div>'
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="luma_nb">'
        f"<title>{esc(title)}</title>"
        f"<style>{CSS}{_PAGE_CSS}</style></head>"
        '<body><main class="luma-nb-report">'
        f"<h1>{esc(title)}</h1>"
        f"{facts(header)}{banner}{summary_block}{iterations}"
        "</main></body></html>\n"
    )


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
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write a sibling temp file and rename it: a reader (or a crash) never sees half a report.
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed or removed)
        "wb", dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            handle.write(markup.encode("utf-8"))
        # Temp files are private (0600); a report is made to be read, like any saved page.
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target
