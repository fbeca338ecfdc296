"""A study report worth sending: the verdict and the plot first, then every block side by side.

``study.export_html(path)`` writes one standalone HTML file that a colleague can read in ten
seconds and check in a minute:

1. the title and one line on the design (prompts x arms x repeats, how many completed and
   rated), and a note when the videos came from luma_nb's simulator;
2. **the verdict**: one sentence per factor about the ratings, the plot (inline SVG in the
   page's text colour, so it follows a dark theme), and the largest measured differences;
3. **every block** — one prompt (and repeat) in every arm — with its arms side by side, each
   a card (:mod:`luma_nb.experiment._report_arm`): the filmstrip, the player at the video's
   own size, the rating, the key measurements, the prompt diff; the rest folded away;
4. **all the numbers**, folded: the summary's tables.

It is built from the renderer's parts (:mod:`luma_nb.render`: the page shell, columns and
atomic writer of :mod:`~luma_nb.render.page` that the session report uses too, the one card,
the one player, the filmstrip and diff parts) and the summary's own views
(:mod:`luma_nb.experiment._summary_view`). The page is inert like the session report: no
script, no external resource, a Content-Security-Policy that forbids scripts, every string
escaped, videos embedded as ``data:`` URLs under the embed cap (the simulator's always
embedded or missing, never a link to its unresolvable host), and no local file path. Dates:
the only one is when the report was made, on this machine's clock; the simulator's own
timestamps never appear, and its generation times read "(simulated)".
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._html import esc
from luma_nb._media_policy import report_file_name
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.experiment._report_arm import arm_column
from luma_nb.experiment._summary_view import (
    figure_html,
    measured_html,
    tables_html,
    verdicts_html,
)
from luma_nb.render.filmstrip import row_strip
from luma_nb.render.page import clock_note, columns, date_text, page, write_page

if TYPE_CHECKING:
    from luma_nb.experiment._experiment import Experiment
    from luma_nb.video_metrics import Filmstrip

__all__ = ["export_study_html", "study_report_html"]

# The study's own styles, on top of the shared page's (render.page): block headings, the
# summary's lists, plot and tables, and the footer.
_STUDY_CSS = """
.luma-nb-block>h3{font-size:15px;margin:22px 0 8px;opacity:1}
.luma-nb-lede{margin:0 0 8px;opacity:.85}
.luma-nb-verdicts li,.luma-nb-measured li{margin:2px 0}
.luma-nb-plot svg{display:block}
.luma-nb-study-arm .luma-nb-strip img{width:100%}
.luma-nb-study table{border-collapse:collapse;font-size:13px;margin:12px 0}
.luma-nb-study caption{text-align:left;font-weight:600;padding:4px 0}
.luma-nb-study th,.luma-nb-study td{text-align:left;vertical-align:top;padding:3px 8px;
border-bottom:1px solid rgba(128,128,128,.25)}
.luma-nb-study footer{margin-top:32px;font-size:12px;opacity:.7}
""".replace("\n", "")

_SIMULATED = (
    "<b>Made on the simulator.</b> These clips come from luma_nb&rsquo;s built-in simulator, "
    "not from Luma: they stand in for real results, and their measurements show only that "
    "the study works. Generation times are on the simulator&rsquo;s sped-up clock, marked "
    "&ldquo;(simulated)&rdquo;."
)


def _filmstrips(records: Sequence[Mapping[str, Any]]) -> dict[str, Filmstrip]:
    """The filmstrip of each completed video (by iteration), from its local copy: the one
    measuring made (:mod:`luma_nb.experiment._measuring`), never decoded again; none at all
    without the ``research`` extra."""
    strips: dict[str, Filmstrip] = {}
    for record in records:
        if record.get("state") != "completed":
            continue
        strip = row_strip(record)
        if strip is not None:
            strips[str(record["iteration"])] = strip
    return strips


def _lede(experiment: Experiment, records: Sequence[Mapping[str, Any]]) -> str:
    plan = experiment.plan()
    prompts, arms, repeats = len(plan.prompts), len(plan.arms), plan.repeats
    completed = sum(r["state"] == "completed" for r in records)
    rated = sum(r["rating"] is not None for r in records)
    factors = ", ".join(
        f"{name} ({' / '.join(levels)})" for name, levels in experiment.factors.items()
    )
    return (
        f'<p class="luma-nb-lede">{esc(factors)}: {prompts} prompt'
        f"{'s' if prompts != 1 else ''} &times; {arms} arms &times; {repeats} "
        f"repeat{'s' if repeats != 1 else ''} = {len(records)} videos; {completed} completed, "
        f"{rated} rated.</p>"
    )


def _blocks(
    experiment: Experiment,
    records: Sequence[Mapping[str, Any]],
    strips: Mapping[str, Filmstrip],
    embed: bool | None,
) -> str:
    plan = experiment.plan()
    words = {arm.name: arm.words() for arm in plan.arms}
    by_block: dict[int, list[Mapping[str, Any]]] = {}
    for record in records:
        by_block.setdefault(int(record["pair"]), []).append(record)
    sections = []
    for pair, block in by_block.items():
        prompt = plan.prompt_of(pair)
        repeat = int(block[0]["repeat"])
        which = f" (repeat {repeat} of {plan.repeats})" if plan.repeats > 1 else ""
        arms = [
            arm_column(
                record,
                words.get(str(record["arm"]), str(record["arm"])),
                block_prompt=prompt,
                strip=strips.get(str(record["iteration"])),
                embed=embed,
            )
            for record in block
        ]
        sections.append(
            f'<section class="luma-nb-block" id="block-{pair:d}">'
            f"<h3>Block {pair:d}{esc(which)}: &ldquo;{esc(prompt)}&rdquo;</h3>"
            f"{columns(arms, min_width=420)}</section>"
        )
    return "".join(sections)


def study_report_html(
    experiment: Experiment,
    *,
    title: str | None = None,
    embed: bool | None = None,
    now: float | None = None,
) -> str:
    """The standalone page of a study (see the module's docstring), as a string.

    ``now`` is when the report is made (default: the current time).
    """
    if embed not in (None, True, False):
        raise ValidationError(f"embed must be None, True or False, not {embed!r}", field="embed")
    if title is not None and not isinstance(title, str):
        raise ValidationError(f"title must be text, not {type(title).__name__}", field="title")
    title = title or f"Study {experiment.id}"
    records = experiment.records()
    summary = experiment.summary()
    strips = _filmstrips(records)
    simulated = any(r.get("backend") == "simulator" for r in records)
    banner = f'<div class="luma-nb-note">{_SIMULATED}</div>' if simulated else ""
    made = time.time() if now is None else now
    seed = "" if experiment.seed is None else f" &middot; seed {experiment.seed:d}"
    blocks = _blocks(experiment, records, strips, embed)
    guide = (
        '<p class="luma-nb-muted">Each block is one prompt in every arm, side by side. '
        "Under each player, six evenly spaced frames of the clip (the motion, without "
        "playing it); the player plays it at its own size. Details (every measurement, what "
        "was sent, ids) are folded under each video.</p>"
    )
    body = (
        f'<div class="luma-nb-study">{_lede(experiment, records)}{banner}'
        f'<h2 id="verdict">Verdict</h2>{verdicts_html(summary)}{figure_html(summary)}'
        f"{measured_html(summary)}"
        f'<h2 id="blocks">The videos, block by block</h2>{guide}{blocks}'
        f'<h2 id="numbers">All the numbers</h2><details><summary>The tables: the arms, '
        f"ratings and measurements by factor, agreement with the ratings</summary>"
        f"{tables_html(summary)}</details>"
        f"<footer>Study {esc(experiment.id)}{seed} &middot; report made "
        f"{esc(date_text(made) or '?')} ({esc(clock_note(made))}) by luma_nb "
        f"{esc(__version__)}</footer></div>"
    )
    return page(title, body, extra_css=_STUDY_CSS)


def export_study_html(
    experiment: Experiment,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    embed: bool | None = None,
) -> Path:
    """Write :func:`study_report_html` to ``path`` (a folder gets ``<study id>.html``),
    atomically (:func:`luma_nb.render.page.write_page`). Returns the absolute path."""
    markup = study_report_html(experiment, title=title, embed=embed)
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / report_file_name(experiment.id)
    return write_page(markup, target)
