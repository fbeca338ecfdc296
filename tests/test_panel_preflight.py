"""The panel's keyframe preflight: the result beside the preview, the switch, a refused job.

The panel runs on the in-process simulator (``tests._paneltools``); the keyframes come from a
real image host on loopback, marked public for the client's preflight (``tests._imagehost``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from luma_nb._preflight import KeyframeWarning
from luma_nb.errors import KeyframeError
from luma_nb.panel import Panel
from tests._imagehost import ImageHost, image_bytes, policy
from tests._paneltools import Rig, async_test


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    made = Rig(tmp_path)
    yield made
    made.close()


@pytest.fixture
def host() -> Iterator[ImageHost]:
    server = ImageHost()
    yield server
    server.close()


def checking_panel(rig: Rig, **client_options: Any) -> Panel:
    """A panel whose client checks keyframes against loopback hosts, without the typing pause."""
    client_options.setdefault("preflight", policy())
    panel = rig.panel(rig.client(**client_options))
    panel._form.start.check_delay = panel._form.end.check_delay = 0
    return panel


async def settled(panel: Panel) -> None:
    """Wait until both keyframe fields' checks are over."""
    for field in (panel._form.start, panel._form.end):
        while field.checking is not None and not field.checking.done():
            await asyncio.wait([field.checking])


@async_test
async def test_the_check_shows_beside_the_preview(rig: Rig, host: ImageHost) -> None:
    panel = checking_panel(rig)
    assert panel.preflight.value is True  # the client's setting
    panel.prompt.value = "a lighthouse"
    panel.start_image_url.value = host.serve("/a.png")
    assert "checking that the API can fetch it" in panel.start_image_preview.value
    await settled(panel)
    preview = panel.start_image_preview.value
    assert "luma-nb-keyframe-check luma-nb-valid" in preview
    assert "checked:" in preview and "a 1280x720 PNG" in preview

    # Another ratio: judged again from the client's cache, no second fetch.
    panel.aspect_ratio.value = "9:16"
    await settled(panel)
    preview = panel.start_image_preview.value
    assert "luma-nb-warn" in preview and "not 9:16" in preview
    assert host.paths() == ["/a.png"]

    # The submit that follows does not fetch it again either (and warns like any submit).
    job = panel.submit()
    with pytest.warns(KeyframeWarning, match="not 9:16"):
        await job.future
    assert job.state == "completed", job.message
    assert host.paths() == ["/a.png"]


@async_test
async def test_a_keyframe_that_fails_says_why_and_its_job_spends_nothing(
    rig: Rig, host: ImageHost
) -> None:
    panel = checking_panel(rig)
    panel.prompt.value = "a lighthouse"
    url = host.serve("/gone.png", status=404, body=b"", content_type="text/plain")
    panel.end_image_url.value = url
    await settled(panel)
    preview = panel.end_image_preview.value
    assert "luma-nb-invalid" in preview and "the API cannot use it" in preview
    assert "broken or has expired" in preview

    job = panel.submit()
    await job.future
    assert job.state == "failed"
    assert isinstance(job.error, KeyframeError)
    assert "The end image cannot be used" in job.message
    assert "Nothing was submitted" in job.message
    [row] = rig.log.to_records()
    assert (row["state"], row["error_type"]) == ("failed", "KeyframeError")
    assert rig.sim.stats.tasks_created == 0


@async_test
async def test_the_switch_skips_the_check(rig: Rig, host: ImageHost) -> None:
    panel = checking_panel(rig)
    panel.prompt.value = "a lighthouse"
    panel.preflight.value = False
    panel.start_image_url.value = host.serve("/gone.png", status=404, body=b"")
    await settled(panel)
    assert "not checked" in panel.start_image_preview.value
    job = panel.submit()
    await job.future
    assert job.state == "completed", job.message  # the simulator's fake fetcher serves it
    assert host.seen == []

    panel.preflight.value = True  # back on: the field is checked at once
    await settled(panel)
    assert "the API cannot use it" in panel.start_image_preview.value


@async_test
async def test_the_switch_follows_the_clients_setting(rig: Rig) -> None:
    assert rig.panel(rig.client(preflight=False)).preflight.value is False
    assert rig.panel(rig.client(preflight=True)).preflight.value is True


@async_test
async def test_typing_fetches_only_the_url_that_stays(rig: Rig, host: ImageHost) -> None:
    panel = checking_panel(rig)
    field = panel._form.start
    field.check_delay = 0.2
    host.serve("/abc.png", body=image_bytes("PNG", (640, 360)))
    base = host.url("/")
    for end in ("a", "ab", "abc", "abc.", "abc.p", "abc.pn", "abc.png"):
        panel.start_image_url.value = base + end
        await asyncio.sleep(0.01)
    await settled(panel)
    assert host.paths() == ["/abc.png"]
    assert "a 640x360 PNG" in panel.start_image_preview.value


@async_test
async def test_a_blocking_client_checks_in_a_worker_thread(rig: Rig, host: ImageHost) -> None:
    panel = rig.panel(rig.sync_client(preflight=policy()))
    panel._form.start.check_delay = 0
    panel.start_image_url.value = host.serve("/a.png")
    await settled(panel)
    assert "a 1280x720 PNG" in panel.start_image_preview.value
