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

It is built from the renderer's parts (:mod:`luma_nb.render`: the one card, the one player,
the filmstrip and diff parts) and the summary's own views
(:mod:`luma_nb.experiment._summary_view`). The page is inert like the session report: no
script, no external resource, a Content-Security-Policy that forbids scripts, every string
escaped, videos embedded as ``data:`` URLs under the embed cap (the simulator's always
embedded or missing, never a link to its unresolvable host), and no local file path. Dates:
the only one is when the report was made, on this machine's clock; the simulator's own
timestamps never appear, and its generation times read "(simulated)".
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from luma_nb._html import esc
from luma_nb._media_policy import inside_media_cache, report_file_name
from luma_nb._version import __version__
from luma_nb.errors import ValidationError
from luma_nb.experiment._report_arm import arm_column
from luma_nb.experiment._summary_view import (
    figure_html,
    measured_html,
    tables_html,
    verdicts_html,
)
from luma_nb.render.markup import CSS

if TYPE_CHECKING:
    from luma_nb.experiment._experiment import Experiment
    from luma_nb.video_metrics import Filmstrip

__all__ = ["export_study_html", "study_report_html"]

# As the session report's: even markup that slipped past escaping could neither run script
# nor load anything but embedded images and media. Inline <style> is the only stylesheet.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: http: https:; "
    "media-src data: http: https:; base-uri 'none'; form-action 'none'"
)

_PAGE_CSS = """
body{margin:0;background:#fff;color:#1f2328;
font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;font-size:14px;line-height:1.5}
main{box-sizing:border-box;max-width:1040px;margin:0 auto;padding:24px 16px 48px}
h1{font-size:22px;margin:0 0 4px}
h2{font-size:17px;margin:28px 0 10px;padding-bottom:4px;
border-bottom:1px solid rgba(128,128,128,.3)}
h3{font-size:15px;margin:22px 0 8px}
h4{font-size:12px;margin:10px 0 2px;opacity:.75}
.luma-nb-lede{margin:0 0 8px;opacity:.85}
.luma-nb-verdicts li,.luma-nb-measured li{margin:2px 0}
.luma-nb-plot svg{display:block}
.luma-nb-arms{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,420px),1fr));
gap:12px;align-items:start}
.luma-nb-study .luma-nb-card{max-width:none;margin:0}
.luma-nb-study-arm .luma-nb-player{width:var(--luma-nb-native,100%);max-width:100%;
height:auto;max-height:none}
.luma-nb-study-arm .luma-nb-strip img{width:100%}
.luma-nb-more{margin:4px 2px 0;font-size:13px}
.luma-nb-study details>summary{cursor:pointer}
.luma-nb-study table{border-collapse:collapse;font-size:13px;margin:12px 0}
.luma-nb-study caption{text-align:left;font-weight:600;padding:4px 0}
.luma-nb-study th,.luma-nb-study td{text-align:left;vertical-align:top;padding:3px 8px;
border-bottom:1px solid rgba(128,128,128,.25)}
.luma-nb-study footer{margin-top:32px;font-size:12px;opacity:.7}
@media (prefers-color-scheme:dark){body{background:#0d1117;color:#e6edf3}}
""".replace("\n", "")

_SIMULATED = (
    "<b>Made on the simulator.</b> These clips come from luma_nb&rsquo;s built-in simulator, "
    "not from Luma: they stand in for real results, and their measurements show only that "
    "the study works. Generation times are on the simulator&rsquo;s sped-up clock, marked "
    "&ldquo;(simulated)&rdquo;."
)


