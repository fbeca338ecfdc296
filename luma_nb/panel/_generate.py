"""The Generate button and the line beside it: why the form cannot go, or what a click did.

A click claims the panel's :class:`~luma_nb._click_guard.ClickGuard` for the form's request
before anything is scheduled. While that submit's POST is in flight the button is disabled and
says "Submitting…"; a second click on the unchanged form within the guard's window is ignored,
and the line says so. The line keeps such a notice until the form's request changes.
"""

from __future__ import annotations

from collections.abc import Callable

import ipywidgets as widgets

from luma_nb._click_guard import Claim, ClickGuard, Refusal
from luma_nb.errors import ValidationError
from luma_nb.models import VideoRequest
from luma_nb.panel._form import Form
from luma_nb.panel._messages import human_message

__all__ = ["GENERATE", "GenerateBar", "intent"]

#: The guard key of the Generate button.
GENERATE = "generate"

Submit = Callable[[VideoRequest, Claim], object]


def intent(request: VideoRequest, sync: bool) -> tuple[VideoRequest, bool]:
    """What a submit means, for telling a repeated click from a new request."""
    return request, sync


class GenerateBar:
    """The Generate button and the form's message line.

    Parameters
    ----------
    form : Form
        The request form.
    guard : ClickGuard
        The panel's guard (shared with Rerun and Save).
    submit : callable
        ``submit(request, claim)`` starts the job; the job releases ``claim`` once its POST is
        over, and ``submit`` releases it itself when it raises before a job was started.
    """

    def __init__(self, form: Form, guard: ClickGuard, submit: Submit) -> None:
        self._form = form
        self._guard = guard
        self._submit = submit
        self._notice = ""
        self._notice_for: object = None
        self.button = widgets.Button(description="Generate", button_style="primary", icon="play")
        self.button.add_class("luma-nb-generate")
        self.button.on_click(self.click)
        self.message = widgets.HTML()
        self.message.add_class("luma-nb-form-status")
        self.widget = widgets.HBox(
            [self.button, self.message], layout=widgets.Layout(align_items="center")
        )

    def show(self) -> None:
        """Bring the button and the line up to date with the form."""
        problem = self._form.problem()
        if self._notice and self._current() != self._notice_for:
            self._notice = ""  # the form changed since: the notice is about something else
        self.message.value = self._form.message_html(problem or self._notice)
        self.button.disabled = bool(problem) or self._guard.busy(GENERATE)

    def say(self, text: str) -> None:
        """Show ``text`` on the line until the form's request changes."""
        self._notice = text
        self._notice_for = self._current()
        self.show()

    def refused(self, refusal: Refusal) -> None:
        """Say why a click was ignored."""
        self.say(
            refusal.sentence(
                again=f"Change something, or click again after {refusal.window:g} s to run it "
                "once more."
            )
        )

    def _current(self) -> object:
        try:
            return intent(self._form.request(), self._form.sync)
        except ValidationError:
            return None

    def click(self, _button: object = None) -> None:
        """What a click on Generate does (it never raises: a handler's error is lost)."""
        try:
            request = self._form.request()
        except ValidationError:
            self.show()
            return
        except Exception as exc:
            self.say(human_message(exc))
            return
        claim = self._guard.claim(
            GENERATE, intent(request, self._form.sync), button=self.button, on_release=self.show
        )
        if isinstance(claim, Refusal):
            self.refused(claim)
            return
        self._notice = ""
        try:
            self._submit(request, claim)
        except Exception as exc:
            self.say(human_message(exc))
        else:
            self.show()
