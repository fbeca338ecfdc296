"""Extend chains: a timeline of the clips from the root ``generate`` to an extend, and a player.

``timeline(log, iteration)`` follows :meth:`SessionLog.lineage` and shows every step: its clip
(player and poster) and filmstrip, the prompt sent and echoed, the key measured values (when
measured), the elapsed time and the ids.
``chain_player(log, iteration)`` plays the chain's clips in order in one player.

An extend's clip already holds its parent
-----------------------------------------
An extend *continues* a video: the clip it returns starts with everything before it (the
simulator appends a segment to its parent's frames, and Luma's extend returns the continued
video). So **the last clip alone is the whole chain**: ``chain_player(..., mode="last")``
shows just that, and the sequence player has a "whole chain" button. Played one after the
other, the clips would repeat their parents' footage, so by default the sequence starts each
extend where its parent ended ("skip what each clip repeats", a checkbox in the player).

How the player sequences clips
------------------------------
Starting the next clip when one ends needs the browser's ``ended`` event, so the player is
HTML with one ``<video>`` per step plus a small inline script. The script holds no data at
all — only the player's random element id; every prompt and URL is an escaped attribute or
text node, exactly as in the other cards. Where scripts do not run (an untrusted notebook
whose outputs are sanitised, a static HTML export), the same markup degrades to the clips
listed in order, each playable by hand, and the last one labelled as the whole chain.

An ipywidgets player was considered and rejected: ``widgets.Video`` exposes no ``ended``
event, so advancing would need Play/Next buttons driven by the kernel; it goes blank in a
saved notebook, in nbconvert output and on GitHub, and needs a live kernel. The HTML player
keeps working wherever the notebook's HTML is shown.
"""

from __future__ import annotations

import dataclasses
import re
import secrets
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from luma_nb._durations import generation_text, is_simulated, seconds_or_none
from luma_nb._html import clean_text, esc
from luma_nb.errors import ValidationError
from luma_nb.models import Video
from luma_nb.render import text as plain
from luma_nb.render.adapt import media_of_row, text_or_none
from luma_nb.render.card import (
    Fact,
    backend_badge,
    badge,
    broken,
    generation_fact,
    head,
    prompt_facts,
    state_badge,
)
from luma_nb.render.filmstrip import row_strip
from luma_nb.render.markup import RichView, note, player, style
from luma_nb.render.measured import key_metrics_fact
from luma_nb.render.row_card import ID_FIELDS, card_of_row, id_facts

if TYPE_CHECKING:
    from luma_nb.session_log import SessionLog

__all__ = ["ChainPlayer", "Timeline", "chain_player", "timeline"]

_MODES = ("sequence", "last")

# The controls get "display:flex" only once shown: an author display rule would otherwise beat
# the hidden attribute and show dead buttons where the script cannot run.
_CHAIN_CSS = """
.luma-nb-timeline{list-style:none;margin:8px 0 0;padding:0 0 0 18px;
border-left:2px solid rgba(128,128,128,.35)}
.luma-nb-step{position:relative;margin:0 0 14px}
.luma-nb-step::before{content:"";position:absolute;left:-25px;top:6px;width:10px;height:10px;
border-radius:50%;background:#3b82f6}
.luma-nb-chain-stage figure{margin:0 0 10px}
.luma-nb-chain-stage figcaption{margin-top:4px;overflow-wrap:anywhere}
.luma-nb-chain-controls{flex-wrap:wrap;align-items:center;gap:6px;margin:6px 0}
.luma-nb-chain-controls:not([hidden]){display:flex}
.luma-nb-chain-controls button{font:inherit;padding:2px 10px;border-radius:4px;cursor:pointer;
border:1px solid rgba(128,128,128,.5);background:transparent;color:inherit}
""".replace("\n", "")

