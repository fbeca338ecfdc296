"""``luma_nb.connect()``: the real API with a token, else the simulator, with a banner.

Every test clears the environment it depends on and gives ``connect()`` a fresh shared
simulator, so nothing leaks between tests; no test reaches the network (an api-backed client
is handed a transport that fails the test if it is ever used).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import luma_nb
from luma_nb import backend
from luma_nb.backend import SIMULATOR_POLL, connect, simulator_of
from luma_nb.config import DEFAULT_BASE_URL, PollPolicy
from luma_nb.errors import ConfigError
from luma_nb.simulator import Simulator, VirtualClock

TOKEN = "sk-backend-test-7777"
ENV = (
    "ACEDATACLOUD_API_TOKEN",
    "ACEDATACLOUD_API_BASE_URL",
    "LUMA_NB_BACKEND",
    "LUMA_NB_SIM_SPEED",
    "LUMA_NB_HTTP_TIMEOUT",
    "LUMA_NB_MAX_RETRIES",
)


@pytest.fixture(autouse=True)
def clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    # a fresh process-wide simulator for each test (the previous one comes back afterwards)
    monkeypatch.setattr(backend, "_shared", None)
    yield
    shared = backend._shared
    if shared is not None:
        shared.close()


class NoNetwork(httpx.BaseTransport, httpx.AsyncBaseTransport):
    """A transport that records any use (there must be none) and refuses it."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        raise AssertionError(f"connect() made a request: {request.method} {request.url}")

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return self.handle_request(request)


def close(client: Any) -> None:
    if isinstance(client, luma_nb.AsyncClient):
        asyncio.run(client.aclose())
    else:
        client.close()


# -- no token: the in-process simulator -----------------------------------------------------


