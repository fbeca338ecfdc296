"""``python -m luma_nb.simulator``: serve the simulator over HTTP until SIGINT or SIGTERM.

The first line of stdout is the API base URL (flushed at once), so a parent process can read it.
"""

from __future__ import annotations

import argparse
import secrets
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from ._clock import ScaledClock
from ._engine import Simulator
from ._faults import parse_faults
from ._ratelimit import parse_rate_limit
from ._response import ERRORS
from ._server import SimulatorServer, is_loopback
from ._sizes import parse_video_size
from ._variants import Variants

__all__ = ["main"]

_FAULTS_HELP = """\
fault plan, repeatable; comma-separated key=value items (';' separates plans):
  5xx=RATE[:BURST[:500/502/503]]  server errors (JSON 500 api_error, HTML 502, 503 busy)
  429=RATE[:BURST[:RETRY_AFTER]]  too_many_requests bursts with Retry-After
  drop=RATE                       close the connection before handling the request
  drop_after=RATE                 handle it (a submit creates its task), then close
  refuse=RATE                     close at once (over loopback this looks like a drop)
  slow=RATE[:SECONDS]             answer SECONDS real seconds late (default 2)
  malformed=RATE                  answer 200 with truncated JSON or an HTML page
  stuck=RATE                      the task stays processing forever
  fail=RATE[:CODE]                the task fails with CODE (default api_error)
  error=RATE:CODE                 answer the error CODE (its status and message), e.g.
                                  token_expired, token_mismatched, disabled, used_up
  on=videos+tasks+media           endpoints the request faults hit (default videos+tasks)
example: --faults "5xx=0.1:2,drop=0.05,slow=0.1:2,malformed=0.05,stuck=0.02,fail=0.1,429=0.05"
"""

_VARIANT_HELP = """\
answer shapes among those docs/api.md lists, repeatable; comma-separated key=value:
  error_success=BOOL     add "success": false to error envelopes (default false: the
                         provider's published errors carry only error and trace_id)
  error_string=BOOL      "error": "<message>", a bare string (default false)
  ack=SHAPE              async acknowledgement: task_id | trace (default, task_id and
                         trace_id) | success | data ({data: {task_id}}) | id
  ack_status=200|202     its HTTP status (default 200)
  success_trace_id=BOOL  trace_id in success bodies (default true)
  queued=SHAPE           a queued record's response: missing (default) | null | state
  running_state=WORD     the running state's word (default processing; e.g. dreaming)
  failed_state=WORD      a failed task's state (default failed; e.g. error, cancelled)
  top_level_state=BOOL   records also carry state at the top level (default false)
  batch_count=items|total  retrieve_batch count: items answered (default) or all tasks
example: --variant error_success=true,queued=null,ack=task_id
"""


_EPILOG = """\
example:
  $ python -m luma_nb.simulator --port 8123 --faults "5xx=0.1:2,429=0.05"
  http://127.0.0.1:8123
  $ curl -s -H "authorization: Bearer any" -H "content-type: application/json" \\
      -d '{"prompt": "a red fox", "async": true}' http://127.0.0.1:8123/luma/videos
  Point an SDK at it with ACEDATACLOUD_API_BASE_URL=http://127.0.0.1:8123.
"""