# The sequencing script. It is a constant: the only value that reaches it is the player's own
# element id, made here from random hex digits (checked by _PLAYER_ID before use).
_PLAYER_JS = """(function(id){
var root=document.getElementById(id);
if(!root){var s=document.currentScript;root=s&&s.previousElementSibling;}
if(!root||root.id!==id||root.getAttribute("data-ready"))return;
root.setAttribute("data-ready","1");
var steps=Array.prototype.slice.call(root.querySelectorAll("figure[data-step]"));
var clips=steps.map(function(s){return s.querySelector("video");});
if(!clips.length)return;
var skip=root.querySelector("input[data-role=skip]");
var current=0;
function go(i,play,fromStart){
current=i;
steps.forEach(function(s,j){s.hidden=j!==i;if(j!==i){clips[j].pause();}});
root.setAttribute("data-current",String(i));
var v=clips[i],prev=i>0?clips[i-1]:null;
function start(){
var t=0;
if(!fromStart&&prev&&skip&&skip.checked&&isFinite(prev.duration)&&prev.duration<v.duration){
t=prev.duration;}
try{v.currentTime=t;}catch(e){}
if(play){var p=v.play();if(p&&p.catch){p.catch(function(){});}}
}
if(v.readyState>=1){start();}else{v.addEventListener("loadedmetadata",start,{once:true});}
}
clips.forEach(function(v,i){v.addEventListener("ended",function(){
if(i===current&&i+1<clips.length){go(i+1,true,false);}});});
function on(action,f){var b=root.querySelector("button[data-action="+action+"]");
if(b){b.addEventListener("click",f);}}
on("play",function(){go(0,true,true);});
on("prev",function(){go(Math.max(0,current-1),false,false);});
on("next",function(){go(Math.min(clips.length-1,current+1),false,false);});
on("whole",function(){go(clips.length-1,true,true);});
var controls=root.querySelector("[data-role=controls]");
if(controls){controls.hidden=false;}
go(0,false,true);
})""".replace("\n", "")
_PLAYER_ID = re.compile(r"luma-nb-chain-[0-9a-f]{16}")


def _chain_rows(log: SessionLog, iteration: str | Video | None) -> list[dict[str, Any]]:
    """``log.lineage`` of an iteration id, a Video of the session, or the last iteration."""
    if iteration is None:
        records = log.to_records()
        if not records:
            raise ValidationError(
                f"the session log {log.path} has no iteration yet", field="iteration"
            )
        iteration = str(records[-1]["iteration"])
    elif isinstance(iteration, Video):
        from luma_nb._iteration import parent_of

        found = parent_of(log, iteration)
        if found is None:
            raise ValidationError("that video is not in this session", field="iteration")
        iteration = found
    elif not isinstance(iteration, str):
        raise ValidationError(
            f"iteration must be an id or a Video, not {type(iteration).__name__}",
            field="iteration",
        )
    return log.lineage(iteration)


def _seconds(row: Mapping[str, Any]) -> float | None:
    return seconds_or_none(row.get("elapsed"))


def _chain_time(rows: Sequence[Mapping[str, Any]]) -> str | None:
    """The chain's total generation time; none when a step's is unknown or the clocks differ."""
    seconds = [_seconds(row) for row in rows]
    clocks = {is_simulated(row.get("backend")) for row in rows}
    if not seconds or None in seconds or len(clocks) != 1:
        return None
    return generation_text(sum(s for s in seconds if s is not None), rows[0].get("backend"))


def _step_label(index: int, total: int, row: Mapping[str, Any]) -> str:
    action = text_or_none(row.get("action")) or "step"
    return f"Step {index + 1} of {total} · {action}"


def _origin_note(rows: Sequence[Mapping[str, Any]]) -> str:
    """Say so when the chain does not start with a generate of this session."""
    first = rows[0] if rows else None
    if first is None or first.get("action") != "extend":
        return ""
    sent = (
        text_or_none(first.get("video_id_sent")) or text_or_none(first.get("video_url_sent")) or "?"
    )
    return (
        '<div class="luma-nb-note">The chain starts with an extend of a video that is not in '
        f'this session: <span class="luma-nb-mono">{esc(sent)}</span>.</div>'
    )


