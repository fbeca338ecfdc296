"""Every tutorial notebook runs top to bottom on the simulator and shows real outputs."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow

# What a notebook must show beyond every notebook's basics, and the files it must write.
EXPECTED_HTML = {
    "03_enhancement_study.ipynb": ['<ul class="luma-nb-verdicts">', "Measured from the videos"],
    "06_factorial_study.ipynb": [
        '<ul class="luma-nb-verdicts">',
        "Measured from the videos",
        'class="luma-nb-strip"',  # the filmstrips
        "data:image/jpeg;base64,",
    ],
}
EXPECTED_FILES = {
    "03_enhancement_study.ipynb": ["enhancement_study_report.html"],
    "06_factorial_study.ipynb": ["factorial_study_report.html"],
}


def _outputs(notebook: object) -> list[dict[str, object]]:
    return [
        out
        for cell in notebook.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
    ]  # type: ignore[attr-defined]


def _html(outputs: list[dict[str, object]]) -> str:
    parts = []
    for out in outputs:
        data = out.get("data") or {}
        parts.append(str(data.get("text/html", "")))  # type: ignore[union-attr]
    return "\n".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs_on_the_simulator(
    path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A copy runs in a scratch folder so its session log and cache land there.
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
    monkeypatch.delenv("ACEDATACLOUD_API_BASE_URL", raising=False)
    monkeypatch.setenv("LUMA_NB_BACKEND", "simulator")
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    outputs = _outputs(notebook)
    errors = [out for out in outputs if out.get("output_type") == "error"]
    assert not errors, errors
    html = _html(outputs)
    assert "Simulated backend" in html
    assert "<video" in html and "data:video/mp4;base64," in html  # a playable, embedded clip
    assert "dataframe" in html  # the history table
    assert list((tmp_path / "luma_sessions").glob("*.jsonl")), "the session log was written"
    for needle in EXPECTED_HTML.get(path.name, []):
        assert needle in html, needle
    if path.name in EXPECTED_HTML and importlib.util.find_spec("matplotlib"):
        assert "<svg" in html and "currentColor" in html  # the study plot, themed
    for name in EXPECTED_FILES.get(path.name, []):
        assert (tmp_path / name).is_file(), name