def test_no_token_gives_the_in_process_simulator_with_a_banner(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    client = connect(cache_dir=tmp_path)
    try:
        assert isinstance(client, luma_nb.Client)
        assert client.backend == "simulator"
        sim = simulator_of(client)
        assert isinstance(sim, Simulator)
        assert sim is backend._shared
        assert client.base_url == sim.base_url != DEFAULT_BASE_URL
        assert client.settings.poll == SIMULATOR_POLL
        banner = capsys.readouterr().err
        assert "SIMULATED" in banner
        assert "built-in simulator" in banner
        assert "ACEDATACLOUD_API_TOKEN" in banner  # says how to use the real API
        # and it works, end to end, with no network
        task = client.submit("a quick check")
        assert task.backend == "simulator"
        assert task.id in sim.tasks
    finally:
        close(client)


def test_banner_false_is_silent(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    client = connect(banner=False, cache_dir=tmp_path)
    close(client)
    assert client.backend == "simulator"
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "")


def test_connects_share_one_simulator_so_a_new_client_can_resume(tmp_path: Path) -> None:
    first = connect(banner=False, cache_dir=tmp_path)
    second = connect(banner=False, cache_dir=tmp_path)
    try:
        assert first is not second
        sim = simulator_of(first)
        assert sim is not None and simulator_of(second) is sim
        task = first.submit("submitted by the first client")
        seen = second.get_task(task.id)
        assert seen.id == task.id
        assert seen.backend == "simulator"
        # after luma_nb.notebook.reset() (a "kernel restart" of the helpers) a new client sees it
        luma_nb.notebook.reset()
        third = connect(banner=False, cache_dir=tmp_path)
        try:
            assert simulator_of(third) is sim
            assert third.get_tasks([task.id])[0].id == task.id
        finally:
            close(third)
    finally:
        close(first)
        close(second)


def test_an_explicit_simulator_is_used(tmp_path: Path) -> None:
    sim = Simulator(seed=4, clock=VirtualClock())
    client = connect(simulator=sim, banner=False, cache_dir=tmp_path)
    try:
        assert simulator_of(client) is sim
        assert backend._shared is None  # the shared one was not even created
        client.submit("into my own simulator")
        assert sim.stats.tasks_created == 1
    finally:
        close(client)
        sim.close()


def test_options_reach_the_client(tmp_path: Path) -> None:
    poll = PollPolicy(initial=1.0, maximum=2.0, adaptive=False)
    client = connect(banner=False, timeout=5, max_retries=1, poll=poll, cache_dir=tmp_path)
    close(client)
    assert client.settings.timeout == 5
    assert client.settings.retry.max_retries == 1
    assert client.settings.poll == poll
    assert client.cache.root == tmp_path


def test_simulator_of_a_plain_client_is_none() -> None:
    client = luma_nb.Client(TOKEN, transport=NoNetwork())
    close(client)
    assert simulator_of(client) is None


def test_asynchronous_gives_an_async_client(tmp_path: Path) -> None:
    client = connect(asynchronous=True, banner=False, cache_dir=tmp_path)
    try:
        assert isinstance(client, luma_nb.AsyncClient)
        assert client.backend == "simulator"
        sim = simulator_of(client)
        assert sim is not None

        async def go() -> str:
            task = await client.submit("from the async client")
            return task.id

        task_id = asyncio.run(go())
        assert task_id in sim.tasks
    finally:
        close(client)


# -- a token: the real API (no request made) ------------------------------------------------


def test_token_argument_gives_the_api(capsys: pytest.CaptureFixture[str]) -> None:
    transport = NoNetwork()
    client = connect(TOKEN, transport=transport)
    close(client)
    assert isinstance(client, luma_nb.Client)
    assert client.backend == "api"
    assert client.base_url == DEFAULT_BASE_URL == "https://api.acedata.cloud"
    assert client.settings.token.reveal() == TOKEN
    assert simulator_of(client) is None
    assert client.settings.poll == PollPolicy()  # the official cadence, not the brisk one
    assert transport.requests == []
    assert backend._shared is None  # no simulator was made
    assert capsys.readouterr().err == ""  # no banner for the real thing
    assert TOKEN not in repr(client)


def test_token_from_the_environment_gives_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACEDATACLOUD_API_TOKEN", TOKEN)
    transport = NoNetwork()
    client = connect(transport=transport)
    close(client)
    assert client.backend == "api"
    assert client.base_url == DEFAULT_BASE_URL
    assert client.settings.token.reveal() == TOKEN
    assert transport.requests == []


def test_blank_token_in_the_environment_is_no_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACEDATACLOUD_API_TOKEN", "   ")
    client = connect(banner=False, cache_dir=tmp_path)
    close(client)
    assert client.backend == "simulator"
    assert simulator_of(client) is not None


def test_token_with_asynchronous_gives_an_async_api_client() -> None:
    client = connect(TOKEN, asynchronous=True, transport=NoNetwork())
    close(client)
    assert isinstance(client, luma_nb.AsyncClient)
    assert client.backend == "api"
    assert client.base_url == DEFAULT_BASE_URL


# -- forcing a backend ----------------------------------------------------------------------


def test_backend_simulator_wins_over_a_token(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    client = connect(TOKEN, backend="simulator", banner=False, cache_dir=tmp_path)
    close(client)
    assert client.backend == "simulator"
    assert simulator_of(client) is not None
    assert client.settings.token.reveal() != TOKEN  # the real token is not handed to it

    monkeypatch.setenv("ACEDATACLOUD_API_TOKEN", TOKEN)
    monkeypatch.setenv("LUMA_NB_BACKEND", "simulator")
    from_env = connect(banner=False, cache_dir=tmp_path)
    close(from_env)
    assert from_env.backend == "simulator"
    assert simulator_of(from_env) is simulator_of(client)


def test_backend_argument_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LUMA_NB_BACKEND", "simulator")
    client = connect(TOKEN, backend="api", transport=NoNetwork())
    close(client)
    assert client.backend == "api"


def test_forcing_the_api_without_a_token_is_a_config_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LUMA_NB_BACKEND", "api")
    with pytest.raises(ConfigError, match="ACEDATACLOUD_API_TOKEN"):
        connect(transport=NoNetwork())
    monkeypatch.delenv("LUMA_NB_BACKEND")
    with pytest.raises(ConfigError, match="token"):
        connect(backend="api", transport=NoNetwork())
    assert backend._shared is None


@pytest.mark.parametrize("value", ["cloud", "API", "sim", " "])
def test_bad_backend_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    with pytest.raises(ConfigError, match="backend"):
        connect(backend=value, banner=False)  # type: ignore[arg-type]
    monkeypatch.setenv("LUMA_NB_BACKEND", value)
    with pytest.raises(ConfigError, match="backend"):
        connect(banner=False)


# -- a simulator on loopback ----------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_loopback_base_url_without_token_is_a_loopback_simulator(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], host: str
) -> None:
    url = f"http://{host}:8123"
    monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", url)
    transport = NoNetwork()
    client = connect(transport=transport)
    close(client)
    assert isinstance(client, luma_nb.Client)
    assert client.backend == "simulator"
    assert client.base_url == url
    assert simulator_of(client) is None  # another process's simulator, not an in-process one
    assert backend._shared is None
    assert client.settings.poll == SIMULATOR_POLL
    assert url in capsys.readouterr().err
    assert transport.requests == []

    async_client = connect(asynchronous=True, banner=False, transport=NoNetwork())
    close(async_client)
    assert isinstance(async_client, luma_nb.AsyncClient)
    assert async_client.base_url == url


def test_loopback_base_url_with_a_token_keeps_the_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", "http://127.0.0.1:9000")
    client = connect(TOKEN, banner=False, transport=NoNetwork())
    close(client)
    assert client.base_url == "http://127.0.0.1:9000"
    assert client.backend == "simulator"
    assert client.settings.token.reveal() == TOKEN


def test_remote_base_url_with_a_token_is_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", "https://proxy.example.com")
    client = connect(TOKEN, transport=NoNetwork())
    close(client)
    assert (client.backend, client.base_url) == ("api", "https://proxy.example.com")


# -- the shared simulator's speed -------------------------------------------------------------


def test_sim_speed_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LUMA_NB_SIM_SPEED", "500")
    client = connect(banner=False, cache_dir=tmp_path)
    close(client)
    sim = simulator_of(client)
    assert sim is not None
    assert getattr(sim.clock, "speed", None) == 500


def test_default_sim_speed_is_60(tmp_path: Path) -> None:
    client = connect(banner=False, cache_dir=tmp_path)
    close(client)
    sim = simulator_of(client)
    assert sim is not None and getattr(sim.clock, "speed", None) == 60


@pytest.mark.parametrize("value", ["fast", "0", "-3", "nan", "inf", "1e999"])
def test_bad_sim_speed_is_a_config_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("LUMA_NB_SIM_SPEED", value)
    with pytest.raises(ConfigError, match="LUMA_NB_SIM_SPEED"):
        connect(banner=False)
    assert backend._shared is None


def test_forced_simulator_uses_a_loopback_simulator_when_the_base_url_points_at_one(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", "http://127.0.0.1:8123")
    client = connect(backend="simulator", banner=False, cache_dir=tmp_path)
    close(client)
    assert client.backend == "simulator"
    assert client.base_url == "http://127.0.0.1:8123"
    assert simulator_of(client) is None  # not the in-process one


def test_blank_token_argument_counts_as_none(tmp_path: Path) -> None:
    client = connect("   ", banner=False, cache_dir=tmp_path)
    close(client)
    assert client.backend == "simulator"


def test_the_connected_simulator_is_trusted_for_media_while_its_client_lives(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import gc

    from luma_nb._media_policy import fetch_refusal, is_simulator_url

    sim = Simulator(seed=4, clock=VirtualClock())
    sim.base_url, sim.media_base_url = "http://127.0.0.1:45601", "http://localhost:45601"
    served = connect(simulator=sim, banner=False, cache_dir=tmp_path)  # in-process, served
    monkeypatch.setenv("ACEDATACLOUD_API_BASE_URL", "http://127.0.0.1:45602")
    loopback = connect(backend="simulator", banner=False, cache_dir=tmp_path)  # by base URL
    try:
        for url in ("http://localhost:45601/media/a.mp4", "http://localhost:45602/media/a.mp4"):
            assert is_simulator_url(url) and fetch_refusal(url) is None
        assert fetch_refusal("http://localhost:45603/media/a.mp4") is not None  # not ours
        assert fetch_refusal("https://localhost:45601/media/a.mp4") is not None  # other scheme
    finally:
        close(served)
        close(loopback)
        sim.close()
    del served, loopback
    gc.collect()
    assert not is_simulator_url("http://localhost:45601/media/a.mp4")
    assert not is_simulator_url("http://localhost:45602/media/a.mp4")
