"""The panel in a real ipykernel: a front-end click (a comm message) runs on the kernel's loop.

No browser: the test plays the front end by sending the ``comm_msg`` a click sends, then checks
that the kernel stays free (a cell runs while the job is in flight) and that the job completes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

pytestmark = pytest.mark.slow


def _run(client: Any, code: str) -> str:
    lines: list[str] = []

    def hook(message: dict[str, Any]) -> None:
        kind = message["header"]["msg_type"]
        if kind == "stream":
            lines.append(message["content"]["text"])
        elif kind == "error":
            lines.append("ERROR " + "\n".join(message["content"]["traceback"]))

    reply = client.execute_interactive(code, output_hook=hook, timeout=60)
    assert reply["content"]["status"] == "ok", "".join(lines)
    return "".join(lines)


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """A kernel client with the panel's simulator settings."""
    monkeypatch.delenv("ACEDATACLOUD_API_TOKEN", raising=False)
    monkeypatch.delenv("ACEDATACLOUD_API_BASE_URL", raising=False)
    monkeypatch.setenv("LUMA_NB_BACKEND", "simulator")
    monkeypatch.setenv("LUMA_NB_SIM_SPEED", "60")  # a generation takes ~2.5 s
    monkeypatch.setenv("LUMA_NB_CACHE_DIR", str(tmp_path / "cache"))
    manager, client = jupyter_client.manager.start_new_kernel(
        kernel_name="python3", cwd=str(tmp_path)
    )
    try:
        yield client
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def _click(client: Any, model_id: str) -> None:
    """Send the ``comm_msg`` a front end sends when the button is clicked."""
    click = client.session.msg(
        "comm_msg",
        {"comm_id": model_id, "data": {"method": "custom", "content": {"event": "click"}}},
    )
    client.shell_channel.send(click)


def test_a_front_end_click_runs_on_the_kernel_loop(kernel: Any) -> None:
    client = kernel
    out = _run(
        client,
        "import asyncio, json, luma_nb\n"
        "panel = luma_nb.Panel()\n"
        "panel.prompt.value = 'a kite clicked from the front end'\n"
        "print(json.dumps(panel.generate_button.model_id))\n",
    )
    model_id = json.loads(out.strip().splitlines()[-1])
    _click(client, model_id)
    # The next cell runs at once, while the job is still in flight.
    out = _run(
        client,
        "job = panel.jobs[-1]\n"
        "print(job.running, job.future.get_loop() is asyncio.get_running_loop(),\n"
        "      job.iteration)\n",
    )
    running, on_kernel_loop, iteration = out.split()
    assert running == "True" and on_kernel_loop == "True"
    out = _run(
        client,
        "for _ in range(600):\n"
        "    if not job.running:\n"
        "        break\n"
        "    await asyncio.sleep(0.05)\n"
        "print(job.state, '<video' in panel.results.cards[0].player.value,\n"
        "      panel.log.row(job.iteration)['state'])\n",
    )
    assert out.split() == ["completed", "True", "completed"], out
    assert iteration.startswith("it-")


def test_two_front_end_clicks_back_to_back_make_one_job(kernel: Any) -> None:
    client = kernel
    out = _run(
        client,
        "import asyncio, json, luma_nb\n"
        "panel = luma_nb.Panel()\n"
        "panel.prompt.value = 'a kite double-clicked'\n"
        "print(json.dumps(panel.generate_button.model_id))\n",
    )
    model_id = json.loads(out.strip().splitlines()[-1])
    _click(client, model_id)
    _click(client, model_id)  # queued behind the first: a double click, 0 ms apart
    out = _run(
        client,
        "await panel.idle()\n"
        "print(len(panel.jobs), len(panel.log.to_records()), panel.jobs[0].state,\n"
        "      'ignored' in panel.form_message.value, panel.generate_button.disabled)\n",
    )
    assert out.split() == ["1", "1", "completed", "True", "False"], out
