"""Secrets: a recognisable token goes to the API and nowhere else.

A loopback simulator (in this process, so its request journal can be read) accepts only the
token ``sk-LUMA-SECRET-4242``. The tutorial notebooks run against it in real kernels
(nbclient, the token in ``ACEDATACLOUD_API_TOKEN``), and the panel runs a job with it — once
given to its client, once pasted into its token field. Then every place the token could leak
to is searched for it: the executed notebooks (every output), the session log files, the media
cache, the HTML report, every widget's state, the text and repr of errors, clients, settings,
tasks and tracebacks, and the simulator's record of requests — where every media download must
have gone without an ``Authorization`` header, while every API call carried one.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import luma_nb
from luma_nb.simulator import ScaledClock, Simulator, SimulatorServer

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipywidgets")

pytestmark = pytest.mark.slow

SECRET = "sk-LUMA-SECRET-4242"
ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ("01_quickstart.ipynb", "02_panel.ipynb")


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimulatorServer]:
    sim = Simulator(
        clock=ScaledClock(400),  # a generation takes about 0.4 s
        seed=3,
        accepted_tokens=[SECRET],
        journal_size=100_000,
    )
    with SimulatorServer(sim) as running:
        monkeypatch.setenv("ACEDATACLOUD_API_TOKEN", SECRET)
        monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", running.url)
        monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.delenv("LUMA_NB_BACKEND", raising=False)
        yield running
    sim.close()


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


def _widget_states(widget: Any) -> list[dict[str, Any]]:
    states = [widget.get_state()]
    for child in getattr(widget, "children", ()):
        states.extend(_widget_states(child))
    return states


def _no_secret(where: str, data: str | bytes) -> None:
    needle = SECRET.encode() if isinstance(data, bytes) else SECRET
    assert needle not in data, f"the token leaked into {where}"


def test_the_token_never_leaves_the_api_requests(server: SimulatorServer, tmp_path: Path) -> None:
    sim = server.simulator
    # ------------------------------------------------------------ the notebooks, in kernels
    work = tmp_path / "work"
    work.mkdir()
    executed = []
    for name in NOTEBOOKS:
        shutil.copy(ROOT / "notebooks" / name, work / name)
        notebook = nbformat.read(work / name, as_version=4)
        resources = {"metadata": {"path": str(work)}}
        nbclient.NotebookClient(
            notebook, timeout=120, kernel_name="python3", resources=resources
        ).execute()
        text = nbformat.writes(notebook)
        assert '"output_type": "error"' not in text, name
        assert "<video" in text
        executed.append((name, text))
    for name, text in executed:
        _no_secret(f"the executed notebook {name}", text)

    # ------------------------------------------------------------ the panel, in this process
    log = luma_nb.SessionLog(tmp_path / "panel.jsonl")

    async def run_panel() -> Any:
        client = luma_nb.AsyncClient(SECRET, base_url=server.url, cache_dir=tmp_path / "cache")
        panel = luma_nb.Panel(client, log)
        panel.prompt.value = "a lantern over snowy pines"
        first = panel.submit()
        await first.future
        panel.token.value = SECRET  # pasted: the field must clear itself at once
        assert panel.token.value == ""
        assert panel.client is not client and panel.client.backend == "api"
        panel.prompt.value = "a second lantern, with the pasted token"
        second = panel.submit()
        await second.future
        await panel.idle()
        assert first.state == "completed" and second.state == "completed", (first, second)
        await client.aclose()
        return panel

    panel = asyncio.run(run_panel())
    states = _widget_states(panel.widget)
    for job in panel.jobs:
        states += _widget_states(job.row)
    for card in panel.results.cards:
        card.code_button.click()  # Copy as code, too
        states += _widget_states(card.widget)
    _no_secret("the panel's widget state", json.dumps(states, default=str))
    _no_secret("the panel's repr", repr(panel) + repr(panel.jobs))

    # ------------------------------------------------------------ errors and reprs
    texts: list[str] = []
    with luma_nb.Client(SECRET, base_url=server.url, cache_dir=tmp_path / "cache") as client:
        texts += [repr(client), repr(client.settings), str(client.settings.token)]
        task = client.submit("a quiet harbour at dawn")
        texts += [repr(task), repr(client.get_task(task))]
        for failing in (
            lambda: client.generate("a gore scene"),  # moderation: 403 forbidden
            lambda: client.wait(task, max_wait=0.01),  # our own deadline
            lambda: client.get_task("no-such-task"),  # 404
        ):
            with pytest.raises(luma_nb.LumaError) as caught:
                failing()
            texts += [str(caught.value), repr(caught.value)]
            texts.append("".join(traceback.format_exception(caught.value)))
    faulty = Simulator(seed=1, faults="5xx=1,on=videos", accepted_tokens=[SECRET])
    with luma_nb.Client(SECRET, base_url=faulty.base_url, transport=faulty.transport()) as client:
        with pytest.raises(luma_nb.SubmitOutcomeUnknownError) as unknown:
            client.submit("a submit whose outcome is unknown")
        texts += [str(unknown.value), repr(unknown.value), str(unknown.value.cause)]
    faulty.close()
    with (
        pytest.raises(luma_nb.AuthenticationError) as refused,
        luma_nb.Client(SECRET + "-wrong", base_url=server.url) as client,
    ):
        client.submit("a wrong token")
    texts += [str(refused.value), repr(refused.value)]
    for number, text in enumerate(texts):
        _no_secret(f"error/repr text #{number}: {text[:60]!r}", text)

    # ------------------------------------------------------------ files
    logs = [*work.glob("luma_sessions/*.jsonl"), log.path]
    assert len(logs) >= 3
    for path in logs:
        _no_secret(f"the session log {path.name}", path.read_bytes())
    cached = _files_under(tmp_path / "cache")
    assert any(p.suffix == ".mp4" for p in cached), cached
    for path in cached:
        _no_secret(f"the media cache file {path.name}", path.read_bytes())
    if importlib.util.find_spec("luma_nb.report") is not None:
        from luma_nb import report

        _no_secret("the HTML report", report.report_html(log))

    # ------------------------------------------------------------ what the server saw
    journal = sim.journal
    api = [e for e in journal if e.path.startswith("/luma/")]
    media = [e for e in journal if e.path.startswith("/media/")]
    assert api and media
    assert all(e.authorized for e in api), "an API call went without the token"
    assert not [e for e in media if e.authorized], "the token was sent to the media host"
    assert {e.host for e in media}.isdisjoint({e.host for e in api})
    _no_secret("the simulator's journal", repr(journal) + repr(sim.stats))