def _whole_chain_sentence(total: int) -> str:
    return (
        f"Each extend returns the continued video, so the last clip (step {total}) already "
        "holds the whole chain."
    )


class Timeline(RichView):
    """The clips of an extend chain, root first. Made by :func:`timeline`.

    Displaying it renders the timeline; outside a notebook its ``repr`` is plain text.

    Attributes
    ----------
    rows : tuple of dict
        The session-log rows of the chain, root first (a snapshot taken when it was made).
    embed : bool or None
        The embedding choice for every clip (as for :func:`luma_nb.display.video_html`).
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]], embed: bool | None) -> None:
        self.rows: tuple[dict[str, Any], ...] = tuple(dict(row) for row in rows)
        self.embed = embed

    def html(self) -> str:
        """The timeline as self-contained HTML (its own scoped ``<style>``). Never raises."""
        try:
            return self._html()
        except Exception as exc:
            return _broken("timeline", exc)

    def _html(self) -> str:
        total = len(self.rows)
        backends = {text_or_none(row.get("backend")) for row in self.rows} - {None}
        badges = [badge(f"{total} step" + ("s" if total != 1 else ""))]
        badges += [backend_badge(b) for b in sorted(b for b in backends if b)]
        intro = ""
        if total > 1:
            intro = f'<div class="luma-nb-status">{esc(_whole_chain_sentence(total))}'
            chain_time = _chain_time(self.rows)
            if chain_time is not None:
                intro += esc(f" Generation time over the chain: {chain_time}.")
            intro += "</div>"
        steps = [self._step(i, total, row) for i, row in enumerate(self.rows)]
        return (
            style(_CHAIN_CSS)
            + '<div class="luma-nb-card" style="max-width:720px">'
            + head("Extend chain", badges)
            + intro
            + _origin_note(self.rows)
            # Inline list style: notebook front ends number <ol> items with rules that
            # outrank a class selector.
            + '<ol class="luma-nb-timeline" style="list-style:none;padding-left:18px">'
            + "".join(steps)
            + "</ol></div>"
        )

    def _step(self, index: int, total: int, row: Mapping[str, Any]) -> str:
        media = media_of_row(row, embed=self.embed, standalone=False)
        badges = [state_badge(text_or_none(row.get("state")) or "unknown")]
        if media.embedded:
            badges.append(badge("embedded"))
        if index == total - 1 and total > 1:
            badges.append(badge("whole chain", "luma-nb-ok"))
        prompt, echoed = row.get("prompt"), row.get("echoed_prompt")
        rows: list[Fact] = prompt_facts(
            prompt if isinstance(prompt, str) else None,
            echoed if isinstance(echoed, str) else None,
            request_known=True,
        )
        rows += key_metrics_fact(row)
        rows += generation_fact(_seconds(row), row.get("backend"))
        if index > 0:
            rows.append(("Extends", esc(f"step {index}")))
        rows += id_facts(row, ID_FIELDS[:4])
        strip = row_strip(row) if self.embed is not False else None
        label = _step_label(index, total, row)
        return card_of_row(
            row,
            label,
            badges,
            media=media,
            strip=strip,
            rows=rows,
            side_by_side=True,
            element="li",
            with_style=False,
        )

    def text(self) -> str:
        """The chain as plain text, one block per step (terminal-safe)."""
        total = len(self.rows)
        lines = [f"Extend chain · {total} step" + ("s" if total != 1 else "")]
        for index, row in enumerate(self.rows):
            state = text_or_none(row.get("state")) or "unknown"
            elapsed = _seconds(row)
            took = (
                f" · {generation_text(elapsed, row.get('backend'))}" if elapsed is not None else ""
            )
            lines.append(f"  {_step_label(index, total, row)} · {state}{took}")
            lines.append(f"    prompt sent    {plain.short(row.get('prompt') or '(none)')}")
            if text_or_none(row.get("echoed_prompt")):
                lines.append(f"    prompt echoed  {plain.short(row['echoed_prompt'])}")
            lines.append(f"    iteration      {row.get('iteration')}  task {row.get('task_id')}")
        if total > 1:
            lines.append(f"  {_whole_chain_sentence(total)}")
        return plain.cap("\n".join(clean_text(line) if i else line for i, line in enumerate(lines)))


class ChainPlayer(RichView):
    """One player for the clips of an extend chain. Made by :func:`chain_player`.

    Attributes
    ----------
    rows : tuple of dict
        The session-log rows of the chain, root first.
    embed : bool or None
        The embedding choice for every clip.
    mode : {"sequence", "last"}
        Play the clips in order, or only the last clip (the whole chain).
    element_id : str
        The HTML id of the last rendering (each rendering gets a new random one).
    """

    def __init__(self, rows: Sequence[Mapping[str, Any]], embed: bool | None, mode: str) -> None:
        self.rows: tuple[dict[str, Any], ...] = tuple(dict(row) for row in rows)
        self.embed = embed
        self.mode = mode
        self.element_id = ""  # set by each rendering

    @property
    def last(self) -> dict[str, Any] | None:
        """The last step's row: its clip is the whole chain."""
        return self.rows[-1] if self.rows else None

    def html(self) -> str:
        """The player as HTML (a ``<style>``, the markup, and in sequence mode the script)."""
        try:
            return self._html()
        except Exception as exc:
            return _broken("chain player", exc)

    def _html(self) -> str:
        # A fresh id per rendering: the same player displayed twice in one page (or two
        # players of one chain) must not share an id, or only the first would be wired.
        self.element_id = "luma-nb-chain-" + secrets.token_hex(8)
        total = len(self.rows)
        resolved = [
            (i, row, media_of_row(row, embed=self.embed, standalone=False))
            for i, row in enumerate(self.rows)
        ]
        if self.mode == "last":
            resolved = resolved[-1:]
        playable = [(i, row, media) for i, row, media in resolved if media.src is not None]
        skipped = [(i, media) for i, _, media in resolved if media.src is None]
        badges = [badge(f"{len(playable)} clip" + ("s" if len(playable) != 1 else ""))]
        if playable and all(media.embedded for _, _, media in playable):
            badges.append(badge("embedded"))
        title = "Whole chain (last clip)" if self.mode == "last" else "Chain player"
        parts = [head(title, badges)]
        figures = []
        for position, (index, row, media) in enumerate(playable):
            caption = _step_label(index, total, row)
            prompt = text_or_none(row.get("prompt")) or text_or_none(row.get("echoed_prompt"))
            if index == total - 1 and total > 1:
                caption += " (the whole chain)"
            figures.append(
                f'<figure data-step="{position:d}">'
                + player(
                    media,
                    loop=row.get("loop") is True,
                    size=(row.get("width"), row.get("height")),
                )
                + '<figcaption class="luma-nb-muted">'
                + esc(caption)
                + (f": {esc(prompt)}" if prompt else "")
                + "</figcaption></figure>"
            )
        parts.append('<div class="luma-nb-chain-stage">' + "".join(figures) + "</div>")
        sequence = self.mode == "sequence" and len(playable) > 1
        if sequence:
            parts.append(
                '<div class="luma-nb-chain-controls" data-role="controls" hidden>'
                '<button type="button" data-action="play">&#9654; Play the chain</button>'
                '<button type="button" data-action="prev">&#9664; Previous</button>'
                '<button type="button" data-action="next">Next &#9654;</button>'
                '<button type="button" data-action="whole">Whole chain (last clip)</button>'
                '<label><input type="checkbox" data-role="skip" checked> '
                "skip what each clip repeats</label></div>"
            )
        for index, media in skipped:
            why = media.note or "it has no video"
            parts.append(
                note(dataclasses.replace(media, note=f"Step {index + 1} is not playable: {why}"))
            )
        if total > 1:
            parts.append(f'<div class="luma-nb-status">{esc(_whole_chain_sentence(total))}</div>')
        if not playable:
            parts.append('<div class="luma-nb-note">No clip of this chain can be played.</div>')
        markup = (
            style(_CHAIN_CSS)
            + f'<div class="luma-nb-card luma-nb-chain" id="{esc(self.element_id)}">'
            + "".join(parts)
            + "</div>"
        )
        if sequence and _PLAYER_ID.fullmatch(self.element_id):
            markup += f'<script>{_PLAYER_JS}("{self.element_id}");</script>'
        return markup

    def text(self) -> str:
        """A plain-text summary: the clips in play order."""
        total = len(self.rows)
        shown = list(enumerate(self.rows))
        if self.mode == "last":
            shown = shown[-1:]
        lines = [f"Chain player · {total} step" + ("s" if total != 1 else "")]
        for index, row in shown:
            where = plain.where(row.get("video_url")) or "-"
            lines.append(clean_text(f"  {_step_label(index, total, row)}: {where}"))
        if total > 1:
            lines.append(f"  {_whole_chain_sentence(total)}")
        return plain.cap("\n".join(lines))


