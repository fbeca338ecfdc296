"""The loopback face: the HTTP server in a thread, and the CLI as a subprocess."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from _simtools import AUTH, DONE, callback_receiver, make_sim

from luma_nb.simulator import ScaledClock, Simulator, SimulatorServer, serve
from luma_nb.simulator.__main__ import main

ROOT = Path(__file__).resolve().parents[1]


def test_server_serves_the_api_and_media_under_two_host_names() -> None:
    sim, clock = make_sim()
    with SimulatorServer(sim) as server, httpx.Client(base_url=server.url, timeout=10) as client:
        assert server.url == f"http://127.0.0.1:{server.port}"
        assert server.media_url == f"http://localhost:{server.port}"
        assert sim.base_url == server.url
        body = client.post("/luma/videos", headers=AUTH, json={"prompt": "a fox"}).json()
        assert body["state"] == "completed"  # sync hold, resolved on the virtual clock
        assert body["video_url"].startswith(server.media_url + "/media/luma/")
        whole = client.get(body["video_url"])  # no token to the media host
        assert whole.status_code == 200
        assert whole.headers["content-type"] == "video/mp4"
        part = client.get(body["video_url"], headers={"range": "bytes=0-99"})
        assert (part.status_code, part.content) == (206, whole.content[:100])
        assert part.headers["content-range"] == f"bytes 0-99/{len(whole.content)}"
        head = client.head(body["video_url"])
        assert head.headers["content-length"] == str(len(whole.content))
        record = client.post(
            "/luma/tasks", headers=AUTH, json={"action": "retrieve", "id": body["task_id"]}
        ).json()
        assert record["response"] == body
        missing = client.post("/nope", headers=AUTH, json={})
        assert (missing.status_code, missing.json()["error"]["code"]) == (404, "no_api")
        no_token = client.post("/luma/videos", json={"prompt": "x"})
        assert no_token.json()["error"]["code"] == "no_token"
    hosts = {(e.host.split(":")[0], e.authorized) for e in sim.journal}
    assert ("localhost", False) in hosts
    assert ("127.0.0.1", True) in hosts
    assert clock.now() > 0


def test_server_keeps_connections_alive_and_reads_chunked_bodies() -> None:
    sim, _ = make_sim()
    with SimulatorServer(sim) as server:
        with httpx.Client(base_url=server.url) as client:
            for _ in range(3):
                response = client.post(
                    "/luma/tasks", headers=AUTH, json={"action": "retrieve", "id": "x"}
                )
                assert response.status_code == 404
        # a chunked body, as curl -T or a generator body sends it
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as raw:
            payload = b'{"prompt": "chunked", "async": true}'
            raw.sendall(
                b"POST /luma/videos HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                + f"{len(payload):x}\r\n".encode()
                + payload
                + b"\r\n0\r\n\r\n"
            )
            answer = b""
            while chunk := raw.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200")
        assert b'"task_id"' in answer
    assert sim.stats.tasks_created == 1


def test_server_faults_drop_and_malformed() -> None:
    sim, _ = make_sim(faults="drop=1,on=videos; malformed=1,on=tasks")
    with serve(sim) as server, httpx.Client(base_url=server.url, timeout=5) as client:
        with pytest.raises(httpx.RemoteProtocolError):
            client.post("/luma/videos", headers=AUTH, json={"prompt": "x"})
        batch = {"action": "retrieve_batch", "ids": []}
        kinds = set()
        for _ in range(8):
            response = client.post("/luma/tasks", headers=AUTH, json=batch)
            assert response.status_code == 200
            kinds.add(response.headers["content-type"].split(";")[0])
            with pytest.raises(ValueError, match=r"."):
                response.json()
        assert kinds == {"text/html", "application/json"}
    refused, _ = make_sim(faults="refuse=1")
    with (
        serve(refused) as server,
        httpx.Client(base_url=server.url, timeout=5) as client,
        pytest.raises(httpx.TransportError),
    ):
        client.post("/luma/videos", headers=AUTH, json={"prompt": "x"})
    assert refused.stats.tasks_created == 0


def test_server_slow_answers_trip_a_real_read_timeout() -> None:
    sim = Simulator(clock=ScaledClock(60.0), faults="slow=1:0.6,on=tasks")
    with (
        serve(sim) as server,
        httpx.Client(base_url=server.url, timeout=0.15) as client,
        pytest.raises(httpx.ReadTimeout),
    ):
        client.post("/luma/tasks", headers=AUTH, json={"action": "retrieve", "id": "x"})


def test_server_refuses_non_loopback_hosts() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimulatorServer(Simulator(), host="0.0.0.0")
    with pytest.raises(SystemExit) as caught:
        main(["--host", "0.0.0.0"])
    assert caught.value.code == 2


def test_cli_rejects_bad_flags(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["--faults", "5xx=2"], ["--rate-limit", "fast"], ["--speed", "-1"]):
        with pytest.raises(SystemExit) as caught:
            main(argv)
        assert caught.value.code == 2
    assert "error" in capsys.readouterr().err


def test_cli_help_documents_the_fault_syntax(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for word in ("5xx=RATE", "drop_after", "slow=RATE", "stuck", "--allow-remote", "realtime"):
        assert word in out


def test_stop_is_idempotent_and_the_port_is_released() -> None:
    server = serve(Simulator(clock=make_sim()[1]))
    port = server.port
    server.stop()
    server.stop()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))


# -- the CLI as a subprocess ------------------------------------------------------------------


def _read_first_line(process: subprocess.Popen[str], timeout: float) -> str:
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.append(process.stdout.readline() if process.stdout else ""),
        daemon=True,
    )
    reader.start()
    reader.join(timeout)
    if not lines:
        raise AssertionError("the simulator printed no URL in time")
    return lines[0].strip()


@pytest.mark.slow
def test_cli_subprocess_end_to_end() -> None:
    av = pytest.importorskip("av")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [
        sys.executable,
        "-m",
        "luma_nb.simulator",
        "--port",
        "0",
        "--speed",
        "1000",
        "--seed",
        "3",
        "--token",
        "secret",
        "--credits",
        "3",
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = _read_first_line(process, 20)
        assert url.startswith("http://127.0.0.1:")
        auth = {"authorization": "Bearer secret"}
        with callback_receiver() as (hook, wait), httpx.Client(base_url=url, timeout=10) as client:
            wrong = client.post("/luma/videos", headers=AUTH, json={"prompt": "x"})
            assert (wrong.status_code, wrong.json()["error"]["code"]) == (401, "invalid_token")
            ack = client.post(
                "/luma/videos",
                headers=auth,
                json={"prompt": "a paper plane", "async": True, "callback_url": hook},
            )
            assert ack.status_code == 200
            task_id = ack.json()["task_id"]
            deadline = time.monotonic() + 15
            while True:
                record = client.post(
                    "/luma/tasks", headers=auth, json={"action": "retrieve", "id": task_id}
                ).json()
                state = (record.get("response") or {}).get("state")
                if state == "completed" or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert state == "completed"
            assert record["elapsed"] > 100  # simulated seconds, as the real service reports
            result = record["response"]
            (callback,) = wait(10)
            assert callback == result
            video_url = result["video_url"]
            assert video_url.startswith(url.replace("127.0.0.1", "localhost"))
            whole = httpx.get(video_url, timeout=10)  # a fresh client: no token at all
            assert whole.status_code == 200
            part = httpx.get(video_url, headers={"range": "bytes=32-1055"}, timeout=10)
            assert part.status_code == 206
            assert part.headers["content-range"] == f"bytes 32-1055/{len(whole.content)}"
            assert part.content == whole.content[32:1056]
            with av.open(io.BytesIO(whole.content)) as container:
                stream = container.streams.video[0]
                frames = sum(1 for _ in container.decode(stream))
                size = (stream.codec_context.width, stream.codec_context.height)
                duration = float(container.duration or 0) / 1_000_000
            assert size == (result["video_width"], result["video_height"])
            assert frames >= 50
            assert duration == pytest.approx(5.0, abs=0.3)
            # two credits left, then the balance is used up
            for _ in range(2):
                ok = client.post("/luma/videos", headers=auth, json={"prompt": "y", "async": True})
                assert ok.status_code == 200
            spent = client.post("/luma/videos", headers=auth, json={"prompt": "z", "async": True})
            assert (spent.status_code, spent.json()["error"]["code"]) == (403, "used_up")
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_cli_subprocess_variants_token_errors_and_sizes() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    command = [sys.executable, "-m", "luma_nb.simulator", "--speed", "5000", "--seed", "4"]
    command += ["--variant", "error_success=true", "--variant", "ack=task_id,queued=null"]
    command += ["--token-error", "old=token_expired", "--token-error", "elsewhere=token_mismatched"]
    command += ["--video-size", "96x64", "--allow-remote-fetch"]
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = _read_first_line(process, 20)
        with httpx.Client(base_url=url, timeout=10) as client:

            def post(token: str, body: dict[str, object]) -> httpx.Response:
                auth = {"authorization": f"Bearer {token}"}
                return client.post("/luma/videos", headers=auth, json=body)

            expired = post("old", {"prompt": "x"})
            assert expired.status_code == 401
            assert expired.json()["error"]["code"] == "token_expired"
            assert expired.json()["success"] is False  # error_success=true
            mismatched = post("elsewhere", {"prompt": "x"})
            assert (mismatched.status_code, mismatched.json()["error"]["code"]) == (
                400,
                "token_mismatched",
            )
            ack = post("good", {"prompt": "a lantern", "async": True})
            assert set(ack.json()) == {"task_id"}  # ack=task_id
            record = client.post(
                "/luma/tasks",
                headers={"authorization": "Bearer good"},
                json={"action": "retrieve", "id": ack.json()["task_id"]},
            ).json()
            assert record["id"] == ack.json()["task_id"]
            done = post("good", {"prompt": "a kite"})
            assert (done.json()["video_width"], done.json()["video_height"]) == (96, 64)
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


@pytest.mark.slow
def test_cli_subprocess_stops_on_sigint() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    process = subprocess.Popen(
        [sys.executable, "-m", "luma_nb.simulator", "--speed", "realtime", "--faults", "5xx=0.5"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        url = _read_first_line(process, 20)
        response = httpx.post(
            f"{url}/luma/tasks", headers=AUTH, json={"action": "retrieve", "id": "x"}, timeout=5
        )
        assert response.status_code in (404, 500, 502, 503)
        process.send_signal(signal.SIGINT)
        assert process.wait(10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
        if process.stdout is not None:
            process.stdout.close()


def test_done_constant_covers_the_longest_generation() -> None:
    assert DONE > 160