def _filmstrips(
    records: Sequence[Mapping[str, Any]], cache_dir: str | os.PathLike[str] | None
) -> dict[str, Filmstrip]:
    """The filmstrip of each downloaded video (by iteration), from the cache when it was
    made at measuring time; none at all without the ``research`` extra."""
    from luma_nb.errors import ConfigError
    from luma_nb.video_metrics import make_filmstrip

    strips: dict[str, Filmstrip] = {}
    for record in records:
        local = inside_media_cache(record.get("media_path"))
        if record.get("state") != "completed" or local is None or not local.is_file():
            continue
        try:
            strip = make_filmstrip(local, cache_dir=cache_dir)
        except ConfigError:
            return strips
        except Exception:  # a damaged copy: the card shows the player alone
            strip = None
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
        columns = "".join(
            arm_column(
                record,
                words.get(str(record["arm"]), str(record["arm"])),
                block_prompt=prompt,
                strip=strips.get(str(record["iteration"])),
                embed=embed,
            )
            for record in block
        )
        sections.append(
            f'<section class="luma-nb-block" id="block-{pair:d}">'
            f"<h3>Block {pair:d}{esc(which)}: &ldquo;{esc(prompt)}&rdquo;</h3>"
            f'<div class="luma-nb-arms">{columns}</div></section>'
        )
    return "".join(sections)


def study_report_html(
    experiment: Experiment,
    *,
    title: str | None = None,
    embed: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> str:
    """The standalone page of a study (see the module's docstring), as a string.

    ``cache_dir`` is the media cache whose filmstrips to use (the study client's).
    """
    if embed not in (None, True, False):
        raise ValidationError(f"embed must be None, True or False, not {embed!r}", field="embed")
    if title is not None and not isinstance(title, str):
        raise ValidationError(f"title must be text, not {type(title).__name__}", field="title")
    title = title or f"Study {experiment.id}"
    records = experiment.records()
    summary = experiment.summary()
    strips = _filmstrips(records, cache_dir)
    simulated = any(r.get("backend") == "simulator" for r in records)
    banner = f'<div class="luma-nb-note">{_SIMULATED}</div>' if simulated else ""
    made = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    seed = "" if experiment.seed is None else f" &middot; seed {experiment.seed:d}"
    blocks = _blocks(experiment, records, strips, embed)
    guide = (
        '<p class="luma-nb-muted">Each block is one prompt in every arm, side by side. '
        "Frames: six evenly spaced frames of the clip (the motion, without playing it); "
        "the player plays it at its own size. Details (every measurement, what was sent, "
        "ids) are folded under each video.</p>"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_CSP)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="luma_nb">'
        f"<title>{esc(title)}</title><style>{CSS}{_PAGE_CSS}</style></head>"
        '<body><main class="luma-nb-report luma-nb-study">'
        f"<h1>{esc(title)}</h1>{_lede(experiment, records)}{banner}"
        f'<h2 id="verdict">Verdict</h2>{verdicts_html(summary)}{figure_html(summary)}'
        f"{measured_html(summary)}"
        f'<h2 id="blocks">The videos, block by block</h2>{guide}{blocks}'
        f'<h2 id="numbers">All the numbers</h2><details><summary>The tables: the arms, '
        f"ratings and measurements by factor, agreement with the ratings</summary>"
        f"{tables_html(summary)}</details>"
        f"<footer>Study {esc(experiment.id)}{seed} &middot; report made {esc(made)} by "
        f"luma_nb {esc(__version__)}</footer>"
        "</main></body></html>\n"
    )


def export_study_html(
    experiment: Experiment,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    embed: bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> Path:
    """Write :func:`study_report_html` to ``path`` (a folder gets ``<study id>.html``),
    atomically: a reader never sees half a report. Returns the absolute path."""
    markup = study_report_html(experiment, title=title, embed=embed, cache_dir=cache_dir)
    target = Path(path).expanduser()
    if target.is_dir():
        target = target / report_file_name(experiment.id)
    target = target.absolute()
    target.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 (closed below, renamed or removed)
        "wb", dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False
    )
    try:
        with handle:
            handle.write(markup.encode("utf-8"))
        os.chmod(handle.name, 0o644)  # a report is made to be read, like any saved page
        os.replace(handle.name, target)
    except BaseException:
        Path(handle.name).unlink(missing_ok=True)
        raise
    return target
