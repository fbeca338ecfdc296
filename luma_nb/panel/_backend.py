"""The backend line and the token field.

The line says plainly whether videos are simulated (free, local) or real (credits are spent).
Pasting a token switches the panel to the real API. The token is read once and the field is
cleared at once, so it is never shown, never in the notebook's saved widget state and never
logged; it lives only inside the client (masked in every repr).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from luma_nb._html import esc

__all__ = ["API_LINE", "SIMULATOR_LINE", "BackendBar"]

#: The backend line for the built-in simulator.
SIMULATOR_LINE = (
    "Simulated backend: videos are SIMULATED clips, free, made locally. Paste an Ace Data "
    "Cloud API token below to use the real Luma API."
)
#: The backend line for the real API.
API_LINE = "real API (credits are spent)"


def backend_line(backend: str) -> str:
    """The backend line's text for a client's ``backend`` label."""
    return SIMULATOR_LINE if backend == "simulator" else API_LINE


class BackendBar:
    """The backend line, the token field and a button back to the simulator.

    Parameters
    ----------
    use_token : callable
        Called with a pasted token (the field is already cleared).
    use_simulator : callable
        Called when "Use the simulator" is clicked.
    """

    def __init__(self, use_token: Callable[[str], None], use_simulator: Callable[[], None]) -> None:
        self._use_token = use_token
        self.line = widgets.HTML()
        self.line.add_class("luma-nb-backend")
        self.token = widgets.Password(
            description="API token",
            placeholder="paste a token, press Enter",
            continuous_update=False,
            style={"description_width": "7em"},
            layout=widgets.Layout(width="32em"),
        )
        self.token.add_class("luma-nb-token")
        self.token.observe(self._token_entered, "value")
        self.simulator_button = widgets.Button(
            description="Use the simulator",
            icon="flask",
            layout=widgets.Layout(width="auto", display="none"),
        )
        self.simulator_button.on_click(lambda _b: use_simulator())
        self.message = widgets.HTML()
        self.widget = widgets.VBox(
            [
                self.line,
                widgets.HBox(
                    [self.token, self.simulator_button, self.message],
                    layout=widgets.Layout(align_items="center"),
                ),
            ]
        )

    def show(self, backend: str, message: str = "") -> None:
        """Show which backend the panel uses now."""
        cls = "luma-nb-note" if backend == "simulator" else "luma-nb-error"
        self.line.value = f'<div class="{cls}">{esc(backend_line(backend))}</div>'
        self.simulator_button.layout.display = "none" if backend == "simulator" else None
        self.message.value = f'<span class="luma-nb-muted">{esc(message)}</span>' if message else ""

    def _token_entered(self, change: dict[str, Any]) -> None:
        token = str(change["new"] or "").strip()
        if not token:
            return
        # Clear first: whatever happens next, the token must not stay in the widget state.
        self.token.value = ""
        self._use_token(token)
