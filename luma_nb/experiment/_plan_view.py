"""A study's plan and state in words: what ``study.plan()`` and ``study`` show.

The design (factors, arms, blocks), what every request holds fixed, and the number of paid
submits against the cap, so the cost of a study is read before any money moves.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from luma_nb._html import esc

if TYPE_CHECKING:
    from luma_nb.experiment._plan import Plan

__all__ = ["budget_sentence", "plan_html", "plan_text", "status_html", "status_text"]

_MAX_SHOWN = 12  # prompts and arms listed in full up to this many


def _shape(plan: Plan) -> str:
    arms = len(plan.arms)
    return (
        f"{len(plan.prompts)} prompt(s) x {arms} arm(s) x {plan.repeats} repeat(s) = "
        f"{plan.submits} videos"
    )


def _factors(plan: Plan) -> str:
    return " x ".join(
        f"{factor.name} ({', '.join(factor.labels)})" + (" [prompt slot]" if factor.slot else "")
        for factor in plan.factors
    )


def _fixed(plan: Plan) -> str:
    return ", ".join(f"{name}={value!r}" for name, value in plan.params.items()) or "none"


def budget_sentence(plan: Plan, cap: int | None = None) -> str:
    """The paid submits against the cap, e.g. "8 paid submits, within the cap of 20"."""
    cap = plan.max_submits if cap is None else cap
    count = f"{plan.submits} paid submit{'s' if plan.submits != 1 else ''} (one per video)"
    if cap is None:
        return count
    if plan.submits > cap:
        return (
            f"{count}: OVER the cap of max_submits={cap}; running it raises "
            f"BudgetExceededError before any request (pass max_submits={plan.submits} to "
            "allow it)"
        )
    return f"{count}, within the cap of max_submits={cap}"


def _order(plan: Plan) -> str:
    seed = "not drawn by luma_nb" if plan.seed is None else f"seed {plan.seed}"
    return (
        f"blocks in a random order, the arms shuffled within each block ({seed}); at most "
        f"{plan.concurrency} video(s) in flight"
    )


def plan_text(plan: Plan) -> str:
    """The plan as plain text."""
    lines = [
        f"Study {plan.experiment}: {_shape(plan)}",
        f"  factors: {_factors(plan)}",
        f"  arms ({len(plan.arms)}): "
        + "; ".join(arm.name for arm in plan.arms[:_MAX_SHOWN])
        + (" ..." if len(plan.arms) > _MAX_SHOWN else ""),
        f"  blocks: {len(plan.pairs)} (each prompt x each repeat; every block holds every arm)",
        f"  fixed in every request: {_fixed(plan)}",
        f"  order: {_order(plan)}",
        f"  budget: {budget_sentence(plan)}",
    ]
    lines.extend(f"  prompt {n}: {p}" for n, p in enumerate(plan.prompts[:_MAX_SHOWN], start=1))
    if len(plan.prompts) > _MAX_SHOWN:
        lines.append(f"  ... and {len(plan.prompts) - _MAX_SHOWN} more prompts")
    return "\n".join(lines)


def plan_html(plan: Plan) -> str:
    """The plan as HTML: the budget first, then the arms as a table of levels."""
    over = plan.max_submits is not None and plan.submits > plan.max_submits
    colour = "#b91c1c" if over else "inherit"
    head = "".join(f"<th>{esc(f.name)}</th>" for f in plan.factors)
    rows = "".join(
        f"<tr><td><code>{esc(arm.key)}</code></td>"
        + "".join(f"<td>{esc(label)}</td>" for _factor, label in arm.levels)
        + "</tr>"
        for arm in plan.arms[:_MAX_SHOWN]
    )
    more = (
        f"<p>... and {len(plan.arms) - _MAX_SHOWN} more arms</p>"
        if len(plan.arms) > _MAX_SHOWN
        else ""
    )
    prompts = "".join(f"<li>{esc(p)}</li>" for p in plan.prompts[:_MAX_SHOWN])
    if len(plan.prompts) > _MAX_SHOWN:
        prompts += f"<li>... and {len(plan.prompts) - _MAX_SHOWN} more</li>"
    return (
        '<div class="luma-nb-plan" style="font-family:sans-serif;font-size:13px">'
        f"<b>Study {esc(plan.experiment)}</b> · {esc(_shape(plan))}"
        f'<p style="color:{colour}"><b>Budget:</b> {esc(budget_sentence(plan))}</p>'
        f"<p><b>Factors:</b> {esc(_factors(plan))}</p>"
        f'<table class="luma-nb-plan-arms"><thead><tr><th>arm</th>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>{more}"
        f"<p><b>Blocks:</b> {len(plan.pairs)} (each prompt x each repeat; every block holds "
        f"every arm). <b>Fixed in every request:</b> {esc(_fixed(plan))}. "
        f"<b>Order:</b> {esc(_order(plan))}.</p>"
        f"<ol>{prompts}</ol></div>"
    )


def _states(counts: Mapping[str, int]) -> str:
    return ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def status_text(plan: Plan, counts: Mapping[str, int], log_path: object, *, started: bool) -> str:
    """One line about a study and how far it is."""
    seed = "" if plan.seed is None else f", seed {plan.seed}"
    state = _states(counts) if started else "planned, nothing submitted: study.run() starts it"
    return f"Study {plan.experiment}: {_shape(plan)} ({state}){seed}; log {log_path}"


def status_html(plan: Plan, counts: Mapping[str, int], log_path: object, *, started: bool) -> str:
    """A study's state, then its plan."""
    state = (
        esc(_states(counts))
        if started
        else "planned, nothing submitted yet: <code>study.run()</code> starts it"
    )
    return (
        '<div class="luma-nb-experiment" style="font-family:sans-serif;font-size:13px">'
        f"<p><b>State:</b> {state}</p>{plan_html(plan)}"
        f'<span style="opacity:.7">log: {esc(log_path)}</span></div>'
    )
