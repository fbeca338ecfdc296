"""Result cards: the player with its prompts, sizes and ids, and what to do next.

Under each video: Extend this, Rerun with these settings, Copy as code (a button that puts
the code on the clipboard and says "Copied"; the code also appears in a text box, ready to
select by hand where the browser allows no copying), and a 1 to 5 rating with a note, saved to
the session log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from luma_nb._html import esc
from luma_nb.panel._frontend import CopyButton, CopyOutcome
from luma_nb.panel._style import RESULTS_COLUMNS

if TYPE_CHECKING:
    from luma_nb._click_guard import ClickGuard
    from luma_nb.panel._jobs import Job

__all__ = ["ResultCard", "Results"]

JobAction = Callable[["Job"], None]
#: ``on_rerun(job, button)``: the button shows the rerun's submit in flight.
RerunAction = Callable[["Job", Any], None]
RateAction = Callable[["Job", int, str], None]


class ResultCard:
    """One finished job's card and its buttons.

    Save goes through ``guard``: a second click with the same rating and note within the
    guard's window writes nothing (and says so).
    """

    def __init__(
        self,
        job: Job,
        html: str,
        *,
        on_extend: JobAction,
        on_rerun: RerunAction,
        code: Callable[[Job], str],
        on_rate: RateAction,
        guard: ClickGuard,
    ) -> None:
        self.job = job
        #: The card's HTML (the snapshot saved with the notebook shows it too).
        self.html = html
        #: The saved rating (1 to 5) and note, once Save wrote them.
        self.stars: int | None = None
        self.note_text = ""
        self.player = widgets.HTML(html)
        self.player.add_class("luma-nb-result-card")
        self.extend_button = widgets.Button(description="Extend this", icon="forward")
        self.rerun_button = widgets.Button(description="Rerun with these settings", icon="repeat")
        #: Copies the code in the browser; the kernel then shows it (and says how it went).
        self.code_button = CopyButton(code(job), label="Copy as code")
        self.code_button.layout = widgets.Layout(width="auto")
        for button in (self.extend_button, self.rerun_button):
            button.layout = widgets.Layout(width="auto")
        self.extend_button.on_click(lambda _b: on_extend(job))
        self.rerun_button.on_click(lambda button: on_rerun(job, button))
        self.code_area = widgets.Textarea(
            disabled=False,
            layout=widgets.Layout(width="100%", height="9em", display="none"),
        )
        self.code_area.add_class("luma-nb-code")

        def show_code(outcome: CopyOutcome) -> None:
            self.code_area.value = self.code_button.text
            self.code_area.layout.display = None
            self.code_hint.value = _copy_hint(outcome)

        self.code_hint = widgets.HTML()
        self.code_hint.add_class("luma-nb-code-hint")
        self.code_button.on_copy(show_code)

        self.rating = widgets.ToggleButtons(
            options=[(str(n), n) for n in range(1, 6)],
            value=None,
            description="Rate",
            style={"button_width": "2.4em"},
        )
        self.note = widgets.Text(
            placeholder="a note (optional)", layout=widgets.Layout(width="95%")
        )
        self.save_button = widgets.Button(description="Save", icon="check", disabled=True)
        self.save_button.layout = widgets.Layout(width="auto")
        self.saved = widgets.HTML()
        self.rating.observe(
            lambda change: setattr(self.save_button, "disabled", change["new"] is None), "value"
        )

        def save(_button: object) -> None:
            stars, text = self.rating.value, self.note.value
            if stars is None:
                return

            def write() -> None:
                previous = (self.stars, self.note_text)
                self.stars, self.note_text = int(stars), text.strip()
                try:
                    on_rate(job, int(stars), text)
                except BaseException:
                    self.stars, self.note_text = previous
                    raise

            refusal = guard.run(
                ("rate", job.iteration),
                (int(stars), text.strip()),
                write,
                button=self.save_button,
            )
            if refusal is not None:
                said = esc(refusal.sentence("rating", "saved"))
                self.saved.value = f'<span class="luma-nb-muted">{said}</span>'
                return
            note = f" · {esc(text)}" if text.strip() else ""
            self.saved.value = f'<span class="luma-nb-muted">saved: {int(stars)}/5{note}</span>'

        self.save_button.on_click(save)
        # Shrinks to the grid cell (no minimum: 330 px of notebook leaves less than 320 px).
        self.player.layout = widgets.Layout(flex="1 1 360px", min_width="0", max_width="640px")
        self.rating.description = ""
        controls = widgets.VBox(
            [
                self.extend_button,
                self.rerun_button,
                self.code_button,
                widgets.HTML('<span class="luma-nb-muted">Rate this video 1 to 5</span>'),
                self.rating,
                self.note,
                widgets.HBox(
                    [self.save_button, self.saved], layout=widgets.Layout(align_items="center")
                ),
            ],
            layout=widgets.Layout(flex="1 1 220px", min_width="0", padding="0 0 0 10px"),
        )
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.player, controls], layout=widgets.Layout(flex_flow="row wrap")),
                self.code_hint,
                self.code_area,
            ]
        )
        self.widget.add_class("luma-nb-result")


def _copy_hint(outcome: CopyOutcome) -> str:
    """The line above the code: copied, or how to copy it by hand."""
    by_hand = "select the code (Ctrl/Cmd+A inside the box) and copy it (Ctrl/Cmd+C)"
    if outcome.copied:
        text = "Copied to the clipboard: paste it into a cell. The code is below too."
    elif outcome.copied is False:
        text = f"Could not copy to the clipboard ({outcome.problem or 'not allowed'}): {by_hand}."
    else:
        text = by_hand[0].upper() + by_hand[1:] + ", then paste it into a cell."
    return f'<span class="luma-nb-muted">{esc(text)}</span>'


class Results:
    """The results area (CSS class ``luma-nb-results``), newest card on top."""

    def __init__(self) -> None:
        self.cards: list[ResultCard] = []
        # A grid: one column in a narrow notebook, cards side by side in a wide one.
        self.box = widgets.GridBox(
            layout=widgets.Layout(grid_template_columns=RESULTS_COLUMNS, grid_gap="12px")
        )
        self.box.add_class("luma-nb-results")

    def add(self, card: ResultCard) -> None:
        """Show ``card`` above the earlier ones."""
        self.cards.append(card)
        self.box.children = (card.widget, *self.box.children)