def _broken(what: str, exc: BaseException) -> str:
    return style(_CHAIN_CSS) + broken(what, exc, with_style=False)


def timeline(
    log: SessionLog, iteration: str | Video | None = None, *, embed: bool | None = None
) -> Timeline:
    """The extend chain ending at ``iteration``, as a timeline of clips.

    Parameters
    ----------
    log : SessionLog
        The session that holds the chain.
    iteration : str, Video or None
        The last step: an iteration id, a :class:`~luma_nb.Video` of this session, or
        ``None`` for the session's last iteration.
    embed : bool or None
        ``None`` embeds the clips a browser could not load itself (the simulator's), from
        the saved copy (``media_path``) or through the media cache; ``True`` always embeds
        (under :func:`luma_nb.display.embed_limit`); ``False`` never does.

    Returns
    -------
    Timeline
        Displays as the timeline; creating it displays nothing.

    Raises
    ------
    ValidationError
        For an iteration (or video) that is not in the session, or an empty session.
    """
    _check_embed(embed)
    return Timeline(_chain_rows(log, iteration), embed)


def chain_player(
    log: SessionLog,
    iteration: str | Video | None = None,
    *,
    embed: bool | None = None,
    mode: str = "sequence",
) -> ChainPlayer:
    """One player for the extend chain ending at ``iteration``.

    Parameters
    ----------
    log : SessionLog
        The session that holds the chain.
    iteration : str, Video or None
        The last step (as for :func:`timeline`); default the session's last iteration.
    embed : bool or None
        As for :func:`timeline`.
    mode : {"sequence", "last"}
        ``"sequence"`` (default) plays the clips one after the other in one player, starting
        each extend where its parent ended (a checkbox turns that off), with Play, Previous,
        Next and "whole chain" buttons; it needs the notebook to run its small inline script
        and otherwise shows the clips in order. ``"last"`` shows only the last clip, which
        already holds the whole chain: no script at all.

    Returns
    -------
    ChainPlayer
        Displays as the player; creating it displays nothing.
    """
    _check_embed(embed)
    if mode not in _MODES:
        raise ValidationError(f"mode must be 'sequence' or 'last', not {mode!r}", field="mode")
    return ChainPlayer(_chain_rows(log, iteration), embed, mode)


def _check_embed(embed: object) -> None:
    if embed not in (None, True, False):
        raise ValidationError(f"embed must be None, True or False, not {embed!r}", field="embed")
