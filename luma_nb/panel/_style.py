"""The panel's own stylesheet (on top of the shared one, :data:`luma_nb.render.markup.CSS`).

Any width: every row of widgets wraps instead of running out of the output area, no widget is
wider than its container (ipywidgets give many a fixed width: a 300 px checkbox, a 32em text
field), toggle buttons size to their labels, and a label longer than its button wraps inside it
instead of being cut with an ellipsis. The form keeps a readable column; the job board and the
results use the whole width, the results in a grid of as many ~520 px columns as
fit (one at 330 px, side by side at 1600 px). Selectors start with ``.luma-nb-panel``, so
nothing leaks into the rest of the page.
"""

from __future__ import annotations

__all__ = ["PANEL_CSS", "RESULTS_COLUMNS"]

#: The results grid's columns (an ipywidgets ``GridBox`` layout value).
RESULTS_COLUMNS = "repeat(auto-fill, minmax(min(100%, 520px), 1fr))"

PANEL_CSS = """
.luma-nb-panel{box-sizing:border-box;width:100%;min-width:0;
font-family:var(--jp-ui-font-family,system-ui,sans-serif)}
.luma-nb-panel .jupyter-widgets{max-width:100%;min-width:0;box-sizing:border-box}
.luma-nb-panel .widget-hbox{flex-wrap:wrap;column-gap:6px}
.luma-nb-panel .widget-inline-hbox{flex-wrap:wrap;height:auto;
max-width:calc(100% - 2 * var(--jp-widgets-margin,2px))}
.luma-nb-panel .widget-inline-hbox .widget-label{flex:0 0 auto}
.luma-nb-panel .widget-toggle-buttons .widget-toggle-button{width:auto;min-width:2.4em}
.luma-nb-panel .widget-toggle-buttons{flex-wrap:wrap;height:auto}
.luma-nb-panel .jupyter-button{max-width:100%;height:auto;
min-height:var(--jp-widgets-inline-height,28px);white-space:normal;text-overflow:clip;
overflow-wrap:anywhere}
.luma-nb-panel .luma-nb-copy .jupyter-button,.luma-nb-panel .luma-nb-file .jupyter-button{
width:auto}
.luma-nb-panel .luma-nb-file{display:flex;flex-wrap:wrap;align-items:center;column-gap:6px}
.luma-nb-panel .luma-nb-anchor{scroll-margin-top:8px}
.luma-nb-panel .luma-nb-extend-banner{border-left:3px solid var(--jp-brand-color1,#1976d2);
background:var(--jp-layout-color2,rgba(128,128,128,.12));border-radius:4px;padding:4px 8px}
.luma-nb-panel .luma-nb-form{max-width:920px}
.luma-nb-panel .widget-html-content{overflow-wrap:anywhere}
.luma-nb-panel h4{margin:12px 0 4px;font-size:14px}
.luma-nb-valid{color:#2da44e}
.luma-nb-warn{color:#bf8700}
.luma-nb-invalid,.luma-nb-form-message{color:#e5534b}
.luma-nb-job{border-bottom:1px solid var(--jp-border-color2,rgba(128,128,128,.25))}
.luma-nb-history-prompt{overflow-wrap:anywhere}
.luma-nb-results .luma-nb-card{max-width:100%}
""".replace("\n", "")
