"""Every tutorial notebook runs top to bottom on the simulator and shows real outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))

pytestmark = pytest.mark.slow


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