def _speed(text: str) -> float:
    if text.strip().lower() in ("realtime", "real", "1x"):
        return 1.0
    try:
        value = float(text.rstrip("xX"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"speed must be a number or 'realtime': {text!r}"
        ) from None
    if not value > 0:
        raise argparse.ArgumentTypeError("speed must be positive")
    return value


def _rate(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("a rate must be in [0, 1]")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m luma_nb.simulator",
        description=(
            "Serve a simulator of the Ace Data Cloud Luma API (POST /luma/videos, "
            "POST /luma/tasks, media downloads). Prints the base URL on the first line of "
            "stdout; point any client's base URL at it. Stop with Ctrl-C or SIGTERM."
        ),
        formatter_class=argparse.RawTextHelpFormatter,
        epilog=_EPILOG,
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: any free port)")
    parser.add_argument(
        "--seed",
        default=None,
        help="seed of ids, timelines and faults (default: random, printed on stderr; ids and "
        "media URLs of two runs must not collide in a client's media cache)",
    )
    parser.add_argument(
        "--speed",
        type=_speed,
        default=60.0,
        help="simulated seconds per real second, or 'realtime' (default 60)",
    )
    parser.add_argument("--faults", action="append", default=[], help=_FAULTS_HELP)
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        help="accept only this bearer token (repeatable; default: any non-empty token)",
    )
    parser.add_argument(
        "--credits",
        type=int,
        default=None,
        help="credit balance; each accepted submit costs one (default unlimited)",
    )
    parser.add_argument(
        "--rate-limit",
        default=None,
        help="N/S: at most N requests per S real seconds, per token and endpoint (then 429)",
    )
    parser.add_argument(
        "--task-failure-rate", type=_rate, default=0.0, help="chance a task fails (0-1)"
    )
    parser.add_argument(
        "--moderation-words",
        default="nsfw,gore",
        help="comma-separated words refused with 403 forbidden (default nsfw,gore)",
    )
    parser.add_argument("--media-host", default=None, help="host name used in media URLs")
    parser.add_argument("--variant", action="append", default=[], help=_VARIANT_HELP)
    parser.add_argument(
        "--token-error",
        action="append",
        default=[],
        metavar="TOKEN=CODE",
        help="answer requests with this token with an error CODE, repeatable, e.g.\n"
        "  old-token=token_expired  other-api=token_mismatched  off=disabled\n"
        f"codes: {', '.join(ERRORS)}",
    )
    parser.add_argument(
        "--video-size",
        default="compact",
        help="clip sizes: compact (default, ~83 kilopixels, fast), service (the real\n"
        "service's: 1360x752 text-only, 1552x656 with a keyframe or extend, for 16:9;\n"
        "~1 s a render) or WxH for every clip; reported sizes match the files",
    )
    parser.add_argument("--log", action="store_true", help="access log on stderr")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow binding a non-loopback address (requires --token: an open simulator\n"
        "on the network would let anyone use it)",
    )
    parser.add_argument(
        "--allow-remote-fetch",
        action="store_true",
        help="let callback_url and start/end_image_url reach non-loopback addresses\n"
        "(default: loopback only, so the simulator is no relay into your network)",
    )
    return parser


def _token_errors(items: Sequence[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        token, sep, code = item.rpartition("=")
        if not sep or not token or code not in ERRORS:
            raise ValueError(
                f"--token-error {item!r} must be TOKEN=CODE with CODE one of {', '.join(ERRORS)}"
            )
        out[token] = code
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not args.allow_remote and not is_loopback(args.host):
        parser.exit(
            2,
            f"error: --host {args.host} is not a loopback address; "
            "binding it exposes the simulator, pass --allow-remote to do so\n",
        )
    if args.allow_remote and not any(token.strip() for token in args.token or ()):
        parser.exit(
            2,
            "error: --allow-remote needs --token: a simulator reachable from the network must "
            "accept only the tokens you give it\n",
        )
    if args.token is not None and not all(token.strip() for token in args.token):
        parser.exit(2, "error: --token must not be empty\n")
    try:
        variants = Variants()
        for text in args.variant:
            variants = Variants.parse(text, variants)
        faults = [plan for text in args.faults for plan in parse_faults(text)]
        rate_limit = parse_rate_limit(args.rate_limit) if args.rate_limit else None
        raw_seed = args.seed if args.seed is not None else secrets.token_hex(4)
        seed: int | str = int(raw_seed) if raw_seed.lstrip("-").isdigit() else raw_seed
        simulator = Simulator(
            seed=seed,
            clock=ScaledClock(args.speed),
            accepted_tokens=args.token,
            moderation_words=[w for w in args.moderation_words.split(",") if w.strip()],
            credits=args.credits,
            rate_limit=rate_limit,
            task_failure_rate=args.task_failure_rate,
            faults=faults,
            allow_remote_fetch=args.allow_remote_fetch,
            variants=variants,
            token_errors=_token_errors(args.token_error),
            video_size=parse_video_size(args.video_size),
        )
    except ValueError as exc:
        parser.exit(2, f"error: {exc}\n")
    server = SimulatorServer(
        simulator,
        host=args.host,
        port=args.port,
        allow_remote=args.allow_remote,
        media_host=args.media_host,
        log=args.log,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            server.start()
        except OSError as exc:
            parser.exit(1, f"error: cannot bind {args.host}:{args.port}: {exc}\n")
        print(server.url, flush=True)
        print(
            f"luma simulator: api {server.url}, media {server.media_url}, speed {args.speed:g}x, "
            f"seed {raw_seed}"
            + (f", faults {';'.join(p.to_text() for p in faults)}" if faults else "")
            + (f", variants {variants.to_text()}" if variants.to_text() else "")
            + (", remote fetches allowed" if args.allow_remote_fetch else ""),
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.2):
            pass
    finally:
        server.stop()
        simulator.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0


if __name__ == "__main__":
    sys.exit(main())
